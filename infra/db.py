"""Engine, per-tenant transactions and the connection a request works on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
import orjson
from sqlalchemy import event, exc, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncTransaction,
    create_async_engine,
)
from sqlalchemy.sql import Executable

from infra import jsoncodec
from infra.db_errors import DatabaseUnavailable, is_database_unavailable, is_server_reported

T = TypeVar("T")
_log = logging.getLogger("ledgerline.db")

APP_ROLE = "ledgerline_app"


# Scoped to the transaction (is_local = true): a pooled connection never carries a tenant
# or a timeout on to the next request. The role is set again here (SET LOCAL ROLE), so a
# connection whose session role was reset (RESET ROLE, DISCARD ALL, a pooler) still runs
# every tenant transaction under row-level security.
# Plans are made for the tenant at hand (plan_cache_mode): a prepared statement's generic
# plan cannot tell a tenant of 1,000 rows from one of 200,000, and once a large tenant has
# made it a sequential scan, every tenant on that connection would get it (measured: 130 ms
# for a count over 1,000 customers, 1 ms with a plan of its own). Planning costs ~0.1 ms.
def _tenant_settings(tenant_id: str, timeout: str) -> str:
    """The statement that scopes a transaction; its two values as SQL (parameters or
    literals)."""
    return (
        f"select set_config('app.tenant_id', {tenant_id}, true),"
        f" set_config('statement_timeout', {timeout}, true),"
        " set_config('plan_cache_mode', 'force_custom_plan', true),"
        f" set_config('role', '{APP_ROLE}', true)"
    )


_SET_TENANT = text(_tenant_settings(":tenant_id", ":timeout"))
STATEMENT_TIMEOUT_SECONDS = 15.0


def _timeout(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def _json_dumps(value: Any) -> str:
    return jsoncodec.dumps(value).decode()


def create_engine(
    url: str, *, pool_size: int = 20, pool_timeout: float = 5.0, app_role: bool = True
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

    @event.listens_for(engine.sync_engine, "checkout")
    def _refuse_unknown_state(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # A connection is handed out only idle and outside any transaction. Both are the
        # driver's own view of the last ReadyForQuery, so the check costs no round trip; a
        # connection that fails it is closed and the pool hands out another.
        driver = dbapi_connection.driver_connection
        if driver.is_closed() or driver.is_in_transaction():
            raise exc.DisconnectionError("pooled connection in an unknown state")

    return engine


class RequestEnded(RuntimeError):
    """A statement was attempted after its request's transaction had ended."""


class TenantConnection:
    """One connection inside one transaction scoped to one tenant.

    Statements are serialised: loaders of one request may dispatch in the same tick, and a
    PostgreSQL connection runs one statement at a time. A statement once sent runs to its
    end even when the resolver that wanted it is cancelled (graphql-core cancels sibling
    fields when a non-null field fails): cutting asyncpg off mid-protocol leaves a
    connection that only closing repairs. The statement timeout bounds that wait.
    """

    def __init__(self, conn: AsyncConnection, tenant_id: str) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self._lock = asyncio.Lock()
        self._open = True
        # Set by an error after which the connection's state is not known (a lost
        # connection, an interrupted statement): it is closed, never reused.
        self.in_doubt = False

    async def execute(self, statement: Executable, params: Any = None) -> CursorResult[Any]:
        return await self._run(lambda: self.conn.execute(statement, params))

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        """A statement sent to the driver directly (planned reads), in turn with the rest."""

        async def on_driver() -> list[Any]:
            raw = await self.conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None  # None only once detached or invalidated
            return list(await driver.fetch(sql, *args))

        return await self._run(on_driver)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        rows = await self.fetch(sql, *args)
        return rows[0][0] if rows else None

    async def begin_savepoint(self) -> AsyncTransaction:
        if self.conn.invalidated:
            # The driver lost the connection under an earlier statement of this request
            # (a terminated backend): nothing more can run on it, and the request rolls back.
            raise DatabaseUnavailable("the connection was lost earlier in this request")
        return await self._run(self.conn.begin_nested)

    async def end_savepoint(self, savepoint: AsyncTransaction, *, commit: bool) -> None:
        if savepoint.is_active:
            await self._run(savepoint.commit if commit else savepoint.rollback)

    async def _run(self, operation: Callable[[], Awaitable[T]]) -> T:
        task = asyncio.ensure_future(self._serialised(operation))
        # Retrieved here, so an abandoned statement's error is not reported as unhandled.
        task.add_done_callback(_retrieve_exception)
        return await asyncio.shield(task)

    async def _serialised(self, operation: Callable[[], Awaitable[T]]) -> T:
        async with self._lock:
            if not self._open:
                raise RequestEnded("the request's transaction has ended")
            try:
                return await operation()
            except BaseException as error:
                if not is_server_reported(error):
                    self.in_doubt = True
                raise

    async def close(self, timeout: float) -> None:
        """Refuses further statements and waits for the one in flight, if any."""
        self._open = False
        try:
            await asyncio.wait_for(self._lock.acquire(), timeout)
        except TimeoutError:
            self.in_doubt = True
            return
        self._lock.release()


