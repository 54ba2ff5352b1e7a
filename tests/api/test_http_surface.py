"""The HTTP surface of /graphql and the operational routes: bad requests are 4xx with a
GraphQL-shaped error (never 500), limits refuse a document before anything runs, and
GraphiQL / introspection follow the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from infra.app import create_app
from infra.settings import Settings
from tests.conftest import Tenant
from tests.conftest import TestDatabase as SessionDatabase

VIEWER = "{ viewer { clientId } }"

INTROSPECTION = "{ __schema { queryType { name } } }"
TYPE_INTROSPECTION = '{ __type(name: "Customer") { name fields { name } } }'

CREATE_CUSTOMER_FIELDS = (
    'createCustomer(input: {name: "Limit test", currency: "EUR", address: {country: "DE"}})'
)
CREATE_CUSTOMER = (
    f"mutation {{ {CREATE_CUSTOMER_FIELDS} {{ customer {{ id }} userErrors {{ code }} }} }}"
)

MAX_ALIASES = 15

QUERY_THEN_MUTATION = (
    "query Q { viewer { clientId } } "
    f"mutation M {{ {CREATE_CUSTOMER_FIELDS} {{ customer {{ id }} }} }}"
)
MUTATION_THEN_QUERY = (
    f"mutation M {{ {CREATE_CUSTOMER_FIELDS} {{ customer {{ id }} }} }} "
    "query Q { viewer { clientId } }"
)
SUBSCRIPTION = "subscription { customerCreated { id } }"
FRAGMENTS_ONLY = "fragment F on Query { viewer { clientId } }"


def nested_events(levels: int, leaf: str = "id") -> str:
    """`recentEvents { subject { ... on Customer { <levels - 1 more> } } }`: two levels of
    depth per step, the only cycle the schema offers."""
    selection = leaf
    for _ in range(levels):
        selection = f"recentEvents {{ subject {{ ... on Customer {{ {selection} }} }} }}"
    return selection


SHALLOW_CUSTOMERS = f"{{ customers(first: 1) {{ edges {{ node {{ {nested_events(1)} }} }} }} }}"
DEEP_CUSTOMERS = f"{{ customers(first: 1) {{ edges {{ node {{ {nested_events(6)} }} }} }} }}"
DEEP_CREATE_CUSTOMER = (
    f"mutation {{ {CREATE_CUSTOMER_FIELDS} {{ customer {{ {nested_events(6)} }} }} }}"
)


def aliased_viewers(count: int) -> str:
    return " ".join(f"v{i}: viewer {{ clientId }}" for i in range(count))


def aliased_creates(count: int) -> str:
    return " ".join(f"c{i}: {CREATE_CUSTOMER_FIELDS} {{ customer {{ id }} }}" for i in range(count))


QUERY_AT_ALIAS_LIMIT = f"{{ {aliased_viewers(MAX_ALIASES)} }}"
QUERY_OVER_ALIAS_LIMIT = f"{{ {aliased_viewers(MAX_ALIASES + 1)} }}"
MUTATION_OVER_ALIAS_LIMIT = f"mutation {{ {aliased_creates(MAX_ALIASES + 1)} }}"
# GHSA-fr49-mhgj-crfc: aliases hidden in a fragment spread several times must all count.
QUERY_ALIASES_THROUGH_FRAGMENTS = (
    f"query {{ ...Eight ...Eight ...Eight }} fragment Eight on Query {{ {aliased_viewers(8)} }}"
)
MUTATION_ALIASES_THROUGH_FRAGMENTS = (
    f"mutation {{ ...Eight ...Eight }} fragment Eight on Mutation {{ {aliased_creates(9)} }}"
)
QUERY_ALIASES_THROUGH_NESTED_FRAGMENTS = (
    "query { ...Outer } "
    "fragment Outer on Query { ...Six ...Six ...Six } "
    f"fragment Six on Query {{ {aliased_viewers(6)} }}"
)

# Well past the token limit, well under the body limit.
QUERY_WITH_TOO_MANY_TOKENS = "{ viewer { " + "clientId " * 3000 + "} }"
MUTATION_WITH_TOO_MANY_TOKENS = (
    f"mutation {{ {CREATE_CUSTOMER_FIELDS} {{ customer {{ " + "id " * 3000 + "} } }"
)
MUTATION_WITH_HUGE_TOKEN_COUNT = (
    f"mutation {{ {CREATE_CUSTOMER_FIELDS} {{ customer {{ " + "id " * 20000 + "} } }"
)
# Over the body limit (1 MB) by padding a comment: few tokens, many bytes.
MUTATION_OVER_BODY_LIMIT = CREATE_CUSTOMER + "\n# " + "x" * 1_100_000


def bearer(tenant: Tenant, scopes: list[str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant.token(scopes)}"}


async def customer_count(test_database: SessionDatabase, tenant_id: str) -> int:
    conn = await asyncpg.connect(test_database.admin_dsn)
    try:
        return await conn.fetchval("select count(*) from customers where tenant_id = $1", tenant_id)
    finally:
        await conn.close()


def assert_graphql_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["errors"], list) and body["errors"]
    assert all(isinstance(error["message"], str) and error["message"] for error in body["errors"])
    assert body.get("data") is None
    return body


async def running_client(
    base: Settings, database_url: str, **changes: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the same database (same signing keys), with some settings changed."""
    variant = Settings(
        database_url=database_url,
        data_dir=base.data_dir,
        secret_key=base.secret_key,
        environment=base.environment,
        oauth_issuer=base.oauth_issuer,
        oauth_audience=base.oauth_audience,
        **changes,
    )
    application = create_app(variant, database_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://ledgerline.test") as c:
            yield c


@pytest.fixture(scope="module")
async def no_graphiql_client(
    settings: Settings, test_database: SessionDatabase
) -> AsyncIterator[httpx.AsyncClient]:
    async for c in running_client(settings, test_database.url, graphiql=False):
        yield c


@pytest.fixture(scope="module")
async def no_introspection_client(
    settings: Settings, test_database: SessionDatabase
) -> AsyncIterator[httpx.AsyncClient]:
    async for c in running_client(settings, test_database.url, introspection=False):
        yield c


# --- malformed requests ------------------------------------------------------------------


async def test_malformed_json_body_is_400_with_a_graphql_error(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # when
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ viewer { clientId } }"',
        headers={**bearer(tenant), "Content-Type": "application/json"},
    )
    # then
    assert_graphql_error(response, 400)


