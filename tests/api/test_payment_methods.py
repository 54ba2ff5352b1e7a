"""Payment methods through the API: attaching a provider's token (never a card number),
the customer's default, listing, detaching, nodes, scopes and tenants, and the cost of
`customer.paymentMethods` on a page of customers."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from domain.customers import CustomerDraft
from domain.services.customers import create_customer
from domain.services.payment_methods import attach_payment_method
from infra.db import tenant_transaction
from infra.payments.sandbox import SandboxPaymentProvider
from infra.repositories.accounts import ensure_account
from infra.uow import SqlUnitOfWork
from tests.conftest import StatementCounter, Tenant

METHOD_FIELDS = """
  id customerId provider providerReference brand last4 expMonth expYear fingerprint
  isDefault createdAt detachedAt
"""
ATTACH = f"""
mutation Attach($input: AttachPaymentMethodInput!) {{
  attachPaymentMethod(input: $input) {{
    paymentMethod {{ {METHOD_FIELDS} }}
    userErrors {{ code field message }}
  }}
}}
"""
SET_DEFAULT = """
mutation SetDefault($input: SetDefaultPaymentMethodInput!) {
  setDefaultPaymentMethod(input: $input) {
    paymentMethod { id isDefault }
    userErrors { code field message }
  }
}
"""
DETACH = """
mutation Detach($input: DetachPaymentMethodInput!) {
  detachPaymentMethod(input: $input) {
    paymentMethod { id isDefault detachedAt }
    userErrors { code field message }
  }
}
"""
CUSTOMER_METHODS = """
query CustomerMethods($id: ID!) {
  customer(id: $id) {
    id
    defaultPaymentMethod { id brand last4 }
    paymentMethods { id isDefault brand last4 }
  }
}
"""
NODE = f"""
query Node($id: ID!) {{
  node(id: $id) {{ id ... on PaymentMethod {{ {METHOD_FIELDS} }} }}
}}
"""
CREATE_CUSTOMER = """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code } }
}
"""
ARCHIVE_CUSTOMER = """
mutation Archive($id: ID!) {
  archiveCustomer(input: {id: $id}) { customer { id } userErrors { code } }
}
"""

PAN = "4242424242424242"  # a test card number: passes the Luhn check


async def _customer(tenant: Tenant, name: str = "Ada") -> str:
    body = await tenant.gql(CREATE_CUSTOMER, {"input": {"name": name, "currency": "EUR"}})
    assert body["data"]["createCustomer"]["userErrors"] == [], body
    return str(body["data"]["createCustomer"]["customer"]["id"])


async def _attach(
    tenant: Tenant, customer_id: str, token: str = "tok_visa", **extra: Any
) -> dict[str, Any]:
    body = await tenant.gql(
        ATTACH, {"input": {"customerId": customer_id, "providerToken": token, **extra}}
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["attachPaymentMethod"]
    return payload


async def _attached(tenant: Tenant, customer_id: str, token: str = "tok_visa", **extra: Any) -> Any:
    payload = await _attach(tenant, customer_id, token, **extra)
    assert payload["userErrors"] == [], payload
    return payload["paymentMethod"]


async def _stored(admin: asyncpg.Connection, tenant: Tenant) -> list[dict[str, Any]]:
    rows = await admin.fetch(
        "select * from payment_methods where tenant_id = $1 order by created_at", tenant.id
    )
    return [dict(row) for row in rows]


async def _methods_of(tenant: Tenant, customer_id: str) -> dict[str, Any]:
    body = await tenant.gql(CUSTOMER_METHODS, {"id": customer_id})
    assert "errors" not in body, body
    customer: dict[str, Any] = body["data"]["customer"]
    return customer


# ------------------------------------------------------------------------ attaching


async def test_attaching_a_token_stores_only_the_providers_reference_and_card_details(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    customer_id = await _customer(tenant)
    # when
    method = await _attached(tenant, customer_id, "tok_visa")
    # then the payload shows the card as the sandbox describes it
    assert method["id"].startswith("pm_")
    assert method["customerId"] == customer_id
    assert method["provider"] == "sandbox"
    assert method["providerReference"] == "tok_visa"
    assert (method["brand"], method["last4"]) == ("visa", "4242")
    assert (method["expMonth"], method["expYear"]) == (12, 2034)
    assert method["fingerprint"] and method["detachedAt"] is None
    # and the first method of a customer becomes the default
    assert method["isDefault"] is True
    # and the row holds exactly what was shown, no card number anywhere
    [row] = await _stored(admin, tenant)
    assert row["id"] == method["id"]
    assert (row["brand"], row["last4"], row["provider_reference"]) == ("visa", "4242", "tok_visa")
    assert PAN not in " ".join(str(value) for value in row.values())


async def test_the_same_card_attached_twice_has_the_same_fingerprint(tenant: Tenant) -> None:
    # given
    customer_id = await _customer(tenant)
    # when
    first = await _attached(tenant, customer_id, "tok_visa")
    second = await _attached(tenant, customer_id, "tok_visa")
    other_card = await _attached(tenant, customer_id, "tok_mastercard")
    # then
    assert first["fingerprint"] == second["fingerprint"] != other_card["fingerprint"]
    assert other_card["brand"] == "mastercard"


async def test_an_unknown_token_is_payment_method_invalid_and_writes_nothing(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    customer_id = await _customer(tenant)
    for token in ("tok_unknown", "pm_not_at_the_provider", "tok visa!"):
        # when
        payload = await _attach(tenant, customer_id, token)
        # then
        assert payload["paymentMethod"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            ("PAYMENT_METHOD_INVALID", ["input", "providerToken"])
        ], token
    assert await _stored(admin, tenant) == []


async def test_an_empty_or_overlong_token_is_refused(tenant: Tenant) -> None:
    customer_id = await _customer(tenant)
    empty = await _attach(tenant, customer_id, "")
    overlong = await _attach(tenant, customer_id, "tok_" + "x" * 300)
    assert [e["code"] for e in empty["userErrors"]] == ["REQUIRED"]
    assert [e["code"] for e in overlong["userErrors"]] == ["TOO_LONG"]


@pytest.mark.parametrize(
    "token", [PAN, "4242 4242 4242 4242", "tok_x 4242-4242-4242-4242", "5555555555554444"]
)
async def test_a_card_number_sent_as_the_token_is_refused_and_nothing_is_written(
    tenant: Tenant, admin: asyncpg.Connection, token: str
) -> None:
    # given
    customer_id = await _customer(tenant)
    # when a card number comes as the providerToken, with an Idempotency-Key
    response = await tenant.post(
        ATTACH,
        {"input": {"customerId": customer_id, "providerToken": token}},
        headers={"Idempotency-Key": "attach-card-number"},
    )
    # then the whole request is refused, the number is not echoed, nothing is kept
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "CARD_DATA_REFUSED"
    assert "4242" not in response.text
    assert await _stored(admin, tenant) == []
    kept = await admin.fetchval(
        "select count(*) from idempotency_keys where tenant_id = $1", tenant.id
    )
    assert kept == 0


async def test_a_card_number_inline_in_the_document_is_refused(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    customer_id = await _customer(tenant)
    document = (
        f'mutation {{ attachPaymentMethod(input: {{customerId: "{customer_id}", '
        f'providerToken: "{PAN}"}}) {{ paymentMethod {{ id }} }} }}'
    )
    response = await tenant.post(document)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "CARD_DATA_REFUSED"
    assert await _stored(admin, tenant) == []


async def test_an_archived_customer_gets_no_payment_method(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    customer_id = await _customer(tenant)
    archived = await tenant.gql(ARCHIVE_CUSTOMER, {"id": customer_id})
    assert archived["data"]["archiveCustomer"]["userErrors"] == []
    payload = await _attach(tenant, customer_id)
    assert [e["code"] for e in payload["userErrors"]] == ["ARCHIVED"]
    assert await _stored(admin, tenant) == []


# ------------------------------------------------------------------------ the default


async def test_a_later_method_becomes_the_default_only_when_asked(tenant: Tenant) -> None:
    # given a customer with a default method
    customer_id = await _customer(tenant)
    first = await _attached(tenant, customer_id, "tok_visa")
    # when a second comes without the flag, then a third with it
    second = await _attached(tenant, customer_id, "tok_mastercard")
    third = await _attached(tenant, customer_id, "tok_visa", setAsDefault=True)
    # then
    assert second["isDefault"] is False
    assert third["isDefault"] is True
    customer = await _methods_of(tenant, customer_id)
    assert customer["defaultPaymentMethod"]["id"] == third["id"]
    # the default first, then newest first
    assert [m["id"] for m in customer["paymentMethods"]] == [third["id"], second["id"], first["id"]]
    assert [m["isDefault"] for m in customer["paymentMethods"]] == [True, False, False]


async def test_the_first_method_attached_with_set_as_default_false_is_not_the_default(
    tenant: Tenant,
) -> None:
    customer_id = await _customer(tenant)
    method = await _attached(tenant, customer_id, setAsDefault=False)
    assert method["isDefault"] is False
    assert (await _methods_of(tenant, customer_id))["defaultPaymentMethod"] is None


async def test_set_default_payment_method_moves_the_default(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    customer_id = await _customer(tenant)
    first = await _attached(tenant, customer_id, "tok_visa")
    second = await _attached(tenant, customer_id, "tok_mastercard")
    # when
    body = await tenant.gql(SET_DEFAULT, {"input": {"paymentMethodId": second["id"]}})
    # then
    payload = body["data"]["setDefaultPaymentMethod"]
    assert payload == {"paymentMethod": {"id": second["id"], "isDefault": True}, "userErrors": []}
    defaults = {row["id"]: row["is_default"] for row in await _stored(admin, tenant)}
    assert defaults == {first["id"]: False, second["id"]: True}
    customer = await _methods_of(tenant, customer_id)
    assert customer["defaultPaymentMethod"]["id"] == second["id"]


async def test_concurrent_attachments_as_default_leave_exactly_one_default(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    customer_id = await _customer(tenant)
    # when eight methods are attached at once, each asking to be the default
    payloads = await asyncio.gather(
        *(_attach(tenant, customer_id, "tok_visa", setAsDefault=True) for _ in range(8))
    )
    # then all are attached and exactly one is the default
    assert all(payload["userErrors"] == [] for payload in payloads), payloads
    rows = await _stored(admin, tenant)
    assert len(rows) == 8
    assert sum(row["is_default"] for row in rows) == 1


# ------------------------------------------------------------------------ detaching


async def test_a_detached_method_is_no_longer_listed_nor_the_default(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a customer whose default is the only method
    customer_id = await _customer(tenant)
    method = await _attached(tenant, customer_id)
    # when
    body = await tenant.gql(DETACH, {"input": {"paymentMethodId": method["id"]}})
    # then
    payload = body["data"]["detachPaymentMethod"]
    assert payload["userErrors"] == []
    assert payload["paymentMethod"]["isDefault"] is False
    assert payload["paymentMethod"]["detachedAt"] is not None
    customer = await _methods_of(tenant, customer_id)
    assert customer["paymentMethods"] == [] and customer["defaultPaymentMethod"] is None
    # and it stays on record, readable by id
    node = (await tenant.gql(NODE, {"id": method["id"]}))["data"]["node"]
    assert node["id"] == method["id"] and node["detachedAt"] is not None
    [row] = await _stored(admin, tenant)
    assert row["detached_at"] is not None and row["is_default"] is False


async def test_a_detached_method_cannot_be_detached_again_nor_made_the_default(
    tenant: Tenant,
) -> None:
    customer_id = await _customer(tenant)
    method = await _attached(tenant, customer_id)
    await tenant.gql(DETACH, {"input": {"paymentMethodId": method["id"]}})
    again = await tenant.gql(DETACH, {"input": {"paymentMethodId": method["id"]}})
    as_default = await tenant.gql(SET_DEFAULT, {"input": {"paymentMethodId": method["id"]}})
    for body, field in ((again, "detachPaymentMethod"), (as_default, "setDefaultPaymentMethod")):
        payload = body["data"][field]
        assert payload["paymentMethod"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            ("PAYMENT_METHOD_DETACHED", ["input", "paymentMethodId"])
        ]


# ------------------------------------------------------------------------ nodes and scopes


async def test_a_payment_method_is_a_node_read_with_payments_read(tenant: Tenant) -> None:
    # given
    customer_id = await _customer(tenant)
    method = await _attached(tenant, customer_id)
    # when
    readable = await tenant.gql(NODE, {"id": method["id"]}, scopes=["payments:read"])
    unreadable = await tenant.gql(NODE, {"id": method["id"]}, scopes=["customers:read"])
    # then
    assert readable["data"]["node"] == method
    assert unreadable["data"]["node"] is None


async def test_attaching_needs_payments_write_and_writes_nothing_without_it(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    customer_id = await _customer(tenant)
    body = await tenant.gql(
        ATTACH,
        {"input": {"customerId": customer_id, "providerToken": "tok_visa"}},
        scopes=["customers:write", "customers:read", "payments:read"],
    )
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {
        "code": "FORBIDDEN",
        "requiredScope": "payments:write",
    }
    assert await _stored(admin, tenant) == []


async def test_a_customers_payment_methods_need_payments_read(tenant: Tenant) -> None:
    customer_id = await _customer(tenant)
    await _attached(tenant, customer_id)
    body = await tenant.gql(CUSTOMER_METHODS, {"id": customer_id}, scopes=["customers:read"])
    refused = {
        (tuple(error["path"]), error["extensions"]["requiredScope"]) for error in body["errors"]
    }
    assert refused == {
        (("customer", "defaultPaymentMethod"), "payments:read"),
        (("customer", "paymentMethods"), "payments:read"),
    }
    assert body["data"]["customer"] is None  # paymentMethods is non-null: the customer is null


async def test_another_tenants_customer_and_methods_are_not_found(
    tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a customer with a method in another account
    theirs = await _customer(other_tenant, "Grace")
    their_method = await _attached(other_tenant, theirs)
    # when this account attaches to their customer, or changes or reads their method
    attach = await _attach(tenant, theirs)
    as_default = await tenant.gql(SET_DEFAULT, {"input": {"paymentMethodId": their_method["id"]}})
    detach = await tenant.gql(DETACH, {"input": {"paymentMethodId": their_method["id"]}})
    node = await tenant.gql(NODE, {"id": their_method["id"]})
    # then each is as if they never existed, and nothing changed
    assert [(e["code"], e["field"]) for e in attach["userErrors"]] == [
        ("NOT_FOUND", ["input", "customerId"])
    ]
    for body, field in ((as_default, "setDefaultPaymentMethod"), (detach, "detachPaymentMethod")):
        assert [e["code"] for e in body["data"][field]["userErrors"]] == ["NOT_FOUND"]
    assert node["data"]["node"] is None
    assert await _stored(admin, tenant) == []
    [row] = await _stored(admin, other_tenant)
    assert row["is_default"] is True and row["detached_at"] is None


async def test_ids_of_another_kind_are_not_found(tenant: Tenant) -> None:
    customer_id = await _customer(tenant)
    payload = await _attach(tenant, "pm_" + customer_id.removeprefix("cus_"))
    body = await tenant.gql(SET_DEFAULT, {"input": {"paymentMethodId": customer_id}})
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]
    assert [e["code"] for e in body["data"]["setDefaultPaymentMethod"]["userErrors"]] == [
        "NOT_FOUND"
    ]


# ------------------------------------------------------------------------ query counts

CUSTOMER_PAGE = """
query Page($first: Int!) {
  customers(first: $first, orderBy: {field: NAME, direction: ASC}) {
    edges { node {
      id name
      defaultPaymentMethod { id last4 }
      paymentMethods { id brand last4 isDefault }
    } }
  }
}
"""
PAGE_SIZE = 50


@pytest.fixture(scope="module")
async def customers_with_methods(app: Any) -> str:
    """A tenant of its own with 50 customers, each with two payment methods."""
    tenant_id = "t-" + secrets.token_hex(6)
    async with app.state.engine.begin() as conn:
        await ensure_account(conn, tenant_id, f"Payment methods merchant {tenant_id}")
    provider = SandboxPaymentProvider(app.state.engine, tenant_id)
    async with tenant_transaction(app.state.engine, tenant_id) as db:
        for i in range(PAGE_SIZE):
            customer = await create_customer(
                SqlUnitOfWork(db), CustomerDraft(name=f"Customer {i:03d}", currency="EUR")
            )
            for token in ("tok_visa", "tok_mastercard"):
                await attach_payment_method(
                    SqlUnitOfWork(db), provider, customer.id, token, now=datetime.now(UTC)
                )
    return tenant_id


async def test_a_page_of_50_customers_with_their_methods_costs_as_many_statements_as_5(
    customers_with_methods: str, app: Any, client: httpx.AsyncClient
) -> None:
    # given
    tenant = Tenant(id=customers_with_methods, app=app, client=client)
    scopes = ["customers:read", "payments:read"]
    await tenant.gql(CUSTOMER_PAGE, {"first": 1}, scopes=scopes)  # warm-up
    counter = StatementCounter(app.state.engine)

    # when
    with counter:
        small = await tenant.gql(CUSTOMER_PAGE, {"first": 5}, scopes=scopes)
    small_count, small_sql = counter.count, list(counter.statements)
    with counter:
        large = await tenant.gql(CUSTOMER_PAGE, {"first": PAGE_SIZE}, scopes=scopes)
    large_count, large_sql = counter.count, list(counter.statements)

    # then every customer has both methods, the default first
    assert "errors" not in large, large
    edges = large["data"]["customers"]["edges"]
    assert len(edges) == PAGE_SIZE and len(small["data"]["customers"]["edges"]) == 5
    for edge in edges:
        node = edge["node"]
        assert [m["brand"] for m in node["paymentMethods"]] == ["visa", "mastercard"]
        assert node["defaultPaymentMethod"]["id"] == node["paymentMethods"][0]["id"]
    # and the cost does not grow with the page: tenant setting, page, one for the methods
    assert large_count == small_count, large_sql
    assert small_count <= 4, small_sql
    assert sum("payment_methods" in statement for statement in large_sql) == 1, large_sql
