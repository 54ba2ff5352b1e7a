"""GraphQL over HTTP's media types (infra/http/media_types.py): a client that accepts
`application/graphql-response+json` gets it, with the specification's status codes (4xx for
a request error, 294 for data with errors); `application/json` answers as it always has."""

from __future__ import annotations

import httpx
import orjson
import pytest

from infra.http.media_types import GRAPHQL_RESPONSE, JSON, negotiate
from tests.conftest import Tenant

VIEWER = "{ viewer { clientId } }"
STRICT = {"Accept": f"{GRAPHQL_RESPONSE}, {JSON};q=0.9"}
LEGACY = {"Accept": JSON}
# Without customers:read: `customer` is null with a FORBIDDEN error, `viewer` answers.
PARTIAL = '{ viewer { clientId } customer(id: "cus_missing") { id } }'


def bearer(tenant: Tenant, scopes: list[str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant.token(scopes)}"}


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (JSON, JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, {JSON}", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE}", JSON),
        (f"{JSON};q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0, {JSON}", JSON),
        ("text/html,application/xhtml+xml,*/*;q=0.8", JSON),
        ("text/html", None),
        (f"{JSON};q=0", None),
    ],
)
def test_accept_header_chooses_the_media_type(accept: str | None, chosen: str | None) -> None:
    assert negotiate(accept) == chosen


async def test_success_is_200_in_the_media_type_asked_for(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # when
    strict = await client.post(
        "/graphql", json={"query": VIEWER}, headers={**bearer(tenant), **STRICT}
    )
    legacy = await client.post(
        "/graphql", json={"query": VIEWER}, headers={**bearer(tenant), **LEGACY}
    )
    bare = await client.post("/graphql", json={"query": VIEWER}, headers=bearer(tenant))
    # then
    assert strict.status_code == legacy.status_code == bare.status_code == 200
    assert strict.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert legacy.headers["content-type"] == bare.headers["content-type"] == JSON
    assert strict.json() == legacy.json()
    assert strict.json()["data"] == {"viewer": {"clientId": "test-client"}}
    assert strict.headers["vary"] == legacy.headers["vary"] == "Accept"


async def test_field_error_with_data_is_294_only_for_graphql_response_json(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # given
    headers = bearer(tenant, ["invoices:read"])
    # when
    strict = await client.post("/graphql", json={"query": PARTIAL}, headers={**headers, **STRICT})
    legacy = await client.post("/graphql", json={"query": PARTIAL}, headers={**headers, **LEGACY})
    # then: partial success, the same body
    assert (strict.status_code, legacy.status_code) == (294, 200), strict.text
    body = strict.json()
    assert body == legacy.json()
    assert body["data"] == {"viewer": {"clientId": "test-client"}, "customer": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_alias_named_errors_is_not_an_error(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # when
    response = await client.post(
        "/graphql",
        json={"query": "{ errors: viewer { clientId } }"},
        headers={**bearer(tenant), **STRICT},
    )
    # then
    assert response.status_code == 200, response.text


ILL_FORMED = {"qeury": VIEWER}
REQUEST_ERRORS = [
    pytest.param(b'{"query": "{ viewer {', "application/json", 400, id="json-parse-failure"),
    pytest.param(orjson.dumps(ILL_FORMED), "application/json", 422, id="no-query"),
    pytest.param(orjson.dumps([{"query": VIEWER}]), "application/json", 422, id="batched"),
    pytest.param(
        orjson.dumps({"query": VIEWER, "variables": [7]}), "application/json", 422, id="variables"
    ),
    pytest.param(orjson.dumps({"query": "{"}), "application/json", 400, id="document-parse"),
    pytest.param(
        orjson.dumps({"query": "{ viewer { secretSauce } }"}),
        "application/json",
        422,
        id="validation",
    ),
    pytest.param(
        orjson.dumps({"query": "query A { viewer { clientId } } query B { viewer { clientId } }"}),
        "application/json",
        422,
        id="operation-not-determined",
    ),
    pytest.param(
        orjson.dumps(
            {
                "query": "query ($id: ID!) { customer(id: $id) { id } }",
                "variables": {"id": {"not": "an id"}},
            }
        ),
        "application/json",
        422,
        id="variable-coercion",
    ),
    pytest.param(orjson.dumps({"query": VIEWER}), "text/plain", 415, id="content-type"),
    pytest.param(
        orjson.dumps({"query": VIEWER + "#" + "x" * 1_100_000}),
        "application/json",
        413,
        id="too-large",
    ),
]


@pytest.mark.parametrize(("body", "content_type", "strict_status"), REQUEST_ERRORS)
async def test_request_error_has_the_specification_status_for_graphql_response_json(
    tenant: Tenant, client: httpx.AsyncClient, body: bytes, content_type: str, strict_status: int
) -> None:
    # given
    headers = {**bearer(tenant), "Content-Type": content_type}
    # when
    strict = await client.post("/graphql", content=body, headers={**headers, **STRICT})
    legacy = await client.post("/graphql", content=body, headers={**headers, **LEGACY})
    # then: no data, errors, and a status for the kind of request error
    assert strict.status_code == strict_status, strict.text
    assert strict.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert "data" not in strict.json() and strict.json()["errors"]
    # and application/json as it always was
    assert legacy.status_code == 400, legacy.text
    assert legacy.headers["content-type"] == JSON
    assert legacy.json() == strict.json()


async def test_mutation_over_get_is_405_whatever_the_media_type(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # given
    params = {"query": 'mutation { archiveCustomer(input: {id: "cus_x"}) { userErrors { code } } }'}
    # when
    responses = [
        await client.get("/graphql", params=params, headers={**bearer(tenant), **accept})
        for accept in (STRICT, LEGACY)
    ]
    # then
    assert [r.status_code for r in responses] == [405, 405]
    assert all(r.headers["allow"] == "POST" for r in responses)


async def test_unacceptable_accept_is_406_and_runs_nothing(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # when
    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers={**bearer(tenant), "Accept": "text/csv"}
    )
    # then
    assert response.status_code == 406
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


async def test_missing_token_is_401_in_either_media_type(client: httpx.AsyncClient) -> None:
    # when
    strict = await client.post("/graphql", json={"query": VIEWER}, headers=STRICT)
    legacy = await client.post("/graphql", json={"query": VIEWER}, headers=LEGACY)
    # then
    assert strict.status_code == legacy.status_code == 401
    assert strict.headers["www-authenticate"].startswith("Bearer")
