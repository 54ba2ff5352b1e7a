"""Customers through GraphQL over HTTP: mutations, validation, tenants, scopes and the list."""

from __future__ import annotations

import json
import re
from typing import Any

import asyncpg
import pytest

from domain.customers import CustomerDraft
from domain.services.customers import create_customer
from infra.db import tenant_transaction
from infra.uow import SqlUnitOfWork
from tests.conftest import Tenant

CUSTOMER_FIELDS = """
fragment CustomerFields on Customer {
  id
  name
  email
  currency
  externalId
  address { line1 line2 city state postalCode country }
  taxIds { type value }
  metadata
  balance { amount currency formatted }
  createdAt
  updatedAt
  archived
  archivedAt
}
"""

CREATE_CUSTOMER = (
    """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { ...CustomerFields }
    userErrors { code field message }
  }
}
"""
    + CUSTOMER_FIELDS
)

UPDATE_CUSTOMER = (
    """
mutation UpdateCustomer($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { ...CustomerFields }
    userErrors { code field message }
  }
}
"""
    + CUSTOMER_FIELDS
)

ARCHIVE_CUSTOMER = (
    """
mutation ArchiveCustomer($input: ArchiveCustomerInput!) {
  archiveCustomer(input: $input) {
    customer { ...CustomerFields }
    userErrors { code field message }
  }
}
"""
    + CUSTOMER_FIELDS
)

TWO_CREATES = """
mutation TwoCreates($first: CreateCustomerInput!, $second: CreateCustomerInput!) {
  first: createCustomer(input: $first) { customer { id } userErrors { code field } }
  second: createCustomer(input: $second) { customer { id externalId } userErrors { code field } }
}
"""

CUSTOMER = """
query Customer($id: ID!) { customer(id: $id) { id name } }
"""

NODE = """
query Node($id: ID!) { node(id: $id) { id ... on Customer { name } } }
"""

NODES = """
query Nodes($ids: [ID!]!) { nodes(ids: $ids) { id ... on Customer { name } } }
"""

CUSTOMERS = """
query Customers(
  $first: Int, $after: String, $last: Int, $before: String,
  $filter: CustomerFilter, $orderBy: CustomerOrder
) {
  customers(
    first: $first, after: $after, last: $last, before: $before,
    filter: $filter, orderBy: $orderBy
  ) {
    edges { cursor node { id name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

CUSTOMERS_WITH_TOTAL = """
query CustomersWithTotal($first: Int, $after: String, $filter: CustomerFilter) {
  customers(first: $first, after: $after, filter: $filter) {
    totalCount
    edges { node { id } }
  }
}
"""

CUSTOMERS_LIST_WITH_CREATED = """
query CustomersWithCreated { customers(first: 100) { edges { node { id createdAt } } } }
"""


# ---------------------------------------------------------------------------- helpers


async def stored_counts(db: asyncpg.Connection, tenant_id: str) -> tuple[int, int]:
    """(customers, events) stored for a tenant."""
    customers = await db.fetchval("select count(*) from customers where tenant_id = $1", tenant_id)
    events = await db.fetchval("select count(*) from events where tenant_id = $1", tenant_id)
    return customers, events


async def stored_customer(db: asyncpg.Connection, tenant_id: str, customer_id: str) -> Any:
    return await db.fetchrow(
        "select * from customers where tenant_id = $1 and id = $2", tenant_id, customer_id
    )


async def stored_events(db: asyncpg.Connection, tenant_id: str) -> list[Any]:
    return await db.fetch(
        "select * from events where tenant_id = $1 order by created_at, id", tenant_id
    )


async def create(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    """A customer created through the API; fails the test on any error."""
    body = await tenant.gql(CREATE_CUSTOMER, {"input": {"currency": "USD", **fields}})
    payload = payload_of(body, "createCustomer")
    assert payload["userErrors"] == [], payload
    return payload["customer"]


async def seed(tenant: Tenant, drafts: list[CustomerDraft]) -> list[str]:
    """Customers made through the domain service, in order; their ids."""
    async with tenant_transaction(tenant.app.state.engine, tenant.id) as db:
        return [(await create_customer(SqlUnitOfWork(db), draft)).id for draft in drafts]


def payload_of(body: dict[str, Any], mutation: str) -> dict[str, Any]:
    """A mutation's payload from a response without GraphQL errors."""
    assert "errors" not in body, body
    return body["data"][mutation]