def _retrieve_exception(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


@asynccontextmanager
async def tenant_transaction(
    engine: AsyncEngine,
    tenant_id: str,
    *,
    statement_timeout: float = STATEMENT_TIMEOUT_SECONDS,
    lock_timeout: float | None = None,
) -> AsyncIterator[TenantConnection]:
    """A transaction in which row-level security shows only `tenant_id`'s rows.

    Commits when the block ends normally, rolls back when it raises. Either way no statement
    is in flight when the transaction ends, and a connection whose state is in doubt is
    closed instead of going back to the pool. Failing to reach the database, or losing it,
    raises `DatabaseUnavailable`.
    """
    conn = await _connect(engine)
    try:
        transaction = await conn.begin()
        await conn.execute(
            _SET_TENANT, {"tenant_id": tenant_id, "timeout": _timeout(statement_timeout)}
        )
        if lock_timeout is not None:
            await conn.execute(
                text("select set_config('lock_timeout', :timeout, true)"),
                {"timeout": _timeout(lock_timeout)},
            )
    except BaseException as error:
        await _discard(conn)
        if isinstance(error, Exception) and _lost_while_opening(error):
            raise DatabaseUnavailable("could not open a transaction") from error
        raise
    db = TenantConnection(conn, tenant_id)
    # Past the statement timeout a statement still running is one the server never ended.
    settle_timeout = statement_timeout + 5
    try:
        yield db
    except BaseException:
        await _end(conn, transaction, db, commit=False, timeout=settle_timeout)
        raise
    await _end(conn, transaction, db, commit=True, timeout=settle_timeout)


async def _connect(engine: AsyncEngine) -> AsyncConnection:
    try:
        return await engine.connect()
    except Exception as error:
        if _lost_while_opening(error):
            raise DatabaseUnavailable("no database connection") from error
        raise


def _lost_while_opening(error: Exception) -> bool:
    """A connection that fails while it is being opened or set up, other than by an error
    PostgreSQL reported for a statement, is one the database could not give: a backend
    terminated just after it started leaves asyncpg in a state error with no SQLSTATE
    ("cannot switch to state 12; another operation is in progress")."""
    if is_database_unavailable(error):
        return True
    driver_errors = (exc.DBAPIError, asyncpg.InterfaceError, asyncpg.InternalClientError)
    return isinstance(error, driver_errors) and not is_server_reported(error)


async def _end(
    conn: AsyncConnection,
    transaction: AsyncTransaction,
    db: TenantConnection,
    *,
    commit: bool,
    timeout: float,
) -> None:
    try:
        await db.close(timeout)
        if db.in_doubt or conn.invalidated or not transaction.is_active:
            await _discard(conn)
            if commit:
                raise DatabaseUnavailable("the connection was lost before the commit")
            return
        if commit:
            await transaction.commit()
        else:
            await transaction.rollback()
    except BaseException as error:
        # A commit or rollback that did not complete leaves the connection in doubt (and a
        # commit's outcome unknown: an Idempotency-Key retry tells the caller which).
        await _discard(conn)
        if isinstance(error, Exception) and is_database_unavailable(error):
            raise DatabaseUnavailable("the transaction could not end") from error
        raise
    try:
        await conn.close()
    except Exception:  # the transaction ended as asked; only the connection is lost
        await _discard(conn)


async def _discard(conn: AsyncConnection) -> None:
    """Closes the driver connection (the server rolls back what was open) and frees the
    pool's slot; the pool opens a fresh connection when one is next needed."""
    try:
        if not conn.closed and not conn.invalidated:
            await conn.invalidate()
        if not conn.closed:
            await conn.close()
    except Exception:
        _log.warning("closing a connection in doubt failed", exc_info=True)


class ReadConnection:
    """The driver (asyncpg) connection of a read-only tenant transaction, for planned reads:
    statements go to the driver directly, with none of the SQLAlchemy layer's work."""

    def __init__(self, driver: Any, tenant_id: str) -> None:
        self._driver = driver
        self.tenant_id = tenant_id

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return list(await self._driver.fetch(sql, *args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._driver.fetchval(sql, *args)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@asynccontextmanager
async def read_transaction(
    engine: AsyncEngine, tenant_id: str, *, statement_timeout: float = STATEMENT_TIMEOUT_SECONDS
) -> AsyncIterator[ReadConnection]:
    """A read-only request's tenant transaction in three round trips: BEGIN with the tenant,
    the timeout and the role in one message, the statements, COMMIT. The guarantees are
    tenant_transaction's: its statements run one after another in the caller's task, and
    whatever interrupts them (an error, a cancellation) closes the connection rather than
    pooling it in an unknown state."""
    conn = await _connect(engine)
    try:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None  # None only once detached or invalidated
        # One simple-protocol message (no parameters there): the tenant is an account id,
        # checked against its format when the token was, and quoted all the same.
        settings = _tenant_settings(_literal(tenant_id), _literal(_timeout(statement_timeout)))
        await driver.execute("begin; " + settings)
        yield ReadConnection(driver, tenant_id)
        await driver.execute("commit")
    except BaseException as error:
        await _discard(conn)
        if isinstance(error, Exception) and _lost_while_opening(error):
            raise DatabaseUnavailable("the read transaction failed") from error
        raise
    try:
        await conn.close()
    except Exception:
        await _discard(conn)
