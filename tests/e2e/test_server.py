"""The real server as a process, spoken to over real HTTP, and the command line around it.

Two kinds of server: one on the session's test database (DATABASE_URL), shared by the
module, and servers without DATABASE_URL that start the embedded PostgreSQL in DATA_DIR,
one fresh DATA_DIR per test.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from infra.db import create_engine
from infra.seed import DEMO_CUSTOMERS
from infra.signing_keys import load_or_create
from schema.schema import schema as built_schema
from tests import conftest
from tests.support.server_process import (
    REPO,
    STOP_TIMEOUT,
    RunningServer,
    free_port,
    is_alive,
    postgres_processes,
    run_cli,
    server_env,
    serving,
    start_server,
    stop_leftover_postgres,
)

pytestmark = pytest.mark.e2e

COMMITTED_SCHEMA = REPO / "schema.graphql"

CREATE_CUSTOMER = """
mutation Create($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id name currency email }
    userErrors { code field message }
  }
}
"""

CUSTOMERS = """
query Customers($filter: CustomerFilter) {
  customers(first: 100, filter: $filter) {
    totalCount
    edges { node { id name currency archived } }
  }
}
"""

VIEWER = "{ viewer { account { id } clientId scopes } }"

DEMO_CATALOG = """
query Catalog($from: DateTime!, $to: DateTime!) {
  plans(first: 50) { edges { node { code minimumCommitments { amount }
    prices { id model billingMode } } } }
  customers(first: 100) { edges { node { name
    usage(metricCode: "api.calls", from: $from, to: $to) { quantity }
  } } }
}
"""
DEMO_CHARGE = """
query Charge($customer: ID!, $price: ID!, $from: DateTime!, $to: DateTime!) {
  customer(id: $customer) { usageCharge(priceId: $price, from: $from, to: $to) {
    eventCount breakdown { total { amount } lines { description } }
  } }
}
"""


def nodes_by_name(customers: dict[str, Any]) -> dict[str, str]:
    return {e["node"]["name"]: e["node"]["id"] for e in customers["data"]["customers"]["edges"]}


def gql(
    server: RunningServer, token: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = httpx.post(
        f"{server.base_url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10.0,
    )
    assert response.status_code == 200, response.text
    return response.json()


def banner_token(server: RunningServer) -> str:
    server.wait_for_output(r"^    \{\"Authorization\": .*\}$")
    return server.wait_for_output(r"^  token:\s+(\S+)$").group(1)


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(
    test_database: conftest.TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """`ledgerline serve` on the session's test database."""
    port = free_port()
    env = server_env(
        tmp_path_factory.mktemp("e2e-data"),
        port,
        DATABASE_URL=test_database.url,
        SECRET_KEY=conftest.TEST_SECRET_KEY,
    )
    with serving(env, port) as running:
        yield running


@dataclass(frozen=True)
class OAuthClient:
    tenant: str
    client_id: str
    client_secret: str


@pytest.fixture(scope="module")
def oauth_client(server: RunningServer) -> OAuthClient:
    """A client made with `ledgerline clients create`, for a tenant of its own."""
    tenant = "e2e-" + secrets.token_hex(5)
    created = run_cli(
        server.env,
        "clients",
        "create",
        "--tenant",
        tenant,
        "--scopes",
        "customers:read customers:write",
    )
    assert created.returncode == 0, created.stderr
    printed = json.loads(created.stdout)
    assert printed["tenant"] == tenant
    assert printed["scopes"] == "customers:read customers:write"
    assert printed["client_id"].startswith("cli_")
    assert len(printed["client_secret"]) >= 32
    return OAuthClient(tenant, printed["client_id"], printed["client_secret"])