def codes_and_fields(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


def ids_of(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


async def page(tenant: Tenant, **variables: Any) -> dict[str, Any]:
    body = await tenant.gql(CUSTOMERS, variables)
    assert "errors" not in body, body
    return body["data"]["customers"]


# ---------------------------------------------------------------------------- createCustomer


async def test_create_customer_stores_normalised_details_with_a_zero_balance(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    customer_input = {
        "name": "  Ada Lovelace  ",
        "email": "  Ada@Example.COM ",
        "currency": "EUR",
        "externalId": "crm-42",
        "address": {
            "country": "gb",
            "line1": "12 St James's Square",
            "city": "London",
            "postalCode": "SW1Y 4JH",
        },
        "taxIds": [{"type": "GB_VAT", "value": "GB123456789"}],
        "metadata": {"plan": "analytical-engine", "source": "import"},
    }

    # when
    body = await tenant.gql(CREATE_CUSTOMER, {"input": customer_input})

    # then
    payload = payload_of(body, "createCustomer")
    assert payload["userErrors"] == []
    customer = payload["customer"]
    assert customer["id"].startswith("cus_")
    assert customer["name"] == "Ada Lovelace"
    assert customer["email"] == "Ada@example.com"
    assert customer["currency"] == "EUR"
    assert customer["externalId"] == "crm-42"
    assert customer["address"] == {
        "line1": "12 St James's Square",
        "line2": None,
        "city": "London",
        "state": None,
        "postalCode": "SW1Y 4JH",
        "country": "GB",
    }
    assert customer["taxIds"] == [{"type": "GB_VAT", "value": "GB123456789"}]
    assert customer["metadata"] == {"plan": "analytical-engine", "source": "import"}
    assert customer["balance"]["amount"] == "0.00"
    assert customer["balance"]["currency"] == "EUR"
    assert customer["archived"] is False
    assert customer["archivedAt"] is None
    assert "+" in customer["createdAt"] or customer["createdAt"].endswith("Z")

    row = await stored_customer(admin, tenant.id, customer["id"])
    assert row["name"] == "Ada Lovelace"
    assert row["email"] == "Ada@example.com"
    assert row["currency"] == "EUR"
    assert row["external_id"] == "crm-42"
    assert json.loads(row["address"])["country"] == "GB"
    assert json.loads(row["tax_ids"]) == [{"type": "GB_VAT", "value": "GB123456789"}]
    assert json.loads(row["metadata"]) == {"plan": "analytical-engine", "source": "import"}
    assert row["balance"] == 0
    assert row["archived_at"] is None
    assert row["created_at"].isoformat() == customer["createdAt"]

    (event,) = await stored_events(admin, tenant.id)
    assert event["type"] == "customer.created"
    assert event["object_id"] == customer["id"]
    assert json.loads(event["data"])["email"] == "Ada@example.com"


@pytest.mark.parametrize(
    ("currency", "amount", "formatted"),
    [
        ("JPY", "0", r"¥0"),
        ("USD", "0.00", r"\$0\.00"),
        # CLDR asks for a space between a letter symbol and the digits; babel may omit it.
        ("KWD", "0.000", r"KWD[\s\u00a0]?0\.000"),
    ],
    ids=["JPY", "USD", "KWD"],
)
async def test_zero_balance_carries_exactly_the_minor_unit_digits_of_the_currency(
    tenant: Tenant, currency: str, amount: str, formatted: str
) -> None:
    # when
    customer = await create(tenant, name="Minor units", currency=currency)

    # then
    assert customer["currency"] == currency
    assert customer["balance"]["amount"] == amount
    assert customer["balance"]["currency"] == currency
    assert re.fullmatch(formatted, customer["balance"]["formatted"]), customer["balance"]


async def test_currency_code_is_accepted_in_any_case(tenant: Tenant) -> None:
    # when
    customer = await create(tenant, name="Lower case", currency="chf")

    # then
    assert customer["currency"] == "CHF"
    assert customer["balance"]["amount"] == "0.00"
    assert customer["balance"]["currency"] == "CHF"


async def test_inputs_at_their_limits_are_accepted(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    metadata = {f"key{i}": "v" * 500 for i in range(50)}
    tax_ids = [{"type": "OTHER", "value": f"TAX-{i}"} for i in range(5)]

    # when
    customer = await create(tenant, name="n" * 200, metadata=metadata, taxIds=tax_ids)

    # then
    assert customer["name"] == "n" * 200
    assert customer["metadata"] == metadata
    assert len(customer["taxIds"]) == 5
    assert await stored_counts(admin, tenant.id) == (1, 1)


# ---------------------------------------------------------------------------- bad input


INVALID_INPUTS = {
    "invalid_email": ({"email": "not-an-email"}, "INVALID_EMAIL", ["input", "email"]),
    "email_without_domain": ({"email": "ada@"}, "INVALID_EMAIL", ["input", "email"]),
    "unknown_currency": ({"currency": "ZZZ"}, "UNKNOWN_CURRENCY", ["input", "currency"]),
    "country_not_iso_3166": (
        {"address": {"country": "XX", "city": "Nowhere"}},
        "INVALID_COUNTRY",
        ["input", "address", "country"],
    ),
    "country_alpha_3": (
        {"address": {"country": "USA"}},
        "INVALID_COUNTRY",
        ["input", "address", "country"],
    ),
    "name_over_200_characters": ({"name": "n" * 201}, "TOO_LONG", ["input", "name"]),
    "empty_name": ({"name": ""}, "REQUIRED", ["input", "name"]),
    "blank_name": ({"name": "   "}, "REQUIRED", ["input", "name"]),
    "metadata_over_50_keys": (
        {"metadata": {f"k{i}": "v" for i in range(51)}},
        "TOO_MANY",
        ["input", "metadata"],
    ),
    "metadata_value_not_a_string": (
        {"metadata": {"seats": 3}},
        "INVALID",
        ["input", "metadata", "seats"],
    ),
    "metadata_value_over_500_characters": (
        {"metadata": {"note": "x" * 501}},
        "TOO_LONG",
        ["input", "metadata", "note"],
    ),
    "email_over_254_characters": (
        {"email": "a" * 245 + "@example.com"},
        "TOO_LONG",
        ["input", "email"],
    ),
    "address_line_over_200_characters": (
        {"address": {"country": "DE", "line1": "x" * 201}},
        "TOO_LONG",
        ["input", "address", "line1"],
    ),
    "tax_id_value_with_markup": (
        {"taxIds": [{"type": "EU_VAT", "value": "DE<b>123</b>"}]},
        "INVALID",
        ["input", "taxIds", "0", "value"],
    ),
    "metadata_key_over_40_characters": (
        {"metadata": {"k" * 41: "v"}},
        "INVALID",
        ["input", "metadata", "k" * 40],
    ),
    "metadata_not_an_object": (
        {"metadata": ["a", "b"]},
        "INVALID",
        ["input", "metadata"],
    ),
    "more_than_5_tax_ids": (
        {"taxIds": [{"type": "OTHER", "value": f"T{i}"} for i in range(6)]},
        "TOO_MANY",
        ["input", "taxIds"],
    ),
}


@pytest.mark.parametrize(
    ("fields", "code", "path"), list(INVALID_INPUTS.values()), ids=list(INVALID_INPUTS)
)
async def test_invalid_create_input_is_reported_with_its_field_and_writes_nothing(
    tenant: Tenant,
    admin: asyncpg.Connection,
    fields: dict[str, Any],
    code: str,
    path: list[str],
) -> None:
    # given
    customer_input = {"name": "Valid Name", "currency": "USD", **fields}

    # when
    body = await tenant.gql(CREATE_CUSTOMER, {"input": customer_input})

    # then
    payload = payload_of(body, "createCustomer")
    assert payload["customer"] is None
    assert codes_and_fields(payload) == [(code, path)]
    assert payload["userErrors"][0]["message"]
    assert await stored_counts(admin, tenant.id) == (0, 0)


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"name": "Nul\x00Name"}, ["input", "name"]),
        ({"address": {"country": "DE", "city": "Ber\x00lin"}}, ["input", "address", "city"]),
        ({"metadata": {"note": "a\x00b"}}, ["input", "metadata", "note"]),
    ],
    ids=["name", "address_city", "metadata_value"],
)
async def test_text_with_a_nul_character_is_refused_as_a_bad_request_not_a_server_error(
    tenant: Tenant, admin: asyncpg.Connection, fields: dict[str, Any], path: list[str]
) -> None:
    # given: PostgreSQL text cannot hold U+0000
    customer_input = {"name": "Valid Name", "currency": "USD", **fields}

    # when
    response = await tenant.post(CREATE_CUSTOMER, {"input": customer_input})

    # then the whole request is refused before anything runs
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "data" not in response.json()
    assert await stored_counts(admin, tenant.id) == (0, 0)


