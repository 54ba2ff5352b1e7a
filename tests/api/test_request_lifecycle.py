"""A request's lifecycle: its work ends before its transaction does, a connection in doubt
never goes back to the pool, and every failure of the database or of our code answers as
the API's JSON error (503 DATABASE_UNAVAILABLE with Retry-After, or 500 with an errorId).

The real PostgreSQL and the real ASGI app; the chaos suite (tests/chaos/) does the same to
the real server over TCP, under load.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from infra import idempotency
from infra.app import create_app
from infra.db import create_engine, tenant_transaction
from infra.http.health import Readiness
from infra.request_tasks import settled_tasks
from infra.settings import Settings
from tests.conftest import Tenant, make_tenant

MIXED_SCOPES = "{ customers(first: 5) { totalCount } plans(first: 5) { totalCount } }"
CUSTOMERS = "{ customers(first: 5) { totalCount edges { node { id } } } }"
CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code } }
}
"""


@asynccontextmanager
async def app_with(settings: Settings, **overrides: Any) -> AsyncIterator[Any]:
    """An app of its own (own engine and pool) with some settings changed."""
    changed = settings.model_copy(update=overrides)
    assert changed.database_url is not None
    application = create_app(changed, changed.database_url)
    async with application.router.lifespan_context(application):
        yield application


@asynccontextmanager
async def tenant_of(application: Any) -> AsyncIterator[Tenant]:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://ledgerline.test") as c:
        yield await make_tenant(application, c)


def count_invalidations(engine: AsyncEngine) -> list[Any]:
    invalidated: list[Any] = []
    event.listen(engine.sync_engine, "invalidate", lambda *args: invalidated.append(args))
    return invalidated


def assert_api_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == code
    return str(error["extensions"].get("errorId"))


async def idle_in_transaction(admin: asyncpg.Connection) -> int:
    return int(
        await admin.fetchval(
            "select count(*) from pg_stat_activity where datname = current_database()"
            " and state like 'idle in transaction%' and pid <> pg_backend_pid()"
        )
    )


@asynccontextmanager
async def customers_locked(admin_dsn: str) -> AsyncIterator[None]:
    """Every statement that reads customers waits while this block runs."""
    holder = await asyncpg.connect(admin_dsn)
    try:
        async with holder.transaction():
            await holder.execute("lock table customers in access exclusive mode")
            yield
    finally:
        await holder.close()