async def test_graphql_syntax_error_is_400_with_its_location(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # when
    response = await client.post(
        "/graphql", json={"query": "{ viewer { clientId "}, headers=bearer(tenant)
    )
    # then
    body = assert_graphql_error(response, 400)
    (location,) = body["errors"][0]["locations"]
    assert location["line"] == 1
    assert location["column"] > 1


async def test_batched_json_array_is_400(tenant: Tenant, client: httpx.AsyncClient) -> None:
    # when
    response = await client.post(
        "/graphql", json=[{"query": VIEWER}, {"query": VIEWER}], headers=bearer(tenant)
    )
    # then
    assert_graphql_error(response, 400)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"variables": {}}, id="no-query"),
        pytest.param({"query": ""}, id="empty-query"),
        pytest.param({"query": "   "}, id="blank-query"),
        pytest.param({"query": 42}, id="query-not-a-string"),
        pytest.param({"query": None}, id="null-query"),
        pytest.param({"query": VIEWER, "variables": [1]}, id="variables-not-an-object"),
        pytest.param({"query": VIEWER, "operationName": 7}, id="operation-name-not-a-string"),
        pytest.param("{ viewer { clientId } }", id="json-string-body"),
    ],
)
async def test_body_without_a_usable_query_is_400(
    tenant: Tenant, client: httpx.AsyncClient, payload: Any
) -> None:
    # when
    response = await client.post("/graphql", json=payload, headers=bearer(tenant))
    # then
    assert_graphql_error(response, 400)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/graphql", None],
)
async def test_body_with_a_content_type_other_than_json_is_400(
    tenant: Tenant, client: httpx.AsyncClient, content_type: str | None
) -> None:
    # given
    headers = bearer(tenant)
    if content_type is not None:
        headers["Content-Type"] = content_type
    # when
    response = await client.post(
        "/graphql", content=orjson.dumps({"query": VIEWER}), headers=headers
    )
    # then
    assert_graphql_error(response, 400)