async def test_every_problem_of_an_input_is_reported_at_once(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    customer_input = {
        "name": "",
        "email": "nope",
        "currency": "ZZZ",
        "address": {"country": "QQ"},
        "metadata": {"tier": 1},
    }

    # when
    body = await tenant.gql(CREATE_CUSTOMER, {"input": customer_input})

    # then
    payload = payload_of(body, "createCustomer")
    assert payload["customer"] is None
    assert sorted(codes_and_fields(payload)) == sorted(
        [
            ("REQUIRED", ["input", "name"]),
            ("INVALID_EMAIL", ["input", "email"]),
            ("UNKNOWN_CURRENCY", ["input", "currency"]),
            ("INVALID_COUNTRY", ["input", "address", "country"]),
            ("INVALID", ["input", "metadata", "tier"]),
        ]
    )
    assert await stored_counts(admin, tenant.id) == (0, 0)


async def test_duplicate_external_id_is_reported_and_writes_nothing(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    existing = await create(tenant, name="First", externalId="crm-1")

    # when
    body = await tenant.gql(
        CREATE_CUSTOMER, {"input": {"name": "Second", "currency": "USD", "externalId": "crm-1"}}
    )

    # then
    payload = payload_of(body, "createCustomer")
    assert payload["customer"] is None
    assert codes_and_fields(payload) == [("DUPLICATE", ["input", "externalId"])]
    assert await stored_counts(admin, tenant.id) == (1, 1)
    row = await stored_customer(admin, tenant.id, existing["id"])
    assert row["name"] == "First"


async def test_duplicate_external_id_leaves_the_rest_of_the_request_working(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    await create(tenant, name="First", externalId="crm-1")

    # when
    body = await tenant.gql(
        TWO_CREATES,
        {
            "first": {"name": "Clash", "currency": "USD", "externalId": "crm-1"},
            "second": {"name": "Fine", "currency": "USD", "externalId": "crm-2"},
        },
    )

    # then
    assert "errors" not in body, body
    assert codes_and_fields(body["data"]["first"]) == [("DUPLICATE", ["input", "externalId"])]
    assert body["data"]["second"]["userErrors"] == []
    assert body["data"]["second"]["customer"]["externalId"] == "crm-2"
    assert await stored_counts(admin, tenant.id) == (2, 2)


async def test_external_ids_are_unique_within_a_tenant_only(
    tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    await create(other_tenant, name="Theirs", externalId="crm-1")

    # when
    mine = await create(tenant, name="Mine", externalId="crm-1")

    # then
    assert mine["externalId"] == "crm-1"
    assert await stored_counts(admin, tenant.id) == (1, 1)


# ---------------------------------------------------------------------------- updateCustomer


async def test_update_changes_the_given_fields_and_leaves_omitted_ones(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    created = await create(
        tenant,
        name="Grace Hopper",
        email="grace@navy.mil",
        currency="USD",
        externalId="crm-7",
        address={"country": "US", "city": "Arlington"},
        taxIds=[{"type": "US_EIN", "value": "12-3456789"}],
        metadata={"rank": "admiral"},
    )

    # when
    body = await tenant.gql(
        UPDATE_CUSTOMER,
        {"input": {"id": created["id"], "name": "Rear Admiral Hopper", "currency": "eur"}},
    )

    # then
    payload = payload_of(body, "updateCustomer")
    assert payload["userErrors"] == []
    customer = payload["customer"]
    assert customer["name"] == "Rear Admiral Hopper"
    assert customer["currency"] == "EUR"
    assert customer["balance"] == {"amount": "0.00", "currency": "EUR", "formatted": "€0.00"}
    unchanged = ("id", "email", "externalId", "address", "taxIds", "metadata", "createdAt")
    assert {k: customer[k] for k in unchanged} == {k: created[k] for k in unchanged}

    row = await stored_customer(admin, tenant.id, created["id"])
    assert row["name"] == "Rear Admiral Hopper"
    assert row["currency"] == "EUR"
    assert row["email"] == "grace@navy.mil"
    assert row["external_id"] == "crm-7"
    assert json.loads(row["address"])["city"] == "Arlington"
    assert json.loads(row["metadata"]) == {"rank": "admiral"}
    events = await stored_events(admin, tenant.id)
    assert [e["type"] for e in events] == ["customer.created", "customer.updated"]
    assert json.loads(events[-1]["data"])["name"] == "Rear Admiral Hopper"


async def test_update_with_null_clears_optional_fields(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    created = await create(
        tenant,
        name="Clearable",
        email="clear@example.com",
        externalId="crm-9",
        address={"country": "FR", "city": "Paris"},
        taxIds=[{"type": "EU_VAT", "value": "FR12345678901"}],
        metadata={"k": "v"},
    )

    # when
    body = await tenant.gql(
        UPDATE_CUSTOMER,
        {
            "input": {
                "id": created["id"],
                "email": None,
                "address": None,
                "externalId": None,
                "taxIds": None,
                "metadata": None,
            }
        },
    )

    # then
    payload = payload_of(body, "updateCustomer")
    assert payload["userErrors"] == []
    customer = payload["customer"]
    assert customer["email"] is None
    assert customer["address"] is None
    assert customer["externalId"] is None
    assert customer["taxIds"] == []
    assert customer["metadata"] == {}
    assert customer["name"] == "Clearable"

    row = await stored_customer(admin, tenant.id, created["id"])
    assert row["email"] is None
    assert row["address"] is None
    assert row["external_id"] is None
    assert json.loads(row["tax_ids"]) == []
    assert json.loads(row["metadata"]) == {}


async def test_update_with_invalid_input_reports_errors_and_changes_nothing(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    created = await create(tenant, name="Stays", email="stays@example.com")
    before = await stored_customer(admin, tenant.id, created["id"])

    # when
    body = await tenant.gql(
        UPDATE_CUSTOMER,
        {
            "input": {
                "id": created["id"],
                "name": "Changed",
                "email": "broken@",
                "address": {"country": "ZZ"},
            }
        },
    )

    # then
    payload = payload_of(body, "updateCustomer")
    assert payload["customer"] is None
    assert sorted(codes_and_fields(payload)) == sorted(
        [
            ("INVALID_EMAIL", ["input", "email"]),
            ("INVALID_COUNTRY", ["input", "address", "country"]),
        ]
    )
    assert await stored_customer(admin, tenant.id, created["id"]) == before
    assert await stored_counts(admin, tenant.id) == (1, 1)


async def test_update_with_null_name_is_required(tenant: Tenant, admin: asyncpg.Connection) -> None:
    # given
    created = await create(tenant, name="Named")

    # when
    body = await tenant.gql(UPDATE_CUSTOMER, {"input": {"id": created["id"], "name": None}})

    # then
    payload = payload_of(body, "updateCustomer")
    assert payload["customer"] is None
    assert codes_and_fields(payload) == [("REQUIRED", ["input", "name"])]
    assert (await stored_customer(admin, tenant.id, created["id"]))["name"] == "Named"


async def test_update_to_another_customers_external_id_is_duplicate(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    await create(tenant, name="Holder", externalId="crm-1")
    other = await create(tenant, name="Other", externalId="crm-2")

    # when
    body = await tenant.gql(UPDATE_CUSTOMER, {"input": {"id": other["id"], "externalId": "crm-1"}})

    # then
    payload = payload_of(body, "updateCustomer")
    assert payload["customer"] is None
    assert codes_and_fields(payload) == [("DUPLICATE", ["input", "externalId"])]
    assert (await stored_customer(admin, tenant.id, other["id"]))["external_id"] == "crm-2"
    assert await stored_counts(admin, tenant.id) == (2, 2)


async def test_update_that_changes_nothing_records_no_event(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    created = await create(tenant, name="Same", email="same@example.com")

    # when
    body = await tenant.gql(
        UPDATE_CUSTOMER,
        {"input": {"id": created["id"], "name": "Same", "email": "same@example.com"}},
    )

    # then
    payload = payload_of(body, "updateCustomer")
    assert payload["userErrors"] == []
    assert payload["customer"]["name"] == "Same"
    assert await stored_counts(admin, tenant.id) == (1, 1)


async def test_archived_customer_cannot_be_updated(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    created = await create(tenant, name="Gone")
    archived = await tenant.gql(ARCHIVE_CUSTOMER, {"input": {"id": created["id"]}})
    assert payload_of(archived, "archiveCustomer")["userErrors"] == []
    before = await stored_customer(admin, tenant.id, created["id"])

    # when
    body = await tenant.gql(UPDATE_CUSTOMER, {"input": {"id": created["id"], "name": "Back"}})

    # then
    payload = payload_of(body, "updateCustomer")
    assert payload["customer"] is None
    assert codes_and_fields(payload) == [("ARCHIVED", ["input", "id"])]
    assert await stored_customer(admin, tenant.id, created["id"]) == before
    assert await stored_counts(admin, tenant.id) == (1, 2)


async def test_update_of_an_unknown_customer_is_not_found(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # when
    body = await tenant.gql(
        UPDATE_CUSTOMER, {"input": {"id": "cus_doesNotExist0000000", "name": "Nobody"}}
    )

    # then
    payload = payload_of(body, "updateCustomer")
    assert payload["customer"] is None
    assert codes_and_fields(payload) == [("NOT_FOUND", ["input", "id"])]
    assert await stored_counts(admin, tenant.id) == (0, 0)


# ---------------------------------------------------------------------------- archiveCustomer


async def test_archive_marks_the_customer_archived_and_records_an_event(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    created = await create(tenant, name="Retiring", currency="JPY")

    # when
    body = await tenant.gql(ARCHIVE_CUSTOMER, {"input": {"id": created["id"]}})

    # then
    payload = payload_of(body, "archiveCustomer")
    assert payload["userErrors"] == []
    customer = payload["customer"]
    assert customer["id"] == created["id"]
    assert customer["archived"] is True
    assert customer["archivedAt"] is not None
    assert customer["name"] == "Retiring"
    assert customer["balance"]["amount"] == "0"

    row = await stored_customer(admin, tenant.id, created["id"])
    assert row["archived_at"] is not None
    assert row["archived_at"].isoformat() == customer["archivedAt"]
    events = await stored_events(admin, tenant.id)
    assert [e["type"] for e in events] == ["customer.created", "customer.archived"]
    assert json.loads(events[-1]["data"])["archived"] is True


async def test_archiving_twice_is_already_archived_and_writes_nothing(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    created = await create(tenant, name="Once")
    archived = await tenant.gql(ARCHIVE_CUSTOMER, {"input": {"id": created["id"]}})
    assert payload_of(archived, "archiveCustomer")["userErrors"] == []
    before = await stored_customer(admin, tenant.id, created["id"])

    # when
    body = await tenant.gql(ARCHIVE_CUSTOMER, {"input": {"id": created["id"]}})

    # then
    payload = payload_of(body, "archiveCustomer")
    assert payload["customer"] is None
    assert codes_and_fields(payload) == [("ALREADY_ARCHIVED", ["input", "id"])]
    assert await stored_customer(admin, tenant.id, created["id"]) == before
    assert await stored_counts(admin, tenant.id) == (1, 2)


async def test_archive_of_an_unknown_customer_is_not_found(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # when
    body = await tenant.gql(ARCHIVE_CUSTOMER, {"input": {"id": "cus_doesNotExist0000000"}})

    # then
    payload = payload_of(body, "archiveCustomer")
    assert payload["customer"] is None
    assert codes_and_fields(payload) == [("NOT_FOUND", ["input", "id"])]
    assert await stored_counts(admin, tenant.id) == (0, 0)


# ---------------------------------------------------------------------------- tenants


async def test_foreign_customer_reads_as_null_through_node_nodes_and_customer(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    # given
    foreign = await create(other_tenant, name="Not yours")
    mine = await create(tenant, name="Yours")

    # when
    by_customer = await tenant.gql(CUSTOMER, {"id": foreign["id"]})
    by_node = await tenant.gql(NODE, {"id": foreign["id"]})
    by_nodes = await tenant.gql(NODES, {"ids": [foreign["id"], mine["id"]]})

    # then
    assert by_customer == {"data": {"customer": None}, "extensions": {"cost": 1}}
    assert by_node == {"data": {"node": None}, "extensions": {"cost": 1}}
    assert by_nodes == {
        "data": {"nodes": [None, {"id": mine["id"], "name": "Yours"}]},
        "extensions": {"cost": 2},
    }


async def test_foreign_customer_never_appears_in_the_customers_list(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    # given
    foreign = await create(other_tenant, name="Shared Name", email="shared@example.com")
    mine = await create(tenant, name="Shared Name")

    # when
    everything = await page(tenant, first=100)
    searched = await tenant.gql(
        CUSTOMERS_WITH_TOTAL, {"first": 100, "filter": {"search": "Shared"}}
    )
    by_email = await tenant.gql(
        CUSTOMERS_WITH_TOTAL, {"first": 100, "filter": {"email": "shared@example.com"}}
    )

    # then
    assert ids_of(everything) == [mine["id"]]
    assert searched["data"]["customers"] == {
        "totalCount": 1,
        "edges": [{"node": {"id": mine["id"]}}],
    }
    assert by_email["data"]["customers"] == {"totalCount": 0, "edges": []}
    assert foreign["id"] not in json.dumps([everything, searched, by_email])


@pytest.mark.parametrize(
    ("mutation", "name", "variables"),
    [
        (UPDATE_CUSTOMER, "updateCustomer", {"name": "Hijacked", "email": "evil@example.com"}),
        (ARCHIVE_CUSTOMER, "archiveCustomer", {}),
    ],
    ids=["update", "archive"],
)
async def test_mutation_on_a_foreign_customer_answers_exactly_like_an_unknown_id(
    tenant: Tenant,
    other_tenant: Tenant,
    admin: asyncpg.Connection,
    mutation: str,
    name: str,
    variables: dict[str, Any],
) -> None:
    # given
    foreign = await create(other_tenant, name="Theirs", email="theirs@example.com")
    before = await stored_customer(admin, other_tenant.id, foreign["id"])

    # when
    on_foreign = await tenant.gql(mutation, {"input": {"id": foreign["id"], **variables}})
    on_unknown = await tenant.gql(
        mutation, {"input": {"id": "cus_neverExisted00000000", **variables}}
    )

    # then
    assert on_foreign == on_unknown
    assert codes_and_fields(on_foreign["data"][name]) == [("NOT_FOUND", ["input", "id"])]
    assert on_foreign["data"][name]["customer"] is None
    assert await stored_customer(admin, other_tenant.id, foreign["id"]) == before
    assert await stored_counts(admin, other_tenant.id) == (1, 1)
    assert await stored_counts(admin, tenant.id) == (0, 0)


async def test_nodes_refuses_more_than_100_ids(tenant: Tenant) -> None:
    # given
    created = await create(tenant, name="Many")

    # when
    body = await tenant.gql(NODES, {"ids": [created["id"]] * 101})
    at_limit = await tenant.gql(NODES, {"ids": [created["id"]] * 100})

    # then
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert len(at_limit["data"]["nodes"]) == 100
    assert {node["id"] for node in at_limit["data"]["nodes"]} == {created["id"]}


MALFORMED_IDS = ["garbage", "cus_", "cus_not-base62!", "evt_", "plan_abc", "", "cus_" + "a" * 65]


@pytest.mark.parametrize("bad_id", MALFORMED_IDS)
async def test_malformed_id_reads_as_null(tenant: Tenant, bad_id: str) -> None:
    # when
    by_customer = await tenant.gql(CUSTOMER, {"id": bad_id})
    by_node = await tenant.gql(NODE, {"id": bad_id})
    by_nodes = await tenant.gql(NODES, {"ids": [bad_id]})

    # then
    assert by_customer == {"data": {"customer": None}, "extensions": {"cost": 1}}
    assert by_node == {"data": {"node": None}, "extensions": {"cost": 1}}
    assert by_nodes == {"data": {"nodes": [None]}, "extensions": {"cost": 1}}


@pytest.mark.parametrize("bad_id", MALFORMED_IDS)
async def test_malformed_id_in_a_mutation_is_not_found(
    tenant: Tenant, admin: asyncpg.Connection, bad_id: str
) -> None:
    # when
    updated = await tenant.gql(UPDATE_CUSTOMER, {"input": {"id": bad_id, "name": "X"}})
    archived = await tenant.gql(ARCHIVE_CUSTOMER, {"input": {"id": bad_id}})

    # then
    assert updated["data"]["updateCustomer"] == {
        "customer": None,
        "userErrors": [
            {"code": "NOT_FOUND", "field": ["input", "id"], "message": "Customer not found"}
        ],
    }
    assert codes_and_fields(archived["data"]["archiveCustomer"]) == [("NOT_FOUND", ["input", "id"])]
    assert await stored_counts(admin, tenant.id) == (0, 0)


# ---------------------------------------------------------------------------- scopes


def assert_forbidden(body: dict[str, Any], scope: str, path: list[str]) -> None:
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["requiredScope"] == scope
    assert scope in error["message"]
    assert error["path"] == path


async def test_customers_list_without_read_scope_is_forbidden_naming_the_scope(
    tenant: Tenant,
) -> None:
    # given
    await create(tenant, name="Hidden")

    # when
    body = await tenant.gql(CUSTOMERS, {"first": 10}, scopes=["customers:write", "catalog:read"])

    # then
    assert_forbidden(body, "customers:read", ["customers"])


async def test_customer_lookup_without_read_scope_is_forbidden_naming_the_scope(
    tenant: Tenant,
) -> None:
    # given
    created = await create(tenant, name="Hidden")

    # when
    body = await tenant.gql(CUSTOMER, {"id": created["id"]}, scopes=["customers:write"])

    # then
    assert body["data"] == {"customer": None}
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN", "requiredScope": "customers:read"}
    assert error["path"] == ["customer"]


async def test_node_without_read_scope_reads_as_null(tenant: Tenant) -> None:
    # given
    created = await create(tenant, name="Hidden")

    # when
    body = await tenant.gql(NODE, {"id": created["id"]}, scopes=["customers:write"])

    # then
    assert body == {"data": {"node": None}, "extensions": {"cost": 1}}


async def test_create_customer_without_write_scope_is_forbidden_and_writes_nothing(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # when
    body = await tenant.gql(
        CREATE_CUSTOMER,
        {"input": {"name": "Sneaky", "currency": "USD"}},
        scopes=["customers:read"],
    )

    # then
    assert_forbidden(body, "customers:write", ["createCustomer"])
    assert await stored_counts(admin, tenant.id) == (0, 0)


@pytest.mark.parametrize(
    ("mutation", "name", "variables"),
    [
        (UPDATE_CUSTOMER, "updateCustomer", {"name": "Sneaky"}),
        (ARCHIVE_CUSTOMER, "archiveCustomer", {}),
    ],
    ids=["update", "archive"],
)
async def test_changing_a_customer_without_write_scope_is_forbidden_and_writes_nothing(
    tenant: Tenant,
    admin: asyncpg.Connection,
    mutation: str,
    name: str,
    variables: dict[str, Any],
) -> None:
    # given
    created = await create(tenant, name="Untouched")
    before = await stored_customer(admin, tenant.id, created["id"])

    # when
    body = await tenant.gql(
        mutation, {"input": {"id": created["id"], **variables}}, scopes=["customers:read"]
    )

    # then
    assert_forbidden(body, "customers:write", [name])
    assert await stored_customer(admin, tenant.id, created["id"]) == before
    assert await stored_counts(admin, tenant.id) == (1, 1)


# ---------------------------------------------------------------------------- customers list


NAMES = ["Golf", "Alpha", "Echo", "Charlie", "Foxtrot", "Bravo", "Delta"]


@pytest.fixture
async def seven(tenant: Tenant) -> list[str]:
    """Seven customers, in creation order."""
    return await seed(tenant, [CustomerDraft(name=name, currency="USD") for name in NAMES])


async def test_forward_pagination_visits_every_customer_once_in_order(
    tenant: Tenant, seven: list[str]
) -> None:
    # given
    newest_first = list(reversed(seven))

    # when
    pages = [await page(tenant, first=3)]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        pages.append(await page(tenant, first=3, after=pages[-1]["pageInfo"]["endCursor"]))

    # then
    assert [ids_of(p) for p in pages] == [newest_first[0:3], newest_first[3:6], newest_first[6:]]
    infos = [p["pageInfo"] for p in pages]
    assert [(i["hasPreviousPage"], i["hasNextPage"]) for i in infos] == [
        (False, True),
        (True, True),
        (True, False),
    ]
    for p in pages:
        assert p["pageInfo"]["startCursor"] == p["edges"][0]["cursor"]
        assert p["pageInfo"]["endCursor"] == p["edges"][-1]["cursor"]


async def test_backward_pagination_visits_every_customer_once_in_order(
    tenant: Tenant, seven: list[str]
) -> None:
    # given
    newest_first = list(reversed(seven))

    # when
    pages = [await page(tenant, last=3)]
    while pages[-1]["pageInfo"]["hasPreviousPage"]:
        pages.append(await page(tenant, last=3, before=pages[-1]["pageInfo"]["startCursor"]))

    # then
    assert [ids_of(p) for p in pages] == [newest_first[4:], newest_first[1:4], newest_first[:1]]
    infos = [p["pageInfo"] for p in pages]
    assert [(i["hasPreviousPage"], i["hasNextPage"]) for i in infos] == [
        (True, False),
        (True, True),
        (False, True),
    ]
    for p in pages:
        assert p["pageInfo"]["startCursor"] == p["edges"][0]["cursor"]
        assert p["pageInfo"]["endCursor"] == p["edges"][-1]["cursor"]


async def test_a_page_past_the_end_is_empty(tenant: Tenant, seven: list[str]) -> None:
    # given
    last_page = await page(tenant, last=1)

    # when
    beyond = await page(tenant, first=3, after=last_page["pageInfo"]["endCursor"])

    # then
    assert beyond["edges"] == []
    assert beyond["pageInfo"]["hasNextPage"] is False
    assert beyond["pageInfo"]["startCursor"] is None
    assert beyond["pageInfo"]["endCursor"] is None


@pytest.mark.parametrize(
    ("field", "direction"),
    [("NAME", "ASC"), ("NAME", "DESC"), ("CREATED_AT", "ASC"), ("CREATED_AT", "DESC")],
)
async def test_customers_are_listed_in_the_asked_order_across_pages(
    tenant: Tenant, seven: list[str], field: str, direction: str
) -> None:
    # given
    order = {"field": field, "direction": direction}
    by_name = {customer_id: name for customer_id, name in zip(seven, NAMES, strict=True)}
    expected = sorted(seven, key=by_name.get) if field == "NAME" else list(seven)  # type: ignore[arg-type]
    if direction == "DESC":
        expected.reverse()

    # when
    whole = await page(tenant, first=100, orderBy=order)
    visited: list[str] = []
    cursor = None
    while True:
        current = await page(tenant, first=2, after=cursor, orderBy=order)
        visited += ids_of(current)
        if not current["pageInfo"]["hasNextPage"]:
            break
        cursor = current["pageInfo"]["endCursor"]

    # then
    assert ids_of(whole) == expected
    assert visited == expected


async def test_equal_names_are_each_visited_once_when_paging_by_name(tenant: Tenant) -> None:
    # given
    names = ["Same", "Same", "Same", "Other", "Same", "Zulu", "Same"]
    ids = await seed(tenant, [CustomerDraft(name=name, currency="USD") for name in names])
    order = {"field": "NAME", "direction": "ASC"}

    # when
    forward: list[str] = []
    cursor = None
    while True:
        current = await page(tenant, first=1, after=cursor, orderBy=order)
        forward += ids_of(current)
        if not current["pageInfo"]["hasNextPage"]:
            break
        cursor = current["pageInfo"]["endCursor"]
    backward: list[str] = []
    cursor = None
    while True:
        current = await page(tenant, last=2, before=cursor, orderBy=order)
        backward = ids_of(current) + backward
        if not current["pageInfo"]["hasPreviousPage"]:
            break
        cursor = current["pageInfo"]["startCursor"]

    # then
    assert sorted(forward) == sorted(ids)
    assert forward == backward == ids_of(await page(tenant, first=100, orderBy=order))
    name_of = dict(zip(ids, names, strict=True))
    assert [name_of[i] for i in forward] == ["Other"] + ["Same"] * 5 + ["Zulu"]


async def test_filter_by_email_is_exact_and_case_insensitive(tenant: Tenant) -> None:
    # given
    ada = await create(tenant, name="Ada", email="Ada.Lovelace@Example.com")
    await create(tenant, name="Not Ada", email="ada.lovelace@example.com.au")
    await create(tenant, name="No Email")

    # when
    found = await tenant.gql(
        CUSTOMERS_WITH_TOTAL, {"first": 10, "filter": {"email": "ADA.LOVELACE@EXAMPLE.COM"}}
    )

    # then
    assert found["data"]["customers"] == {"totalCount": 1, "edges": [{"node": {"id": ada["id"]}}]}


async def test_search_matches_name_email_or_external_id_case_insensitively(
    tenant: Tenant,
) -> None:
    # given
    by_name = await create(tenant, name="Acme Widgets")
    by_email = await create(tenant, name="Zeta", email="billing@acme.example")
    by_external_id = await create(tenant, name="Omega", externalId="ACME-0042")
    await create(tenant, name="Unrelated", email="someone@example.com", externalId="crm-1")

    # when
    found = await tenant.gql(CUSTOMERS_WITH_TOTAL, {"first": 10, "filter": {"search": "aCmE"}})

    # then
    connection = found["data"]["customers"]
    assert connection["totalCount"] == 3
    assert sorted(ids_of(connection)) == sorted(
        [by_name["id"], by_email["id"], by_external_id["id"]]
    )


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("%", ["100% Organic"]),
        ("_", ["Snake_Case Ltd"]),
        ("0%_", []),
        ("\\", ["Back\\slash"]),
        ("e_C", ["Snake_Case Ltd"]),
    ],
)
async def test_search_treats_like_wildcards_literally(
    tenant: Tenant, search: str, expected: list[str]
) -> None:
    # given
    names = ["100% Organic", "Snake_Case Ltd", "SnakeXCase", "Plain", "Back\\slash"]
    ids = await seed(tenant, [CustomerDraft(name=name, currency="USD") for name in names])
    name_of = dict(zip(ids, names, strict=True))

    # when
    found = await tenant.gql(CUSTOMERS_WITH_TOTAL, {"first": 10, "filter": {"search": search}})

    # then
    connection = found["data"]["customers"]
    assert sorted(name_of[i] for i in ids_of(connection)) == expected
    assert connection["totalCount"] == len(expected)


async def test_created_after_is_inclusive_and_created_before_is_exclusive(
    tenant: Tenant, seven: list[str]
) -> None:
    # given
    everything = (await tenant.gql(CUSTOMERS_LIST_WITH_CREATED, {}))["data"]["customers"]
    oldest_first = list(reversed(everything["edges"]))
    created = [edge["node"]["createdAt"] for edge in oldest_first]
    ids = [edge["node"]["id"] for edge in oldest_first]

    # when
    window = await tenant.gql(
        CUSTOMERS_WITH_TOTAL,
        {"first": 100, "filter": {"createdAfter": created[2], "createdBefore": created[5]}},
    )
    after_only = await tenant.gql(
        CUSTOMERS_WITH_TOTAL, {"first": 100, "filter": {"createdAfter": created[6]}}
    )
    before_only = await tenant.gql(
        CUSTOMERS_WITH_TOTAL, {"first": 100, "filter": {"createdBefore": created[0]}}
    )

    # then
    assert ids == seven
    assert window["data"]["customers"]["totalCount"] == 3
    assert ids_of(window["data"]["customers"]) == list(reversed(ids[2:5]))
    assert ids_of(after_only["data"]["customers"]) == [ids[6]]
    assert before_only["data"]["customers"] == {"totalCount": 0, "edges": []}


async def test_archived_filter_selects_archived_or_active_customers(
    tenant: Tenant, seven: list[str]
) -> None:
    # given
    archived = {seven[1], seven[4]}
    for customer_id in archived:
        body = await tenant.gql(ARCHIVE_CUSTOMER, {"input": {"id": customer_id}})
        assert payload_of(body, "archiveCustomer")["userErrors"] == []

    # when
    only_archived = await tenant.gql(
        CUSTOMERS_WITH_TOTAL, {"first": 100, "filter": {"archived": True}}
    )
    only_active = await tenant.gql(
        CUSTOMERS_WITH_TOTAL, {"first": 100, "filter": {"archived": False}}
    )
    both = await tenant.gql(CUSTOMERS_WITH_TOTAL, {"first": 100, "filter": {"archived": None}})

    # then
    assert set(ids_of(only_archived["data"]["customers"])) == archived
    assert only_archived["data"]["customers"]["totalCount"] == 2
    assert set(ids_of(only_active["data"]["customers"])) == set(seven) - archived
    assert only_active["data"]["customers"]["totalCount"] == 5
    assert both["data"]["customers"]["totalCount"] == 7


async def test_total_count_counts_every_page_of_the_filter(
    tenant: Tenant, seven: list[str]
) -> None:
    # given
    first_page = await tenant.gql(CUSTOMERS_WITH_TOTAL, {"first": 2})
    cursor = (await page(tenant, first=2))["pageInfo"]["endCursor"]

    # when
    second_page = await tenant.gql(CUSTOMERS_WITH_TOTAL, {"first": 2, "after": cursor})
    filtered = await tenant.gql(
        CUSTOMERS_WITH_TOTAL, {"first": 1, "filter": {"search": "o"}}
    )  # Golf, Echo, Foxtrot, Bravo

    # then
    assert first_page["data"]["customers"]["totalCount"] == 7
    assert len(first_page["data"]["customers"]["edges"]) == 2
    assert second_page["data"]["customers"]["totalCount"] == 7
    assert filtered["data"]["customers"]["totalCount"] == 4
    assert len(filtered["data"]["customers"]["edges"]) == 1


def assert_bad_user_input(body: dict[str, Any]) -> None:
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["path"] == ["customers"]


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 0},
        {"first": 101},
        {"first": -1},
        {"last": 0},
        {"last": 101},
        {"first": 2, "last": 2},
        {"first": 2, "after": "garbage"},
        {"first": 2, "after": "not base64 at all!!"},
        {"last": 2, "before": "eyJmb28iOiAiYmFyIn0"},
        {"first": 2, "after": "WyJjcmVhdGVkX2F0IiwgMSwgImN1c194Il0"},  # ["created_at", 1, "cus_x"]
        {"first": 2, "after": "WyJjcmVhdGVkX2F0IiwgInllc3RlcmRheSIsICJjdXNfeCJd"},
    ],
    ids=[
        "first_0",
        "first_101",
        "first_negative",
        "last_0",
        "last_101",
        "first_and_last",
        "garbage_after",
        "non_base64_after",
        "json_object_before",
        "number_as_sort_value",
        "non_date_as_sort_value",
    ],
)
async def test_unservable_page_arguments_are_bad_user_input(
    tenant: Tenant, variables: dict[str, Any]
) -> None:
    # when
    body = await tenant.gql(CUSTOMERS, variables)

    # then
    assert_bad_user_input(body)


async def test_a_cursor_from_another_order_is_bad_user_input(
    tenant: Tenant, seven: list[str]
) -> None:
    # given
    by_name = await page(tenant, first=2, orderBy={"field": "NAME", "direction": "ASC"})
    by_created = await page(tenant, first=2)

    # when
    name_cursor_on_created = await tenant.gql(
        CUSTOMERS, {"first": 2, "after": by_name["pageInfo"]["endCursor"]}
    )
    created_cursor_on_name = await tenant.gql(
        CUSTOMERS,
        {
            "last": 2,
            "before": by_created["pageInfo"]["startCursor"],
            "orderBy": {"field": "NAME", "direction": "DESC"},
        },
    )

    # then
    assert_bad_user_input(name_cursor_on_created)
    assert_bad_user_input(created_cursor_on_name)


BILLING_SETTINGS = """
fragment BillingSettings on Customer { id taxExempt preferredLocale netTermsDays }
"""
CREATE_WITH_SETTINGS = (
    """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { ...BillingSettings } userErrors { code field } }
}
"""
    + BILLING_SETTINGS
)
UPDATE_SETTINGS = (
    """
mutation UpdateCustomer($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { ...BillingSettings } userErrors { code field } }
}
"""
    + BILLING_SETTINGS
)
# Column fields only, so the planned path answers them (and the verifier compares them with
# the executor's answer).
SETTINGS_READS = (
    """
query Settings($id: ID!) {
  customers(first: 10) { edges { node { ...BillingSettings } } }
  node(id: $id) { ...BillingSettings }
}
"""
    + BILLING_SETTINGS
)


async def _settings_row(admin: asyncpg.Connection, customer_id: str) -> tuple[str, str, int]:
    row = await admin.fetchrow(
        "select tax_exempt, preferred_locale, net_terms_days from customers where id = $1",
        customer_id,
    )
    return row["tax_exempt"], row["preferred_locale"], row["net_terms_days"]


async def test_billing_settings_default_and_are_stored_as_given(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # when
    plain = await tenant.gql(CREATE_WITH_SETTINGS, {"input": {"name": "A", "currency": "EUR"}})
    given = await tenant.gql(
        CREATE_WITH_SETTINGS,
        {
            "input": {
                "name": "B",
                "currency": "CHF",
                "taxExempt": "REVERSE",
                "preferredLocale": "de-ch",
                "netTermsDays": 0,
            }
        },
    )
    # then
    default = plain["data"]["createCustomer"]["customer"]
    chosen = given["data"]["createCustomer"]["customer"]
    assert (default["taxExempt"], default["preferredLocale"], default["netTermsDays"]) == (
        "NONE",
        "en",
        30,
    )
    assert (chosen["taxExempt"], chosen["preferredLocale"], chosen["netTermsDays"]) == (
        "REVERSE",
        "de_CH",
        0,
    )
    assert await _settings_row(admin, chosen["id"]) == ("REVERSE", "de_CH", 0)
    read = (await tenant.gql(SETTINGS_READS, {"id": chosen["id"]}))["data"]
    assert [edge["node"] for edge in read["customers"]["edges"]] == [chosen, default]
    assert read["node"] == chosen


async def test_billing_settings_change_alone_and_omitted_ones_stay(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    created = await tenant.gql(
        CREATE_WITH_SETTINGS,
        {"input": {"name": "A", "currency": "EUR", "preferredLocale": "fr", "netTermsDays": 45}},
    )
    customer_id = created["data"]["createCustomer"]["customer"]["id"]
    # when
    exempt = await tenant.gql(
        UPDATE_SETTINGS, {"input": {"id": customer_id, "taxExempt": "EXEMPT"}}
    )
    terms = await tenant.gql(UPDATE_SETTINGS, {"input": {"id": customer_id, "netTermsDays": 365}})
    # then
    assert exempt["data"]["updateCustomer"]["customer"]["preferredLocale"] == "fr"
    assert terms["data"]["updateCustomer"]["customer"] == {
        "id": customer_id,
        "taxExempt": "EXEMPT",
        "preferredLocale": "fr",
        "netTermsDays": 365,
    }
    assert await _settings_row(admin, customer_id) == ("EXEMPT", "fr", 365)
    updates = await admin.fetchval(
        "select count(*) from events where object_id = $1 and type = 'customer.updated'",
        customer_id,
    )
    assert updates == 2


BAD_SETTINGS = [
    ({"preferredLocale": "xx"}, ["input", "preferredLocale"]),
    ({"preferredLocale": "english"}, ["input", "preferredLocale"]),
    ({"preferredLocale": "de_XX"}, ["input", "preferredLocale"]),
    ({"preferredLocale": "zh_Hant"}, ["input", "preferredLocale"]),  # a script, not a territory
    ({"preferredLocale": ""}, ["input", "preferredLocale"]),
    ({"netTermsDays": -1}, ["input", "netTermsDays"]),
    ({"netTermsDays": 366}, ["input", "netTermsDays"]),
]


@pytest.mark.parametrize(("fields", "field"), BAD_SETTINGS)
async def test_bad_billing_settings_are_invalid_and_write_nothing(
    tenant: Tenant, admin: asyncpg.Connection, fields: dict[str, Any], field: list[str]
) -> None:
    # given a customer to change
    created = await tenant.gql(CREATE_WITH_SETTINGS, {"input": {"name": "A", "currency": "EUR"}})
    customer_id = created["data"]["createCustomer"]["customer"]["id"]
    # when
    create = await tenant.gql(
        CREATE_WITH_SETTINGS, {"input": {"name": "B", "currency": "EUR", **fields}}
    )
    update = await tenant.gql(UPDATE_SETTINGS, {"input": {"id": customer_id, **fields}})
    # then
    for payload in (create["data"]["createCustomer"], update["data"]["updateCustomer"]):
        assert payload["customer"] is None
        assert payload["userErrors"] == [{"code": "INVALID", "field": field}]
    assert (
        await admin.fetchval("select count(*) from customers where tenant_id = $1", tenant.id) == 1
    )
    assert await _settings_row(admin, customer_id) == ("NONE", "en", 30)


@pytest.mark.parametrize("name", ["taxExempt", "preferredLocale", "netTermsDays"])
async def test_billing_settings_cannot_be_cleared(
    tenant: Tenant, admin: asyncpg.Connection, name: str
) -> None:
    # given
    created = await tenant.gql(CREATE_WITH_SETTINGS, {"input": {"name": "A", "currency": "EUR"}})
    customer_id = created["data"]["createCustomer"]["customer"]["id"]
    # when
    body = await tenant.gql(UPDATE_SETTINGS, {"input": {"id": customer_id, name: None}})
    # then
    assert body["data"]["updateCustomer"]["userErrors"] == [
        {"code": "INVALID", "field": ["input", name]}
    ]
    assert await _settings_row(admin, customer_id) == ("NONE", "en", 30)
