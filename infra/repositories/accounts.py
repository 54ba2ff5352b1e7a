"""Accounts (tenants) and their OAuth clients. Not row-level secured: the token endpoint
looks a client up before any tenant is known."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.accounts import Account, check_account_id
from infra.tables import accounts, oauth_clients


@dataclass(frozen=True, slots=True)
class OAuthClient:
    id: str
    tenant_id: str
    name: str
    secret_hash: str
    scopes: tuple[str, ...]
    revoked: bool


def _account(row: Any) -> Account:
    return Account(id=row.id, name=row.name, created_at=row.created_at)


async def ensure_account(conn: AsyncConnection, account_id: str, name: str) -> Account:
    """The account `account_id`, created if new; InvalidAccountId for an id no token could name."""
    check_account_id(account_id)
    await conn.execute(
        pg_insert(accounts).values(id=account_id, name=name).on_conflict_do_nothing()
    )
    row = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).one()
    return _account(row)


class SqlAccountReads:
    """The read path's accounts (domain.ports.AccountReads)."""

    def __init__(self, db: Any) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[Account | None]:
        statement = select(accounts).where(accounts.c.id.in_(list(ids)))
        found = {row.id: _account(row) for row in await self._db.execute(statement)}
        return [found.get(account_id) for account_id in ids]


async def account_exists(conn: Any, account_id: str) -> bool:
    statement = select(accounts.c.id).where(accounts.c.id == account_id)
    return (await conn.execute(statement)).first() is not None


async def all_account_ids(conn: AsyncConnection) -> list[str]:
    return list((await conn.execute(select(accounts.c.id).order_by(accounts.c.id))).scalars())


async def add_client(
    conn: AsyncConnection,
    *,
    client_id: str,
    tenant_id: str,
    name: str,
    secret_hash: str,
    scopes: list[str],
) -> None:
    await conn.execute(
        insert(oauth_clients).values(
            id=client_id, tenant_id=tenant_id, name=name, secret_hash=secret_hash, scopes=scopes
        )
    )


async def find_client(conn: AsyncConnection, client_id: str) -> OAuthClient | None:
    row = (await conn.execute(select(oauth_clients).where(oauth_clients.c.id == client_id))).first()
    if row is None:
        return None
    return OAuthClient(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        secret_hash=row.secret_hash,
        scopes=tuple(row.scopes),
        revoked=row.revoked_at is not None,
    )