async def test_unknown_field_is_400_naming_the_field(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # when
    response = await tenant.post("{ viewer { clientId secretSauce } }")
    # then
    body = assert_graphql_error(response, 400)
    assert "secretSauce" in body["errors"][0]["message"]


async def test_mutation_with_an_unknown_field_writes_nothing(
    tenant: Tenant, test_database: SessionDatabase
) -> None:
    # when
    response = await tenant.post(
        f"mutation {{ {CREATE_CUSTOMER_FIELDS} {{ customer {{ id secretSauce }} }} }}"
    )
    # then
    assert_graphql_error(response, 400)
    assert await customer_count(test_database, tenant.id) == 0


# --- GET ---------------------------------------------------------------------------------


async def test_get_runs_a_query_with_a_token(tenant: Tenant, client: httpx.AsyncClient) -> None:
    # when
    response = await client.get(
        "/graphql", params={"query": "{viewer{clientId}}"}, headers=bearer(tenant)
    )
    # then
    assert response.status_code == 200, response.text
    assert response.json() == {
        "data": {"viewer": {"clientId": "test-client"}},
        "extensions": {"cost": 1},
    }


async def test_get_passes_variables_and_operation_name(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # when
    response = await client.get(
        "/graphql",
        params={
            "query": "query A { viewer { clientId } } "
            "query B($id: ID!) { customer(id: $id) { id } }",
            "operationName": "B",
            "variables": '{"id": "cus_missing"}',
        },
        headers=bearer(tenant),
    )
    # then
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"customer": None}, "extensions": {"cost": 1}}


