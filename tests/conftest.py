"""Test fixtures against a real PostgreSQL.

`TEST_DATABASE_URL` names a server to use (a fresh database is created on it for the
session and dropped afterwards); without it, the embedded PostgreSQL is started in a
temporary directory. Migrations run once per session.

Isolation: every test works in tenants of its own (random account ids). Row-level
security and the repositories' tenant filter keep tests from seeing each other's rows,
which is the same isolation production relies on between merchants.
"""

from __future__ import annotations

import os
import secrets
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.client_secrets import hash_client_secret, new_client_secret
from auth.scopes import ALL_SCOPES
from domain.ids import new_id
from infra.app import create_app
from infra.database import asyncpg_url
from infra.db import ReadConnection, TenantConnection, create_engine
from infra.embedded_postgres import EmbeddedPostgres
from infra.migrate import upgrade_async
from infra.planned.verify import DIFFERENCES, VERIFYING
from infra.repositories.accounts import add_client, ensure_account
from infra.settings import Settings

TEST_SECRET_KEY = "test-secret-key-" + "x" * 32


@dataclass
class TestDatabase:
    __test__ = False
    url: str  # SQLAlchemy asyncpg URL of the session's database
    admin_dsn: str  # plain asyncpg DSN of the same database, as the owner (no RLS role)


def _plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[tuple[str, EmbeddedPostgres | None]]:
    """(server URL with a placeholder database, embedded server or None)."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield asyncpg_url(configured), None
        return
    with (
        _sigterm_interrupts(),
        tempfile.TemporaryDirectory(prefix="ledgerline-test-pg-") as tmp,
    ):
        os.chmod(tmp, 0o755)
        embedded = EmbeddedPostgres(Path(tmp))
        try:
            embedded.start()
            yield embedded.url("postgres"), embedded
        finally:
            embedded.stop()


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (`kill`, a CI job's timeout) ends Python without running fixture finalizers,
    which would leave the embedded PostgreSQL running. Raised as KeyboardInterrupt it unwinds as
    Ctrl-C does: pytest stops the session and tears its fixtures down. A second SIGTERM ends the
    run at once, as before."""
    previous = signal.getsignal(signal.SIGTERM)
    if previous is None:  # set outside Python; the default is the closest we can restore
        previous = signal.SIG_DFL

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, previous)
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
async def test_database(pg_server: tuple[str, Any]) -> AsyncIterator[TestDatabase]:
    server_url, _ = pg_server
    name = "ledgerline_test_" + secrets.token_hex(4)
    parts = urlsplit(server_url)
    url = urlunsplit(parts._replace(path="/" + name))
    admin = await asyncpg.connect(_plain_dsn(server_url))
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    await upgrade_async(url)
    yield TestDatabase(url=url, admin_dsn=_plain_dsn(url))
    admin = await asyncpg.connect(_plain_dsn(server_url))
    try:
        await admin.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def settings(test_database: TestDatabase, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=test_database.url,
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key=TEST_SECRET_KEY,
        environment="development",
        # Every query a test sends that a plan answers is answered by the executor too, and
        # must answer the same bytes (no_planned_answer_differed below).
        planned_reads_verify=True,
        # The limits run, far above what the suite sends: every test tenant's token names
        # the one client `test-client`. Tests of the limits make an app with small ones.
        rate_limit_account="100000000/minute",
        rate_limit_client="100000000/minute",
        token_failures_per_address="100000/minute",
        token_failures_per_client="100000/minute",
    )


@pytest.fixture(autouse=True)
def no_planned_answer_differed() -> Iterator[None]:
    """Fails a test whose queries were answered differently by a plan and by the executor,
    in the test or in the set-up of the fixtures it uses (a module's data, for instance)."""
    before = list(DIFFERENCES)
    DIFFERENCES.clear()
    assert not before, f"planned and executed answers differ in fixture set-up: {before}"
    yield
    differed = list(DIFFERENCES)
    DIFFERENCES.clear()
    assert not differed, f"planned and executed answers differ: {differed}"


