"""Concurrent changes to customers through the real app.

httpx.ASGITransport runs the requests concurrently in one event loop, each in its own
tenant transaction on its own pooled connection, so they meet in PostgreSQL's locks and
constraints as requests of separate replicas would.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import Tenant

CREATE_CUSTOMER = """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id externalId }
    userErrors { code field message }
  }
}
"""

UPDATE_CUSTOMER = """
mutation UpdateCustomer($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { id name metadata }
    userErrors { code field message }
  }
}
"""

ARCHIVE_CUSTOMER = """
mutation ArchiveCustomer($input: ArchiveCustomerInput!) {
  archiveCustomer(input: $input) {
    customer { id archived }
    userErrors { code field message }
  }
}
"""

CUSTOMER = """
query Customer($id: ID!) {
  customer(id: $id) { id name metadata archived }
}
"""

CUSTOMER_DETAILS = """
query CustomerDetails($id: ID!) {
  customer(id: $id) {
    name email externalId metadata
    address { country city }
    taxIds { type value }
  }
}
"""


@pytest.fixture
async def warm_pool(app: Any) -> None:
    """Fill the app's pool, so concurrent requests start together rather than one at a time
    behind new connections."""
    engine: AsyncEngine = app.state.engine
    connections = await asyncio.gather(*(engine.connect() for _ in range(engine.pool.size())))
    for connection in connections:
        await connection.close()


async def _create(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = await tenant.gql(
        CREATE_CUSTOMER, {"input": {"name": "Ada Lovelace", "currency": "EUR", **fields}}
    )
    payload = body["data"]["createCustomer"]
    assert payload["userErrors"] == [], body
    return payload["customer"]


async def _event_data(
    admin: asyncpg.Connection, tenant: Tenant, event_type: str
) -> list[dict[str, Any]]:
    rows = await admin.fetch(
        "select data::text from events where tenant_id = $1 and type = $2 order by created_at, id",
        tenant.id,
        event_type,
    )
    return [orjson.loads(row["data"]) for row in rows]


async def test_concurrent_updates_all_succeed_and_leave_the_state_of_the_last_one(
    tenant: Tenant, admin: asyncpg.Connection, warm_pool: None
) -> None:
    # given
    customer = await _create(tenant)
    changes = [{"name": f"Name {n}", "metadata": {"writer": str(n)}} for n in range(10)]
    # when
    bodies = await asyncio.gather(
        *(
            tenant.gql(UPDATE_CUSTOMER, {"input": {"id": customer["id"], **change}})
            for change in changes
        )
    )
    # then: every update applied, one after the other, none over another
    payloads = [body["data"]["updateCustomer"] for body in bodies]
    assert all(payload["userErrors"] == [] for payload in payloads), payloads
    for change, payload in zip(changes, payloads, strict=True):
        assert payload["customer"]["name"] == change["name"]
        assert payload["customer"]["metadata"] == change["metadata"]
    final = (await tenant.gql(CUSTOMER, {"id": customer["id"]}))["data"]["customer"]
    assert {"name": final["name"], "metadata": final["metadata"]} in changes
    updated = await _event_data(admin, tenant, "customer.updated")
    assert len(updated) == 10
    assert sorted(event["name"] for event in updated) == sorted(c["name"] for c in changes)
    # the newest event tells the final state
    assert (updated[-1]["name"], updated[-1]["metadata"]) == (final["name"], final["metadata"])
    row = await admin.fetchrow(
        "select name, metadata::text from customers where tenant_id = $1 and id = $2",
        tenant.id,
        customer["id"],
    )
    assert (row["name"], orjson.loads(row["metadata"])) == (final["name"], final["metadata"])


async def test_concurrent_updates_of_different_fields_lose_none_of_them(
    tenant: Tenant, admin: asyncpg.Connection, warm_pool: None
) -> None:
    # given
    customer = await _create(tenant)
    changes = [
        {"email": "ada@example.com"},
        {"externalId": "crm-7"},
        {"metadata": {"tier": "gold"}},
        {"address": {"country": "GB", "city": "London"}},
        {"taxIds": [{"type": "GB_VAT", "value": "GB123456789"}]},
    ]
    # when
    bodies = await asyncio.gather(
        *(
            tenant.gql(UPDATE_CUSTOMER, {"input": {"id": customer["id"], **change}})
            for change in changes
        )
    )
    # then: each update read the customer after the one before it wrote
    assert all(body["data"]["updateCustomer"]["userErrors"] == [] for body in bodies), bodies
    final = (await tenant.gql(CUSTOMER_DETAILS, {"id": customer["id"]}))["data"]["customer"]
    assert final == {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "externalId": "crm-7",
        "metadata": {"tier": "gold"},
        "address": {"country": "GB", "city": "London"},
        "taxIds": [{"type": "GB_VAT", "value": "GB123456789"}],
    }
    assert len(await _event_data(admin, tenant, "customer.updated")) == len(changes)


async def test_concurrent_creates_with_one_external_id_create_exactly_one_customer(
    tenant: Tenant, admin: asyncpg.Connection, warm_pool: None
) -> None:
    # given
    variables = {"input": {"name": "Ada Lovelace", "currency": "EUR", "externalId": "crm-42"}}
    # when
    bodies = await asyncio.gather(*(tenant.gql(CREATE_CUSTOMER, variables) for _ in range(2)))
    # then
    payloads = [body["data"]["createCustomer"] for body in bodies]
    created = [p for p in payloads if p["customer"] is not None]
    refused = [p for p in payloads if p["customer"] is None]
    assert len(created) == 1 and len(refused) == 1, payloads
    assert created[0]["userErrors"] == []
    assert created[0]["customer"]["externalId"] == "crm-42"
    assert [(e["code"], e["field"]) for e in refused[0]["userErrors"]] == [
        ("DUPLICATE", ["input", "externalId"])
    ]
    ids = [
        row["id"]
        for row in await admin.fetch(
            "select id from customers where tenant_id = $1 and external_id = 'crm-42'", tenant.id
        )
    ]
    assert ids == [created[0]["customer"]["id"]]
    created_events = await _event_data(admin, tenant, "customer.created")
    assert [event["id"] for event in created_events] == ids


async def test_concurrent_archives_archive_once_and_emit_one_event(
    tenant: Tenant, admin: asyncpg.Connection, warm_pool: None
) -> None:
    # given
    customer = await _create(tenant)
    # when
    bodies = await asyncio.gather(
        *(tenant.gql(ARCHIVE_CUSTOMER, {"input": {"id": customer["id"]}}) for _ in range(5))
    )
    # then
    payloads = [body["data"]["archiveCustomer"] for body in bodies]
    archived = [p for p in payloads if p["customer"] is not None]
    refused = [p for p in payloads if p["customer"] is None]
    assert len(archived) == 1, payloads
    assert archived[0]["userErrors"] == []
    assert archived[0]["customer"] == {"id": customer["id"], "archived": True}
    assert len(refused) == 4
    assert all(
        [error["code"] for error in p["userErrors"]] == ["ALREADY_ARCHIVED"] for p in refused
    )
    archived_events = await _event_data(admin, tenant, "customer.archived")
    assert [event["id"] for event in archived_events] == [customer["id"]]
    archived_at = await admin.fetchval(
        "select archived_at from customers where tenant_id = $1 and id = $2",
        tenant.id,
        customer["id"],
    )
    assert archived_at is not None