async def test_get_with_malformed_variables_is_400(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # when
    response = await client.get(
        "/graphql",
        params={"query": "query($id: ID!) { customer(id: $id) { id } }", "variables": "{id"},
        headers=bearer(tenant),
    )
    # then
    assert_graphql_error(response, 400)


async def test_mutation_through_get_is_405_and_writes_nothing(
    tenant: Tenant, client: httpx.AsyncClient, test_database: SessionDatabase
) -> None:
    # when
    response = await client.get(
        "/graphql", params={"query": CREATE_CUSTOMER}, headers=bearer(tenant)
    )
    # then
    assert_graphql_error(response, 405)
    assert "POST" in response.headers["allow"]
    assert await customer_count(test_database, tenant.id) == 0


async def test_mutation_chosen_by_operation_name_through_get_is_405_and_writes_nothing(
    tenant: Tenant, client: httpx.AsyncClient, test_database: SessionDatabase
) -> None:
    # when
    response = await client.get(
        "/graphql",
        params={"query": QUERY_THEN_MUTATION, "operationName": "M"},
        headers=bearer(tenant),
    )
    # then
    assert_graphql_error(response, 405)
    assert await customer_count(test_database, tenant.id) == 0


async def send(
    client: httpx.AsyncClient, method: str, payload: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    if method == "GET":
        return await client.get("/graphql", params=payload, headers=headers)
    return await client.post("/graphql", json=payload, headers=headers)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    "document",
    [
        pytest.param(QUERY_THEN_MUTATION, id="query-first"),
        pytest.param(MUTATION_THEN_QUERY, id="mutation-first"),
    ],
)
async def test_several_operations_without_an_operation_name_are_400_and_write_nothing(
    tenant: Tenant,
    client: httpx.AsyncClient,
    test_database: SessionDatabase,
    method: str,
    document: str,
) -> None:
    # GraphQL spec, GetOperation: with several operations, operationName is required.
    # when
    response = await send(client, method, {"query": document}, bearer(tenant))
    # then
    assert_graphql_error(response, 400)
    assert await customer_count(test_database, tenant.id) == 0


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_operation_name_matching_no_operation_is_400_and_writes_nothing(
    tenant: Tenant, client: httpx.AsyncClient, test_database: SessionDatabase, method: str
) -> None:
    # when
    response = await send(
        client, method, {"query": MUTATION_THEN_QUERY, "operationName": "Nope"}, bearer(tenant)
    )
    # then
    assert_graphql_error(response, 400)
    assert await customer_count(test_database, tenant.id) == 0


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_document_with_only_fragments_is_400(
    tenant: Tenant, client: httpx.AsyncClient, method: str
) -> None:
    # when
    response = await send(client, method, {"query": FRAGMENTS_ONLY}, bearer(tenant))
    # then
    assert_graphql_error(response, 400)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_subscription_operation_is_refused(
    tenant: Tenant, client: httpx.AsyncClient, method: str
) -> None:
    # when
    response = await send(client, method, {"query": SUBSCRIPTION}, bearer(tenant))
    # then
    assert response.status_code in (400, 405), response.text
    assert response.json()["errors"]


# --- limits, enforced before anything runs ------------------------------------------------


async def test_query_within_the_depth_limit_runs(tenant: Tenant) -> None:
    # when
    body = await tenant.gql(SHALLOW_CUSTOMERS)
    # then
    assert "errors" not in body
    assert body["data"]["customers"]["edges"] == []


async def test_query_deeper_than_the_limit_is_refused(tenant: Tenant) -> None:
    # when
    response = await tenant.post(DEEP_CUSTOMERS)
    # then
    body = assert_graphql_error(response, 400)
    assert "depth" in body["errors"][0]["message"]


async def test_mutation_deeper_than_the_limit_is_refused_and_writes_nothing(
    tenant: Tenant, test_database: SessionDatabase
) -> None:
    # when
    response = await tenant.post(DEEP_CREATE_CUSTOMER)
    # then
    body = assert_graphql_error(response, 400)
    assert "depth" in body["errors"][0]["message"]
    assert await customer_count(test_database, tenant.id) == 0


async def test_query_at_the_alias_limit_runs(tenant: Tenant) -> None:
    # when
    body = await tenant.gql(QUERY_AT_ALIAS_LIMIT)
    # then
    assert "errors" not in body
    assert len(body["data"]) == MAX_ALIASES


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(QUERY_OVER_ALIAS_LIMIT, id="inline"),
        pytest.param(QUERY_ALIASES_THROUGH_FRAGMENTS, id="fragment-spread-three-times"),
        pytest.param(QUERY_ALIASES_THROUGH_NESTED_FRAGMENTS, id="nested-fragment-spreads"),
    ],
)
async def test_query_with_more_aliases_than_the_limit_is_refused(
    tenant: Tenant, document: str
) -> None:
    # when
    response = await tenant.post(document)
    # then
    body = assert_graphql_error(response, 400)
    assert "alias" in body["errors"][0]["message"].lower()


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(MUTATION_OVER_ALIAS_LIMIT, id="inline"),
        pytest.param(MUTATION_ALIASES_THROUGH_FRAGMENTS, id="fragment-spread-twice"),
    ],
)
async def test_mutation_with_more_aliases_than_the_limit_is_refused_and_writes_nothing(
    tenant: Tenant, test_database: SessionDatabase, document: str
) -> None:
    # when
    response = await tenant.post(document)
    # then
    body = assert_graphql_error(response, 400)
    assert "alias" in body["errors"][0]["message"].lower()
    assert await customer_count(test_database, tenant.id) == 0


async def test_query_over_the_token_limit_is_refused(tenant: Tenant) -> None:
    # when
    response = await tenant.post(QUERY_WITH_TOO_MANY_TOKENS)
    # then
    body = assert_graphql_error(response, 400)
    assert "tokens" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(MUTATION_WITH_TOO_MANY_TOKENS, id="over-the-token-limit"),
        pytest.param(MUTATION_WITH_HUGE_TOKEN_COUNT, id="far-over-the-token-limit"),
    ],
)
async def test_mutation_over_the_token_limit_is_refused_and_writes_nothing(
    tenant: Tenant, test_database: SessionDatabase, document: str
) -> None:
    # when
    response = await tenant.post(document)
    # then
    body = assert_graphql_error(response, 400)
    assert "tokens" in body["errors"][0]["message"]
    assert await customer_count(test_database, tenant.id) == 0


async def test_body_over_the_size_limit_is_refused_and_writes_nothing(
    tenant: Tenant, test_database: SessionDatabase
) -> None:
    # when
    response = await tenant.post(MUTATION_OVER_BODY_LIMIT)
    # then
    assert_graphql_error(response, 400)
    assert await customer_count(test_database, tenant.id) == 0


