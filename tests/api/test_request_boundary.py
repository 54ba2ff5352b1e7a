"""What no request may carry or cause, whatever field it hides in: card numbers, NUL
characters, variables of the wrong type, unknown accounts, and bugs that would leak
internals. Each is refused before anything runs, and nothing is written or stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from infra.app import create_app
from infra.repositories.customers import SqlCustomerReads
from infra.settings import Settings
from tests.conftest import Tenant
from tests.conftest import TestDatabase as SessionDatabase

CREATE_CUSTOMER = """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id }
    userErrors { code field message }
  }
}
"""
UPDATE_CUSTOMER = """
mutation UpdateCustomer($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { id currency }
    userErrors { code field message }
  }
}
"""
CUSTOMERS_CREATED_AFTER = """
query Customers($after: DateTime) {
  customers(filter: {createdAfter: $after}) { edges { node { id } } }
}
"""
CARD = "4242 4242 4242 4242"


async def _written(admin: asyncpg.Connection, tenant: Tenant) -> tuple[int, int, int]:
    """(customers, events, idempotency records) of the tenant."""
    row = await admin.fetchrow(
        """
        select (select count(*) from customers where tenant_id = $1),
               (select count(*) from events where tenant_id = $1),
               (select count(*) from idempotency_keys where tenant_id = $1)
        """,
        tenant.id,
    )
    return tuple(row)  # type: ignore[return-value]


@pytest.mark.parametrize(
    "customer_input",
    [
        {"name": "Acme", "currency": "USD", "taxIds": [{"type": "OTHER", "value": CARD}]},
        {"name": "Acme", "currency": CARD.replace(" ", "")},
        {"name": "Acme", "currency": "USD", "taxIds": [{"type": CARD, "value": "1"}]},
        {"name": "Acme", "currency": "USD", "metadata": {CARD: "key, not value"}},
    ],
    ids=["tax-id", "currency", "enum-value", "metadata-key"],
)
async def test_a_card_number_anywhere_is_refused_never_echoed_and_never_stored(
    tenant: Tenant, admin: asyncpg.Connection, customer_input: dict[str, Any]
) -> None:
    # when a request carries a card number, with an idempotency key
    response = await tenant.post(
        CREATE_CUSTOMER, {"input": customer_input}, headers={"Idempotency-Key": "card-1"}
    )
    # then it is refused as a whole, the number is not repeated, and nothing is kept
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "CARD_DATA_REFUSED"
    assert "4242" not in response.text
    assert await _written(admin, tenant) == (0, 0, 0)


async def test_a_card_number_inline_in_the_document_is_refused(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given the number written into the document rather than a variable
    document = (
        'mutation { createCustomer(input: {name: "4111111111111111", currency: "USD"}) '
        "{ customer { id } } }"
    )
    # when
    response = await tenant.post(document)
    # then
    assert response.status_code == 400
    assert await _written(admin, tenant) == (0, 0, 0)


async def test_variables_of_the_wrong_type_are_a_request_error_and_leave_the_key_free(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a variable that does not fit its type, sent with a key
    bad = await tenant.post(
        CREATE_CUSTOMER,
        {"input": {"name": "Acme", "currency": "USD", "taxIds": [{"type": "NOPE", "value": "1"}]}},
        headers={"Idempotency-Key": "typed-1"},
    )
    # then it is a 400 without data, and nothing is stored under the key
    assert bad.status_code == 400
    assert "data" not in bad.json()
    assert await _written(admin, tenant) == (0, 0, 0)
    # and the key still serves a correct request
    good = await tenant.gql(
        CREATE_CUSTOMER,
        {"input": {"name": "Acme", "currency": "USD"}},
        headers={"Idempotency-Key": "typed-1"},
    )
    assert good["data"]["createCustomer"]["customer"]["id"].startswith("cus_")


async def test_a_replay_needs_the_same_scopes_as_the_first_request(tenant: Tenant) -> None:
    # given a mutation made with a key by a token with all scopes
    first = await tenant.post(
        CREATE_CUSTOMER,
        {"input": {"name": "Acme", "currency": "USD"}},
        headers={"Idempotency-Key": "scoped-1"},
    )
    assert first.status_code == 200
    # when a token with fewer scopes sends the same request
    other = await tenant.post(
        CREATE_CUSTOMER,
        {"input": {"name": "Acme", "currency": "USD"}},
        scopes=["customers:write"],
        headers={"Idempotency-Key": "scoped-1"},
    )
    # then it does not get the stored response
    assert other.status_code == 422
    assert other.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_a_date_time_beyond_the_representable_range_is_refused_not_a_crash(
    tenant: Tenant, moment: str
) -> None:
    response = await tenant.post(CUSTOMERS_CREATED_AFTER, {"after": moment})
    assert response.status_code == 400
    assert "out of the supported range" in response.json()["errors"][0]["message"]


async def test_the_currency_cannot_change_while_the_customer_has_a_balance(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a customer with a credit balance of 5.00 USD
    created = await tenant.gql(CREATE_CUSTOMER, {"input": {"name": "Acme", "currency": "USD"}})
    customer_id = created["data"]["createCustomer"]["customer"]["id"]
    adjusted = await tenant.gql(
        "mutation($input: AdjustCustomerBalanceInput!) { adjustCustomerBalance(input: $input)"
        " { userErrors { code } } }",
        {"input": {"customerId": customer_id, "amount": "-5.00", "description": "Goodwill"}},
    )
    assert adjusted["data"]["adjustCustomerBalance"]["userErrors"] == []
    # when its currency is changed
    body = await tenant.gql(UPDATE_CUSTOMER, {"input": {"id": customer_id, "currency": "JPY"}})
    # then the change is refused and the currency stays
    payload = body["data"]["updateCustomer"]
    assert payload["customer"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("INVALID", ["input", "currency"])
    ]
    assert await admin.fetchval("select currency from customers where id = $1", customer_id) == (
        "USD"
    )


async def test_metadata_at_its_limits_in_multibyte_text_is_stored(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given 50 keys with 500 CJK characters each: within the contract's bounds
    metadata = {f"k{i:02d}": "請" * 500 for i in range(50)}
    # when
    body = await tenant.gql(
        CREATE_CUSTOMER, {"input": {"name": "Acme", "currency": "USD", "metadata": metadata}}
    )
    # then
    assert body["data"]["createCustomer"]["userErrors"] == []
    assert (await _written(admin, tenant))[0] == 1


async def test_a_token_for_an_account_that_does_not_exist_is_refused(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a valid token naming an account never created here
    ghost = Tenant(id="ghost-" + tenant.id, app=tenant.app, client=tenant.client)
    # when
    response = await ghost.post(CREATE_CUSTOMER, {"input": {"name": "Acme", "currency": "USD"}})
    # then
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "UNKNOWN_ACCOUNT"


@pytest.fixture
async def production_app(test_database: SessionDatabase, tmp_path: Any) -> AsyncIterator[Any]:
    settings = Settings(
        environment="production",
        database_url=test_database.url,
        data_dir=tmp_path,
        secret_key="test-secret-key-" + "x" * 32,
        oauth_issuer="https://ledgerline.test",
    )
    application = create_app(settings, test_database.url)
    async with application.router.lifespan_context(application):
        yield application


async def test_an_unexpected_error_is_masked_in_production_with_an_id_to_quote(
    production_app: Any, tenant: Tenant, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    # given a bug deep in the read path whose message holds something private
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("select * from customers where email = 'jane@example.com'")

    monkeypatch.setattr(SqlCustomerReads, "page", broken)
    token = production_app.state.issuer.issue(
        client_id="c", tenant_id=tenant.id, scopes=["customers:read"]
    ).access_token
    transport = httpx.ASGITransport(app=production_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://prod.test") as client:
        # when
        response = await client.post(
            "/graphql",
            json={"query": "{ customers { edges { node { id } } } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
    # then the caller sees no internals, only an id that the log line carries too
    error = response.json()["errors"][0]
    assert error["message"] == "Unexpected error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "jane" not in response.text
    assert error["extensions"]["errorId"] in caplog.text


async def test_a_stray_bearer_token_does_not_break_health_checks_or_the_token_endpoint(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Authorization": "Bearer not-a-token"}
    assert (await client.get("/healthz", headers=headers)).status_code == 200
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=headers
    )
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "form",
    [
        {"client_id": "cli_\x00", "client_secret": "x"},
        {"client_id": "'; drop", "client_secret": "x"},
    ],
)
async def test_malformed_client_ids_are_invalid_clients_not_server_errors(
    client: httpx.AsyncClient, form: dict[str, str]
) -> None:
    response = await client.post("/oauth/token", data={"grant_type": "client_credentials", **form})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_an_oversized_token_request_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "scope": "x" * 20000}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_a_card_number_hidden_behind_json_escapes_is_still_refused(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given "4242 4242 4242 4242" with its first digit and a space written as JSON escapes
    raw = (
        '{"query": "mutation($n: String!) { createCustomer(input: {name: $n, currency: \\"USD\\"})'
        ' { customer { id } } }", "variables": {"n": "\\u0034242\\u00204242 4242 4242"}}'
    )
    # when
    response = await tenant.client.post(
        "/graphql",
        content=raw,
        headers={"Authorization": f"Bearer {tenant.token()}", "Content-Type": "application/json"},
    )
    # then
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "CARD_DATA_REFUSED"
    assert await _written(admin, tenant) == (0, 0, 0)


async def test_a_whole_number_with_a_fraction_is_an_int(tenant: Tenant) -> None:
    # Python's json.dumps(2.0) writes "2.0": still the Int 2
    body = await tenant.gql("query($n: Int) { customers(first: $n) { totalCount } }", {"n": 2.0})
    assert "errors" not in body, body


async def test_variables_too_deep_to_fingerprint_are_refused_not_a_crash(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given metadata nested 300 levels deep, sent with an Idempotency-Key
    deep: Any = "x"
    for _ in range(300):
        deep = [deep]
    response = await tenant.post(
        CREATE_CUSTOMER,
        {"input": {"name": "Deep", "currency": "USD", "metadata": {"k": deep}}},
        headers={"Idempotency-Key": "deep-1"},
    )
    assert response.status_code == 400, response.text
    assert "nested too deeply" in response.json()["errors"][0]["message"]
    assert await _written(admin, tenant) == (0, 0, 0)