@pytest.fixture
def embedded_data_dir() -> Iterator[Path]:
    """A fresh DATA_DIR; whatever PostgreSQL ran in it is stopped afterwards."""
    # Short path: PostgreSQL's Unix socket lives inside it (107-byte limit).
    data_dir = Path(tempfile.mkdtemp(prefix="ll-e2e-"))
    os.chmod(data_dir, 0o755)  # PostgreSQL runs as its own system user when we are root
    try:
        yield data_dir
    finally:
        stop_leftover_postgres(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


# --- server on DATABASE_URL -------------------------------------------------------------


def test_server_answers_liveness_readiness_and_publishes_its_keys(server: RunningServer) -> None:
    # when
    with httpx.Client(base_url=server.base_url, timeout=5.0) as http:
        health = http.get("/healthz")
        ready = http.get("/readyz")
        jwks = http.get("/.well-known/jwks.json")
    # then
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ok", "database": "ok"})
    assert jwks.status_code == 200
    assert jwks.json()["keys"] and all("d" not in key for key in jwks.json()["keys"])


async def test_cli_client_gets_a_token_over_http_and_creates_and_lists_customers(
    server: RunningServer, oauth_client: OAuthClient, test_database: conftest.TestDatabase
) -> None:
    # given
    name = "E2E Trading " + secrets.token_hex(4)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http:
        # when: client credentials with HTTP Basic
        issued = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(oauth_client.client_id, oauth_client.client_secret),
        )
        # then
        assert issued.status_code == 200, issued.text
        assert issued.headers["cache-control"] == "no-store"
        grant = issued.json()
        assert grant["token_type"] == "Bearer"
        assert grant["scope"] == "customers:read customers:write"
        assert grant["expires_in"] > 0
        bearer = {"Authorization": f"Bearer {grant['access_token']}"}

        # when: the token creates a customer and lists it
        created = await http.post(
            "/graphql",
            json={
                "query": CREATE_CUSTOMER,
                "variables": {"input": {"name": name, "currency": "eur", "email": "a@b.example"}},
            },
            headers=bearer,
        )
        listed = await http.post(
            "/graphql",
            json={"query": CUSTOMERS, "variables": {"filter": {"search": name}}},
            headers=bearer,
        )

    # then
    assert created.status_code == 200, created.text
    assert "errors" not in created.json(), created.text
    payload = created.json()["data"]["createCustomer"]
    assert payload["userErrors"] == []
    customer = payload["customer"]
    assert customer["id"].startswith("cus_")
    assert (customer["name"], customer["currency"]) == (name, "EUR")
    assert listed.status_code == 200, listed.text
    connection = listed.json()["data"]["customers"]
    assert connection["totalCount"] == 1
    assert connection["edges"][0]["node"] == {
        "id": customer["id"],
        "name": name,
        "currency": "EUR",
        "archived": False,
    }
    admin = await asyncpg.connect(test_database.admin_dsn)
    try:
        row = await admin.fetchrow(
            "select tenant_id, name, currency from customers where id = $1", customer["id"]
        )
        event_types = await admin.fetch(
            "select type from events where tenant_id = $1 and object_id = $2",
            oauth_client.tenant,
            customer["id"],
        )
    finally:
        await admin.close()
    assert dict(row) == {"tenant_id": oauth_client.tenant, "name": name, "currency": "EUR"}
    assert [r["type"] for r in event_types] == ["customer.created"]


