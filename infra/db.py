"""Engine, per-tenant transactions and the connection a request works on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncTransaction,
    create_async_engine,
)
from sqlalchemy.sql import Executable

from infra import jsoncodec

APP_ROLE = "ledgerline_app"
# Scoped to the transaction (is_local = true): a pooled connection never carries a tenant
# or a timeout on to the next request. The role is set again here (SET LOCAL ROLE), so a
# connection whose session role was reset (RESET ROLE, DISCARD ALL, a pooler) still runs
# every tenant transaction under row-level security.
_SET_TENANT = text(
    "select set_config('app.tenant_id', :tenant_id, true),"
    " set_config('statement_timeout', :timeout, true),"
    f" set_config('role', '{APP_ROLE}', true)"
)
STATEMENT_TIMEOUT_SECONDS = 15.0


def _json_dumps(value: Any) -> str:
    return jsoncodec.dumps(value).decode()


def create_engine(
    url: str, *, pool_size: int = 10, pool_timeout: float = 5.0, app_role: bool = True
) -> AsyncEngine:
    """The application's engine. Each connection drops to the role row-level security binds.

    `pool_timeout`: how long a caller waits for a free connection; past it the pool raises
    and the request answers 503 rather than queueing behind slow requests.
    """
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=pool_timeout,
        pool_pre_ping=False,
        # SQL parameters carry customers' personal data: keep them out of errors and logs.
        hide_parameters=True,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )
    if app_role:

        @event.listens_for(engine.sync_engine, "connect")
        def _drop_privileges(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"SET ROLE {APP_ROLE}")
            cursor.close()
            # The adapter ran SET ROLE in a transaction of its own: without this commit, a
            # rollback on the connection's first use would restore the login role and, with
            # it, a role that bypasses row-level security.
            dbapi_connection.commit()

    return engine


class TenantConnection:
    """One connection inside one transaction scoped to one tenant.

    Statements are serialised: loaders of one request may dispatch in the same tick, and a
    PostgreSQL connection runs one statement at a time.
    """

    def __init__(self, conn: AsyncConnection, tenant_id: str) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self._lock = asyncio.Lock()

    async def execute(self, statement: Executable, params: Any = None) -> CursorResult[Any]:
        async with self._lock:
            return await self.conn.execute(statement, params)

    async def begin_savepoint(self) -> AsyncTransaction:
        async with self._lock:
            return await self.conn.begin_nested()

    async def end_savepoint(self, savepoint: AsyncTransaction, *, commit: bool) -> None:
        if not savepoint.is_active:
            return
        async with self._lock:
            if commit:
                await savepoint.commit()
            else:
                await savepoint.rollback()


@asynccontextmanager
async def tenant_transaction(
    engine: AsyncEngine, tenant_id: str, *, statement_timeout: float = STATEMENT_TIMEOUT_SECONDS
) -> AsyncIterator[TenantConnection]:
    """A transaction in which row-level security shows only `tenant_id`'s rows.

    Commits when the block ends normally, rolls back when it raises.
    """
    async with engine.connect() as conn:
        async with conn.begin():
            timeout = f"{round(statement_timeout * 1000)}ms"
            await conn.execute(_SET_TENANT, {"tenant_id": tenant_id, "timeout": timeout})
            yield TenantConnection(conn, tenant_id)