async def test_mutation_within_the_limits_writes_its_customer(
    tenant: Tenant, test_database: SessionDatabase
) -> None:
    # the control for the refusals above: the same mutation, within the limits, does write
    # when
    body = await tenant.gql(CREATE_CUSTOMER)
    # then
    assert body["data"]["createCustomer"]["userErrors"] == []
    assert body["data"]["createCustomer"]["customer"]["id"].startswith("cus_")
    assert await customer_count(test_database, tenant.id) == 1


# --- GraphiQL and introspection ----------------------------------------------------------


async def test_browser_get_shows_graphiql_in_development(client: httpx.AsyncClient) -> None:
    # when
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    # then
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_browser_get_shows_no_html_when_graphiql_is_off(
    no_graphiql_client: httpx.AsyncClient,
) -> None:
    # when
    response = await no_graphiql_client.get(
        "/graphql", headers={"Accept": "text/html,application/xhtml+xml"}
    )
    # then
    assert response.status_code in (400, 401, 404, 406), response.text
    assert not response.headers["content-type"].startswith("text/html")
    assert "graphiql" not in response.text.lower()


async def test_app_without_graphiql_still_answers_queries(
    tenant: Tenant, no_graphiql_client: httpx.AsyncClient
) -> None:
    # when
    response = await no_graphiql_client.post(
        "/graphql", json={"query": VIEWER}, headers=bearer(tenant)
    )
    # then
    assert response.status_code == 200, response.text
    assert response.json() == {
        "data": {"viewer": {"clientId": "test-client"}},
        "extensions": {"cost": 1},
    }


async def test_introspection_answers_in_development(tenant: Tenant) -> None:
    # when
    body = await tenant.gql(INTROSPECTION)
    # then
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


@pytest.mark.parametrize("document", [INTROSPECTION, TYPE_INTROSPECTION])
async def test_introspection_is_refused_when_disabled(
    tenant: Tenant, no_introspection_client: httpx.AsyncClient, document: str
) -> None:
    # when
    response = await no_introspection_client.post(
        "/graphql", json={"query": document}, headers=bearer(tenant)
    )
    # then
    body = assert_graphql_error(response, 400)
    assert "introspection" in body["errors"][0]["message"].lower()


async def test_typename_still_answers_when_introspection_is_disabled(
    tenant: Tenant, no_introspection_client: httpx.AsyncClient
) -> None:
    # when
    response = await no_introspection_client.post(
        "/graphql", json={"query": "{ viewer { __typename clientId } }"}, headers=bearer(tenant)
    )
    # then
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"] == {"__typename": "Viewer", "clientId": "test-client"}


# --- operational routes ------------------------------------------------------------------


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    # when
    response = await client.get("/healthz")
    # then
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_readyz_answers_ok_with_the_database_up(client: httpx.AsyncClient) -> None:
    # when
    response = await client.get("/readyz")
    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_metrics_count_answered_requests(client: httpx.AsyncClient) -> None:
    # given
    await client.get("/healthz")
    # when
    response = await client.get("/metrics")
    # then
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE ledgerline_http_requests_total counter" in response.text
    assert 'ledgerline_http_requests_total{method="GET",path="/healthz",status="200"}' in (
        response.text
    )


async def test_metrics_group_unknown_paths_under_one_label(client: httpx.AsyncClient) -> None:
    # given
    await client.get("/no-such-page-4f1c")
    # when
    response = await client.get("/metrics")
    # then
    assert "no-such-page-4f1c" not in response.text
    assert 'path="other"' in response.text


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ customers(first: 5) { totalCount }", None, "GRAPHQL_PARSE_FAILED"),
        ("{ customers(first: 5) { noSuchField } }", None, "GRAPHQL_VALIDATION_FAILED"),
        (DEEP_CUSTOMERS, None, "GRAPHQL_VALIDATION_FAILED"),
        ("query($n: Int!) { customers(first: $n) { totalCount } }", {"n": "x"}, "BAD_USER_INPUT"),
        ("query($n: Int!) { customers(first: $n) { totalCount } }", {}, "BAD_USER_INPUT"),
    ],
)
async def test_every_refused_document_says_why_in_a_code(
    tenant: Tenant, query: str, variables: dict[str, Any] | None, code: str
) -> None:
    response = await tenant.post(query, variables)
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert errors and all(error["extensions"]["code"] == code for error in errors)
