"""Fair use: a query's cost limit, rate limits per account and client weighted by cost,
and /oauth/token refusing guessed secrets cheaply. Small limits come from apps of their
own; windows of a day keep counts exact while a test runs."""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from infra.app import create_app
from infra.settings import Settings
from tests.conftest import StatementCounter, Tenant, make_tenant

# customers 1 + pageInfo 1 + 98 edges + 98 nodes + 98 lists of 49 invoices
COSTING_5000 = """
{ customers(first: 98) { pageInfo { hasNextPage }
    edges { node { id invoices(first: 49) { id } } } } }
"""
# customers 1 + pageInfo 1 + 4 edges + 4 nodes
COSTING_10 = "{ customers(first: 4) { pageInfo { hasNextPage } edges { node { id } } } }"
VIEWER = "{ viewer { clientId } }"


@asynccontextmanager
async def app_with(settings: Settings, **overrides: Any) -> AsyncIterator[Any]:
    changed = settings.model_copy(update=overrides)
    assert changed.database_url is not None
    application = create_app(changed, changed.database_url)
    async with application.router.lifespan_context(application):
        yield application


@asynccontextmanager
async def http(application: Any, address: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=application, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://ledgerline.test") as c:
        yield c


def as_client(tenant: Tenant, client_id: str) -> dict[str, str]:
    issued = tenant.app.state.issuer.issue(
        client_id=client_id, tenant_id=tenant.id, scopes=["customers:read"]
    )
    return {"Authorization": f"Bearer {issued.access_token}"}


async def query(client: httpx.AsyncClient, headers: dict[str, str], document: str) -> Any:
    return await client.post("/graphql", json={"query": document}, headers=headers)


def assert_rate_limited(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["RateLimit-Limit"] == str(limit)
    assert int(response.headers["RateLimit-Remaining"]) < 10
    assert int(response.headers["RateLimit-Reset"]) >= 1


# --- cost -------------------------------------------------------------------------------


async def test_a_query_costing_5000_is_refused_before_anything_runs(
    tenant: Tenant, count_statements: StatementCounter
) -> None:
    # when
    with count_statements:
        response = await tenant.post(COSTING_5000)
    # then: refused for its cost, named with the limit, without a statement or a resolver
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "cost": 5000, "limit": 3000}
    assert "5000" in error["message"] and "3000" in error["message"]
    assert count_statements.count == 0
    # and the next normal request is answered as before
    assert (await tenant.gql(VIEWER))["data"] == {"viewer": {"clientId": "test-client"}}


async def test_the_cost_is_answered_in_extensions(tenant: Tenant) -> None:
    # when: a list the planned path answers, and one only the executor does
    planned = await tenant.gql(COSTING_10)
    executed = await tenant.gql("{ customers(first: 4) { edges { node { invoices { id } } } } }")
    # then
    assert planned["extensions"] == {"cost": 10}
    assert executed["extensions"] == {"cost": 1 + 4 + 4 + 4 * 10}


async def test_the_planned_path_refuses_what_costs_too_much(
    settings: Settings, count_statements: StatementCounter
) -> None:
    async with app_with(settings, query_cost_limit=100) as application, http(application) as c:
        tenant = await make_tenant(application, c)
        # given the plan is made and answers within the limit
        assert (await tenant.gql("{ customers(first: 49) { edges { node { id } } } }"))[
            "extensions"
        ] == {"cost": 99}
        # when the same plan is asked for a bigger page
        counter = StatementCounter(application.state.engine)
        with counter:
            response = await tenant.post("{ customers(first: 50) { edges { node { id } } } }")
        # then
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"] == {
            "code": "QUERY_TOO_COMPLEX",
            "cost": 101,
            "limit": 100,
        }
        assert counter.count == 0


async def test_the_schema_itself_refuses_what_costs_too_much() -> None:
    # given a schema with a small limit, executed without the HTTP endpoint
    from schema.schema import build_schema

    small = build_schema(query_cost_limit=5)
    # when
    result = await small.execute("{ customers(first: 3) { edges { node { id } } } }")
    # then: refused before any resolver (which would need a context) ran
    assert result.data is None
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "QUERY_TOO_COMPLEX", "cost": 7, "limit": 5}


# --- rates ------------------------------------------------------------------------------


async def test_an_account_sending_ten_times_its_rate_is_refused_and_others_are_not(
    settings: Settings,
) -> None:
    async with (
        app_with(settings, rate_limit_account="100/day") as application,
        http(application) as c,
    ):
        greedy, other = await make_tenant(application, c), await make_tenant(application, c)
        headers = {"Authorization": f"Bearer {greedy.token()}"}
        # when the account sends ten times what its rate allows
        answers = [await query(c, headers, COSTING_10) for _ in range(100)]
        # then the first ten are answered, with what remains; the rest refused with headers
        statuses = [a.status_code for a in answers]
        assert statuses == [200] * 10 + [429] * 90
        assert answers[0].headers["RateLimit-Limit"] == "100"
        assert answers[0].headers["RateLimit-Remaining"] == "90"
        for refused in answers[10:]:
            assert_rate_limited(refused, 100)
        # and another account is answered in full
        theirs = await query(c, {"Authorization": f"Bearer {other.token()}"}, COSTING_10)
        assert theirs.status_code == 200, theirs.text
        assert theirs.headers["RateLimit-Remaining"] == "90"