async def test_a_forbidden_sibling_field_answers_200_and_interrupts_no_statement(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a token that may read customers but not plans
    invalidated = count_invalidations(tenant.app.state.engine)
    # when a dashboard asks for both, many times
    responses = [await tenant.post(MIXED_SCOPES, scopes=["customers:read"]) for _ in range(50)]
    # then each answer is the customers and a FORBIDDEN for plans (non-null: data is null)
    for response in responses:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        assert body["errors"][0]["path"] == ["plans"]
    # and no connection had to be thrown away, none is left in a transaction
    assert invalidated == []
    assert await idle_in_transaction(admin) == 0
    normal = [await tenant.post(CUSTOMERS, scopes=["customers:read"]) for _ in range(20)]
    assert all(r.status_code == 200 and "errors" not in r.json() for r in normal)


async def test_a_cancelled_statement_still_completes_before_its_transaction_commits(
    tenant: Tenant, admin: asyncpg.Connection, test_database: Any
) -> None:
    # given one pooled connection, so its backend is visibly reused
    engine = create_engine(test_database.url, pool_size=1)
    invalidated = count_invalidations(engine)
    try:
        async with tenant_transaction(engine, tenant.id) as db:
            before = (await db.execute(text("select pg_backend_pid()"))).scalar_one()
            # when the resolver that sent a slow write is cancelled mid-statement
            write = asyncio.ensure_future(
                db.execute(
                    text(
                        "insert into accounts (id, name) "
                        "select :id, 'written late' from pg_sleep(0.3)"
                    ),
                    {"id": tenant.id + "-late"},
                )
            )
            await asyncio.sleep(0.05)
            write.cancel()
        # then the statement ran to its end and the transaction committed it
        assert await admin.fetchval("select name from accounts where id = $1", tenant.id + "-late")
        async with tenant_transaction(engine, tenant.id) as db:
            after = (await db.execute(text("select pg_backend_pid()"))).scalar_one()
        # on the same, healthy connection
        assert after == before
        assert invalidated == []
    finally:
        await engine.dispose()


async def test_no_statement_starts_after_the_transaction_ended(
    tenant: Tenant, engine: AsyncEngine
) -> None:
    async with tenant_transaction(engine, tenant.id) as db:
        pass
    with pytest.raises(RuntimeError, match="ended"):
        await db.execute(text("select 1"))


async def test_tasks_a_request_started_end_before_it_does() -> None:
    finished: list[str] = []

    async def child() -> None:
        await asyncio.sleep(0.05)
        finished.append("child")

    async def parent() -> None:
        asyncio.ensure_future(child())  # a task nobody awaits, as loaders make
        await asyncio.sleep(0.02)
        finished.append("parent")

    async def stuck() -> None:
        await asyncio.sleep(60)

    # when a request's block returns while its tasks still run
    async with settled_tasks(grace=1.0):
        asyncio.ensure_future(parent())
    # then they were awaited, their own tasks too
    assert sorted(finished) == ["child", "parent"]
    # and one that would outlive the grace is cancelled
    started = time.monotonic()
    async with settled_tasks(grace=0.1):
        task = asyncio.ensure_future(stuck())
    assert task.cancelled()
    assert time.monotonic() - started < 2


async def test_a_connection_left_in_a_transaction_is_never_handed_out(
    test_database: Any,
) -> None:
    # given a pooled connection returned with the server still in a transaction that
    # SQLAlchemy does not know about
    engine = create_engine(test_database.url, pool_size=1)
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            poisoned_pid = driver.get_server_pid()
            await driver.execute("begin")
        # when the pool hands out a connection
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            # then it is a fresh one, outside any transaction
            assert driver.get_server_pid() != poisoned_pid
            assert not driver.is_in_transaction()
            assert (await conn.execute(text("select 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_a_pool_without_a_free_connection_answers_503_soon(
    settings: Settings, caplog: Any
) -> None:
    # given a pool of one connection (two on bursts), both held by slow work
    async with app_with(settings, database_pool_size=1, database_pool_timeout=0.5) as app:
        async with tenant_of(app) as tenant:
            held = [await app.state.engine.connect() for _ in range(2)]
            try:
                # when a request needs a connection
                started = time.monotonic()
                response = await tenant.post(CUSTOMERS)
                waited = time.monotonic() - started
            finally:
                for conn in held:
                    await conn.close()
            # then it is told to retry, soon, in JSON
            error_id = assert_api_error(response, 503, "DATABASE_UNAVAILABLE")
            assert response.headers["retry-after"].isdigit()
            assert waited < 3
            assert error_id in caplog.text
            # and once connections are free again, requests succeed
            assert (await tenant.post(CUSTOMERS)).status_code == 200


async def test_a_statement_timeout_answers_503_and_leaves_no_transaction_open(
    settings: Settings, test_database: Any, admin: asyncpg.Connection
) -> None:
    async with app_with(settings, statement_timeout=0.3) as app:
        async with tenant_of(app) as tenant:
            # given a table locked by someone else for longer than the statement timeout
            async with customers_locked(test_database.admin_dsn):
                # when a dashboard lists customers, and a partner creates one
                read = await tenant.post(CUSTOMERS)
                write = await tenant.post(
                    CREATE_CUSTOMER,
                    {"input": {"name": "Timed out", "currency": "EUR"}},
                    headers={"Idempotency-Key": "timeout-1"},
                )
            # then both are told to retry, and nothing was written or remembered
            assert_api_error(read, 503, "DATABASE_UNAVAILABLE")
            assert_api_error(write, 503, "DATABASE_UNAVAILABLE")
            assert (
                await admin.fetchval(
                    "select count(*) from customers where tenant_id = $1", tenant.id
                )
                == 0
            )
            # and the retry with the same key creates the customer once
            retried = await tenant.gql(
                CREATE_CUSTOMER,
                {"input": {"name": "Timed out", "currency": "EUR"}},
                headers={"Idempotency-Key": "timeout-1"},
            )
            assert retried["data"]["createCustomer"]["customer"]["id"]
            assert (
                await admin.fetchval(
                    "select count(*) from customers where tenant_id = $1", tenant.id
                )
                == 1
            )
            assert await idle_in_transaction(admin) == 0


async def test_a_terminated_backend_costs_only_the_request_it_served(
    settings: Settings, test_database: Any, admin: asyncpg.Connection
) -> None:
    async with app_with(settings) as app:
        async with tenant_of(app) as tenant:
            async with customers_locked(test_database.admin_dsn):
                # given a request waiting on the database
                pending = asyncio.ensure_future(tenant.post(CUSTOMERS))
                victims: list[int] = []
                for _ in range(50):
                    await asyncio.sleep(0.05)
                    victims = await admin.fetch(
                        "select pid from pg_stat_activity where datname = current_database()"
                        " and wait_event_type = 'Lock' and query ilike '%customers%'"
                    )
                    if victims:
                        break
                assert victims
                # when an operator terminates its backend
                for victim in victims:
                    await admin.execute("select pg_terminate_backend($1)", victim["pid"])
                response = await pending
            # then that request is told to retry, in JSON
            assert_api_error(response, 503, "DATABASE_UNAVAILABLE")
            # and the next requests succeed
            for _ in range(10):
                assert (await tenant.post(CUSTOMERS)).status_code == 200


async def test_an_unreachable_database_answers_503(tenant: Tenant, caplog: Any) -> None:
    # given the endpoint's engine pointed at a port where nothing listens
    endpoint = tenant.app.state.graphql
    unreachable = create_engine("postgresql+asyncpg://postgres@127.0.0.1:9/none", pool_size=1)
    real, endpoint.engine = endpoint.engine, unreachable
    try:
        response = await tenant.post(CUSTOMERS)
    finally:
        endpoint.engine = real
        await unreachable.dispose()
    error_id = assert_api_error(response, 503, "DATABASE_UNAVAILABLE")
    assert response.headers["retry-after"] == "2"
    assert error_id in caplog.text


async def test_an_error_after_execution_rolls_back_and_answers_500_with_an_error_id(
    tenant: Tenant, admin: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    # given storing the idempotent response fails (a bug)
    async def broken(*_args: Any) -> None:
        raise RuntimeError("storage broke")

    monkeypatch.setattr(idempotency, "remember", broken)
    # when a mutation is sent with a key
    response = await tenant.post(
        CREATE_CUSTOMER,
        {"input": {"name": "Rolled back", "currency": "EUR"}},
        headers={"Idempotency-Key": "bug-1"},
    )
    # then the answer is JSON with an id the log carries, and nothing was written
    error_id = assert_api_error(response, 500, "INTERNAL_SERVER_ERROR")
    assert "storage broke" not in response.text
    assert error_id in caplog.text
    assert (
        await admin.fetchval("select count(*) from customers where tenant_id = $1", tenant.id) == 0
    )


async def test_an_exception_escaping_any_route_answers_json(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    async def broken(_self: Any, _request: Any) -> Any:
        raise RuntimeError("readiness broke")

    monkeypatch.setattr(Readiness, "__call__", broken)
    response = await client.get("/readyz")
    error_id = assert_api_error(response, 500, "INTERNAL_SERVER_ERROR")
    assert error_id in caplog.text
    # the same client (and connection) goes on being served
    assert (await client.get("/healthz")).status_code == 200


async def test_a_client_that_hangs_up_while_sending_its_body_gets_no_server_error(
    app: Any, tenant: Tenant, caplog: Any
) -> None:
    # given a request whose body stops half way: the client went away
    messages = [
        {"type": "http.request", "body": b'{"query": "{ cust', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"ledgerline.test"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {tenant.token()}".encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("ledgerline.test", 80),
        "state": {},
    }
    # when
    await app(scope, receive, send)
    # then an answer (that nobody reads) and no server error
    assert sent[0]["status"] == 400
    assert "unexpected error" not in caplog.text


async def test_unknown_paths_and_methods_answer_json(client: httpx.AsyncClient) -> None:
    assert_api_error(await client.get("/nowhere"), 404, "NOT_FOUND")
    response = await client.delete("/graphql")
    assert_api_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in response.headers["allow"]
