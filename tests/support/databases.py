"""A database of its own, beside the session's test database, for tests that start a real
server in development (which seeds, or lets the README's commands make, the `demo` account:
the session's database must not get it, the seed tests create it themselves)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from infra.migrate import upgrade_async
from tests import conftest


@asynccontextmanager
async def fresh_database(beside: conftest.TestDatabase) -> AsyncIterator[conftest.TestDatabase]:
    """A new, migrated database on the same server; dropped afterwards."""
    name = "ledgerline_own_" + secrets.token_hex(4)
    url = urlunsplit(urlsplit(beside.url)._replace(path="/" + name))
    admin_dsn = urlunsplit(urlsplit(beside.admin_dsn)._replace(path="/" + name))
    admin = await asyncpg.connect(beside.admin_dsn)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    try:
        await upgrade_async(url)
        yield conftest.TestDatabase(url=url, admin_dsn=admin_dsn)
    finally:
        admin = await asyncpg.connect(beside.admin_dsn)
        try:
            await admin.execute(f'drop database if exists "{name}" with (force)')
        finally:
            await admin.close()