@pytest.fixture(scope="session")
async def engine(test_database: TestDatabase) -> AsyncIterator[AsyncEngine]:
    """An engine as the application uses it (row-level security role)."""
    engine = create_engine(test_database.url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def app(settings: Settings, test_database: TestDatabase) -> AsyncIterator[Any]:
    application = create_app(settings, test_database.url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ledgerline.test") as c:
        yield c


@dataclass
class Tenant:
    """A fresh merchant account for one test, with ways to call the API as it."""

    id: str
    app: Any
    client: httpx.AsyncClient
    default_scopes: tuple[str, ...] = field(default=ALL_SCOPES)

    def token(self, scopes: tuple[str, ...] | list[str] | None = None) -> str:
        issued = self.app.state.issuer.issue(
            client_id="test-client",
            tenant_id=self.id,
            scopes=sorted(scopes if scopes is not None else self.default_scopes),
        )
        return issued.access_token

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        scopes: tuple[str, ...] | list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.token(scopes)}", **(headers or {})},
        )

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        scopes: tuple[str, ...] | list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The response body of a request expected to be answered with HTTP 200."""
        response = await self.post(query, variables, scopes=scopes, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def create_client(self, scopes: list[str]) -> tuple[str, str]:
        """An OAuth client of this tenant: (client_id, client_secret)."""
        client_id, secret = new_id("cli"), new_client_secret()
        async with self.app.state.engine.begin() as conn:
            await add_client(
                conn,
                client_id=client_id,
                tenant_id=self.id,
                name="test",
                secret_hash=hash_client_secret(secret),
                scopes=scopes,
            )
        return client_id, secret


async def make_tenant(app: Any, client: httpx.AsyncClient) -> Tenant:
    tenant_id = "t-" + secrets.token_hex(6)
    async with app.state.engine.begin() as conn:
        await ensure_account(conn, tenant_id, f"Test merchant {tenant_id}")
    return Tenant(id=tenant_id, app=app, client=client)


@pytest.fixture
async def tenant(app: Any, client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(app, client)


@pytest.fixture
async def other_tenant(app: Any, client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(app, client)


class StatementCounter:
    """Counts the SQL statements a request sends while active: those through SQLAlchemy,
    and those the planned path sends to the driver directly (`fetch`, `fetchval` of a
    read-only or tenant transaction). BEGIN and COMMIT are not counted."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.statements: list[str] = []
        self._active = False
        self._patch = pytest.MonkeyPatch()

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The executor's second answer to a planned query (PLANNED_READS_VERIFY) is the
        # differential check's cost, not the request's.
        if self._active and not VERIFYING.get():
            self.statements.append(statement)

    def _on_driver(self, method: Any) -> Any:
        async def counted(connection: Any, sql: str, *args: Any) -> Any:
            self._record(None, None, sql)
            return await method(connection, sql, *args)

        return counted

    def __enter__(self) -> StatementCounter:
        self.statements.clear()
        self._active = True
        event.listen(self._engine.sync_engine, "before_cursor_execute", self._record)
        for owner in (ReadConnection, TenantConnection):
            for name in ("fetch", "fetchval"):
                self._patch.setattr(owner, name, self._on_driver(getattr(owner, name)))
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._active = False
        event.remove(self._engine.sync_engine, "before_cursor_execute", self._record)
        self._patch.undo()

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(app: Any) -> StatementCounter:
    return StatementCounter(app.state.engine)


@pytest.fixture
async def admin(test_database: TestDatabase) -> AsyncIterator[asyncpg.Connection]:
    """The database as its owner (no row-level security), to check state independently."""
    conn = await asyncpg.connect(test_database.admin_dsn)
    try:
        yield conn
    finally:
        await conn.close()
