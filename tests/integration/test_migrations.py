"""Migrations: a fresh database upgrades to head and back down; production refuses to serve
a database that is not at head."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from alembic import command

from infra.db import create_engine
from infra.migrate import (
    SchemaOutOfDate,
    alembic_config,
    current_revision,
    head_revision,
    require_current_schema,
    upgrade_async,
)


@pytest.fixture
async def empty_database(pg_server: tuple[str, Any]) -> AsyncIterator[str]:
    server_url, _ = pg_server
    name = "ledgerline_migrations_" + secrets.token_hex(4)
    plain = server_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    admin = await asyncpg.connect(plain)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    yield urlunsplit(urlsplit(server_url)._replace(path="/" + name))
    admin = await asyncpg.connect(plain)
    try:
        await admin.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await admin.close()


async def test_an_unmigrated_database_is_refused_until_migrated(empty_database: str) -> None:
    # given a database never migrated
    engine = create_engine(empty_database, pool_size=1, app_role=False)
    try:
        assert await current_revision(engine) is None
        # then serving it in production is refused, naming the command that fixes it
        with pytest.raises(SchemaOutOfDate, match="ledgerline migrate"):
            await require_current_schema(engine)
        # when it is migrated
        await upgrade_async(empty_database)
        # then it is at head and accepted, also by the role the application runs as
        assert await current_revision(engine) == head_revision()
        await require_current_schema(engine)
        app_engine = create_engine(empty_database, pool_size=1)
        try:
            await require_current_schema(app_engine)
        finally:
            await app_engine.dispose()
    finally:
        await engine.dispose()


async def test_migrations_go_down_to_nothing_and_up_again(empty_database: str) -> None:
    # given a migrated database
    await upgrade_async(empty_database)
    config = alembic_config(empty_database)
    # when it is downgraded to base and upgraded again
    await asyncio.to_thread(command.downgrade, config, "base")
    engine = create_engine(empty_database, pool_size=1, app_role=False)
    try:
        assert await current_revision(engine) is None
        await upgrade_async(empty_database)
        # then it is at head with its tables
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()