def test_token_endpoint_takes_form_credentials_and_narrows_the_scope(
    server: RunningServer, oauth_client: OAuthClient
) -> None:
    # when
    with httpx.Client(base_url=server.base_url, timeout=10.0) as http:
        issued = http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": oauth_client.client_id,
                "client_secret": oauth_client.client_secret,
                "scope": "customers:read",
            },
        )
        refused = http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": oauth_client.client_id,
                "client_secret": oauth_client.client_secret + "x",
            },
        )
    # then
    assert issued.status_code == 200, issued.text
    assert issued.json()["scope"] == "customers:read"
    token = issued.json()["access_token"]
    viewer = gql(server, token, VIEWER)["data"]["viewer"]
    assert viewer == {
        "account": {"id": oauth_client.tenant},
        "clientId": oauth_client.client_id,
        "scopes": ["customers:read"],
    }
    write = gql(server, token, CREATE_CUSTOMER, {"input": {"name": "No", "currency": "USD"}})
    assert write["data"] is None
    assert write["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"


def test_production_serves_a_migrated_database(
    test_database: conftest.TestDatabase, tmp_path: Path
) -> None:
    # given production settings on the (migrated) test database
    port = free_port()
    env = server_env(
        tmp_path,
        port,
        ENVIRONMENT="production",
        DATABASE_URL=test_database.url,
        SECRET_KEY=conftest.TEST_SECRET_KEY,
        OAUTH_ISSUER="https://auth.example.com/",
    )
    # when
    with serving(env, port) as running:
        with httpx.Client(base_url=running.base_url, timeout=5.0) as http:
            ready = http.get("/readyz")
            anonymous = http.post("/graphql", json={"query": "{ viewer { scopes } }"})
            graphiql = http.get("/graphql", headers={"Accept": "text/html"})
    # then it serves, without GraphiQL or a development token
    assert ready.status_code == 200
    assert anonymous.status_code == 401
    assert graphiql.status_code != 200
    assert "token:" not in running.output


async def _seal_signing_keys(url: str, secret_key: str) -> None:
    engine = create_engine(url, pool_size=1, app_role=False)
    try:
        await load_or_create(engine, secret_key)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_server_that_cannot_start_exits_with_an_error(
    test_database: conftest.TestDatabase, tmp_path: Path, workers: str
) -> None:
    # given production settings with a secret key that does not open the signing keys
    env = server_env(
        tmp_path,
        free_port(),
        ENVIRONMENT="production",
        DATABASE_URL=test_database.url,
        SECRET_KEY="not-the-key-the-signing-keys-were-sealed-with",
        OAUTH_ISSUER="https://auth.example.com/",
        WORKERS=workers,
    )
    # (the signing keys exist, sealed with the right key)
    asyncio.run(_seal_signing_keys(test_database.url, conftest.TEST_SECRET_KEY))
    # when
    done = subprocess.run(
        [sys.executable, "-m", "infra.cli", "serve"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # then: a failure a service manager sees, naming the cause
    assert done.returncode != 0, done.stdout + done.stderr
    assert "SECRET_KEY" in done.stdout + done.stderr


def test_cli_token_works_against_the_running_server(
    server: RunningServer, oauth_client: OAuthClient
) -> None:
    # when
    printed = run_cli(
        server.env, "token", "--tenant", oauth_client.tenant, "--scopes", "customers:read"
    )
    # then
    assert printed.returncode == 0, printed.stderr
    token = printed.stdout.strip()
    viewer = gql(server, token, VIEWER)
    assert viewer["data"]["viewer"]["account"] == {"id": oauth_client.tenant}
    assert viewer["data"]["viewer"]["scopes"] == ["customers:read"]
    listed = gql(server, token, CUSTOMERS)
    assert "errors" not in listed, listed
    assert listed["data"]["customers"]["totalCount"] >= 0


@pytest.mark.parametrize("tenant", ["Acme Inc", "a" * 64])
@pytest.mark.parametrize(
    "command",
    [["clients", "create", "--scopes", "customers:read"], ["token"]],
    ids=["clients-create", "token"],
)
def test_cli_refuses_a_tenant_that_is_not_an_account_id_before_touching_a_database(
    tmp_path: Path, command: list[str], tenant: str
) -> None:
    # when (no DATABASE_URL: a database would be the embedded one, in DATA_DIR)
    done = run_cli(server_env(tmp_path, 0), *command, f"--tenant={tenant}")
    # then
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error: an account id is 1 to 63 lowercase ASCII letters" in done.stderr
    assert repr(tenant) in done.stderr
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []


async def test_worker_once_removes_expired_idempotency_records_and_exits_zero(
    server: RunningServer, oauth_client: OAuthClient, test_database: conftest.TestDatabase
) -> None:
    # given: one record past its expiry and one still valid
    admin = await asyncpg.connect(test_database.admin_dsn)
    try:
        await admin.executemany(
            "insert into idempotency_keys (tenant_id, key, fingerprint, response_status,"
            " response_body, created_at, expires_at)"
            " values ($1, $2, 'f', 200, '\\x7b7d', now() - interval '25 hours',"
            " now() + make_interval(hours => $3))",
            [(oauth_client.tenant, "expired", -1), (oauth_client.tenant, "fresh", 23)],
        )
        # when
        worker = run_cli(server.env, "worker", "--once")
        remaining = await admin.fetch(
            "select key from idempotency_keys where tenant_id = $1", oauth_client.tenant
        )
    finally:
        await admin.close()
    # then
    assert worker.returncode == 0, worker.stderr
    removed = re.search(r"removed (\d+) expired idempotency records", worker.stdout)
    assert removed and int(removed.group(1)) >= 1, worker.stdout
    assert [r["key"] for r in remaining] == ["fresh"]
    # and the round charged what was due and settled what was pending
    assert re.search(r"collected \d+ invoices; reconciled \d+ payments", worker.stdout)


@pytest.fixture(scope="module")
def exported_schema() -> subprocess.CompletedProcess[str]:
    """`ledgerline export-schema`, which needs no database."""
    return run_cli(server_env(Path(tempfile.gettempdir()), 0), "export-schema")


def test_export_schema_prints_the_schema_sdl(
    exported_schema: subprocess.CompletedProcess[str],
) -> None:
    # then
    assert exported_schema.returncode == 0, exported_schema.stderr
    assert exported_schema.stdout == built_schema.as_str() + "\n"
    assert "type Query {" in exported_schema.stdout
    assert "scalar Decimal" in exported_schema.stdout


def test_export_schema_matches_the_committed_schema_file(
    exported_schema: subprocess.CompletedProcess[str],
) -> None:
    if not COMMITTED_SCHEMA.exists():
        pytest.skip("schema.graphql is not committed yet")
    # then
    assert exported_schema.returncode == 0, exported_schema.stderr
    assert exported_schema.stdout == COMMITTED_SCHEMA.read_text()


# --- server without DATABASE_URL: embedded PostgreSQL in DATA_DIR ------------------------


def test_serve_without_database_url_runs_embedded_postgres_migrated_and_seeded(
    embedded_data_dir: Path,
) -> None:
    # given
    port = free_port()
    env = server_env(embedded_data_dir, port)
    window = {
        "from": (datetime.now(UTC) - timedelta(days=8)).isoformat(),
        "to": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }
    with serving(env, port) as running:
        # when
        token = banner_token(running)
        customers = gql(running, token, CUSTOMERS)
        catalog = gql(running, token, DEMO_CATALOG, window)
        plans = [edge["node"] for edge in catalog["data"]["plans"]["edges"]]
        prices = [price for plan in plans for price in plan["prices"]]
        percentage = next(price["id"] for price in prices if price["model"] == "PERCENTAGE")
        with_usage = [
            edge["node"]["name"]
            for edge in catalog["data"]["customers"]["edges"]
            if edge["node"]["usage"]["quantity"] != "0"
        ]
        charge = gql(
            running,
            token,
            DEMO_CHARGE,
            {
                # the percentage price is in USD: a customer billed in USD, with usage
                "customer": nodes_by_name(customers)["Acme Corporation"],
                "price": percentage,
                **window,
            },
        )
        with httpx.Client(base_url=running.base_url, timeout=10.0) as http:
            graphiql = http.get("/graphql", headers={"Accept": "text/html"})
        has_postgres = bool(postgres_processes(embedded_data_dir))

    # then: the banner names GraphiQL's URL, the token and a header line to paste
    output = running.output
    assert f"  GraphiQL:  http://127.0.0.1:{port}/graphql\n" in output
    assert "(embedded PostgreSQL)" in output
    header_line = running.wait_for_output(r"^    (\{\"Authorization\": .*\})$").group(1)
    assert json.loads(header_line) == {"Authorization": f"Bearer {token}"}
    assert graphiql.status_code == 200
    assert "graphiql" in graphiql.text.lower()
    # and the database was migrated and seeded with the demo customers
    assert "errors" not in customers, customers
    nodes = [edge["node"] for edge in customers["data"]["customers"]["edges"]]
    assert sorted(node["name"] for node in nodes) == sorted(d.name for d in DEMO_CUSTOMERS)
    assert customers["data"]["customers"]["totalCount"] == len(DEMO_CUSTOMERS)
    assert {node["currency"] for node in nodes} >= {"USD", "EUR", "JPY", "KWD"}
    assert [node["name"] for node in nodes if node["archived"]] == ["Alpine Tools AG"]
    # and the catalog has a plan of every price model, metered and licensed, with usage
    models = {price["model"] for price in prices}
    assert models == {"FLAT_FEE", "PER_UNIT", "GRADUATED", "VOLUME", "PACKAGE", "PERCENTAGE"}
    assert {price["billingMode"] for price in prices} == {"LICENSED", "METERED"}
    assert any(plan["minimumCommitments"] for plan in plans)
    assert len(with_usage) >= 2 and "Acme Corporation" in with_usage
    # and the demo payments show a per-transaction minimum and maximum
    usage_charge = charge["data"]["customer"]["usageCharge"]
    assert usage_charge["eventCount"] > 0
    descriptions = " ".join(line["description"] for line in usage_charge["breakdown"]["lines"])
    assert "the minimum of 0.50" in descriptions and "the maximum of 20.00" in descriptions
    # PostgreSQL ran inside DATA_DIR
    assert has_postgres
    assert (embedded_data_dir / "postgres" / "PG_VERSION").exists()


def test_second_start_on_the_same_data_dir_keeps_the_data(embedded_data_dir: Path) -> None:
    # given: a first start, with a customer added to the demo data
    port = free_port()
    env = server_env(embedded_data_dir, port)
    with serving(env, port) as first:
        first_token = banner_token(first)
        created = gql(
            first,
            first_token,
            CREATE_CUSTOMER,
            {"input": {"name": "Kept Across Restarts Ltd", "currency": "NZD"}},
        )
        assert created["data"]["createCustomer"]["userErrors"] == []
    # a leftover PostgreSQL would hide whether the data reached the disk
    stop_leftover_postgres(embedded_data_dir)

    # when
    with serving(env, port) as second:
        second_token = banner_token(second)
        with_new_token = gql(second, second_token, CUSTOMERS)
        with_old_token = gql(second, first_token, VIEWER)

    # then: the customer is still there and the demo data was not seeded twice
    names = [edge["node"]["name"] for edge in with_new_token["data"]["customers"]["edges"]]
    assert "Kept Across Restarts Ltd" in names
    assert with_new_token["data"]["customers"]["totalCount"] == len(DEMO_CUSTOMERS) + 1
    assert sorted(names) == sorted([d.name for d in DEMO_CUSTOMERS] + ["Kept Across Restarts Ltd"])
    # and the signing key survived: a token from the first start still works
    assert with_old_token["data"]["viewer"]["account"] == {"id": "demo"}


def test_sigterm_stops_the_server_and_its_embedded_postgres(embedded_data_dir: Path) -> None:
    # given
    port = free_port()
    running = start_server(server_env(embedded_data_dir, port), port)
    try:
        assert postgres_processes(embedded_data_dir), "the embedded PostgreSQL runs in DATA_DIR"
        # when
        running.process.send_signal(signal.SIGTERM)
        running.process.wait(STOP_TIMEOUT)
    finally:
        running.stop()
    # then
    assert running.process.returncode is not None
    leftovers = postgres_processes(embedded_data_dir)
    assert leftovers == [], [p.info["cmdline"] for p in leftovers]


def test_workers_serve_from_several_processes_and_stop_with_the_server(
    embedded_data_dir: Path,
) -> None:
    # given: WORKERS=2 on the embedded PostgreSQL
    port = free_port()
    running = start_server(server_env(embedded_data_dir, port, WORKERS="2"), port)
    try:
        supervisor = psutil.Process(running.process.pid)
        workers = [
            child for child in supervisor.children() if "spawn_main" in " ".join(child.cmdline())
        ]
        # when: the seeded data is read through them
        token = banner_token(running)
        answers = [gql(running, token, CUSTOMERS) for _ in range(4)]
        metrics = httpx.get(f"{running.base_url}/metrics", timeout=5.0).text
        running.process.send_signal(signal.SIGTERM)
        running.process.wait(STOP_TIMEOUT)
    finally:
        running.stop()
    # then: two worker processes answered, and nothing outlives the server
    assert len(workers) == 2, workers
    for answer in answers:
        assert answer["data"]["customers"]["totalCount"] == len(DEMO_CUSTOMERS), answer
    # and /metrics adds up what every worker answered
    counted = re.search(
        r'^ledgerline_http_requests_total\{method="POST",path="/graphql",status="200"\} (\S+)$',
        metrics,
        re.MULTILINE,
    )
    assert counted is not None, metrics
    assert float(counted.group(1)) == len(answers)
    assert not any(is_alive(worker) for worker in workers)
    assert postgres_processes(embedded_data_dir) == []