async def test_each_oauth_client_has_a_rate_of_its_own(settings: Settings) -> None:
    async with (
        app_with(settings, rate_limit_client="30/day") as application,
        http(application) as c,
    ):
        tenant = await make_tenant(application, c)
        busy, quiet = as_client(tenant, "cli_busy"), as_client(tenant, "cli_quiet")
        # when one client spends its rate
        answers = [await query(c, busy, COSTING_10) for _ in range(4)]
        # then it is refused, and the account's other client is not
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert_rate_limited(answers[3], 30)
        assert (await query(c, quiet, COSTING_10)).status_code == 200


async def test_a_refused_query_spends_no_rate(settings: Settings) -> None:
    async with (
        app_with(settings, rate_limit_account="100/day") as application,
        http(application) as c,
    ):
        tenant = await make_tenant(application, c)
        # given a query refused for its cost
        assert (await tenant.post(COSTING_5000)).status_code == 400
        # then the account's rate is whole
        answer = await tenant.post(COSTING_10)
        assert answer.headers["RateLimit-Remaining"] == "90"


# --- /oauth/token -----------------------------------------------------------------------


async def test_a_thousand_wrong_secrets_are_refused_cheaply(settings: Settings) -> None:
    async with app_with(
        settings, token_failures_per_address="10/day", token_failures_per_client="10/day"
    ) as application:
        async with http(application) as setup:
            tenant = await make_tenant(application, setup)
        victim, secret = await tenant.create_client(["customers:read"])
        other, other_secret = await tenant.create_client(["customers:read"])
        counter = StatementCounter(application.state.engine)
        # when an address sends a thousand wrong secrets
        async with http(application, "203.0.113.7") as attacker:
            with counter:
                answers = [
                    await attacker.post(
                        "/oauth/token",
                        data={
                            "grant_type": "client_credentials",
                            "client_id": victim,
                            "client_secret": secrets.token_urlsafe(32),
                        },
                    )
                    for _ in range(1000)
                ]
        # then ten are checked (one query each), the rest refused at once with headers
        statuses = [a.status_code for a in answers]
        assert statuses == [401] * 10 + [429] * 990
        assert counter.count == 10
        refused = answers[-1]
        assert refused.json()["error"] == "slow_down"
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["RateLimit-Limit"] == "10"
        assert refused.headers["RateLimit-Remaining"] == "0"
        # and another client from another address gets its token as before
        async with http(application, "198.51.100.20") as elsewhere:
            normal = await elsewhere.post(
                "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": other,
                    "client_secret": other_secret,
                },
            )
            assert normal.status_code == 200, normal.text
            # while the client guessed at waits, even with its secret (documented trade-off)
            guessed = await elsewhere.post(
                "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": victim,
                    "client_secret": secret,
                },
            )
            assert guessed.status_code == 429


# --- shared through Redis ---------------------------------------------------------------


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


async def test_two_processes_share_an_accounts_rate_through_redis(settings: Settings) -> None:
    if not _redis_answers():
        pytest.skip("no Redis answers on 127.0.0.1:6379: the shared rate limits are untested")
    redis = SecretStr("redis://127.0.0.1:6379/0")
    shared = {"rate_limit_account": "50/day", "redis_url": redis}
    async with (
        app_with(settings, **shared) as first,
        app_with(settings, **shared) as second,
        http(first) as to_first,
        http(second) as to_second,
    ):
        tenant = await make_tenant(first, to_first)
        headers = {"Authorization": f"Bearer {tenant.token()}"}
        # when the account's requests are spread over two processes
        answers = []
        for _ in range(3):
            answers.append(await query(to_first, headers, COSTING_10))
            answers.append(await query(to_second, headers, COSTING_10))
        # then together they spend one rate
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        assert_rate_limited(answers[5], 50)


async def test_requests_go_on_when_the_shared_counters_cannot_be_reached(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # given Redis that refuses connections
    unreachable = SecretStr("redis://127.0.0.1:1/0")
    async with (
        app_with(settings, rate_limit_account="10/day", redis_url=unreachable) as application,
        http(application) as c,
    ):
        tenant = await make_tenant(application, c)
        # when the account sends more than its rate
        answers = [await tenant.post(COSTING_10) for _ in range(3)]
        # then it is answered, without quota headers, and the log says why
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert "RateLimit-Limit" not in answers[-1].headers
        assert "rate limits not applied" in caplog.text
        assert "127.0.0.1:1" not in caplog.text
