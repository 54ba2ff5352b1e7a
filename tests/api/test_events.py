"""Customer events: written in the transaction of the change, read through `events`,
`node`, `Event.subject` and `Customer.recentEvents`, within the tenant and the token's scopes.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.conftest import Tenant

CREATE_CUSTOMER = """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id name email currency externalId metadata archived createdAt }
    userErrors { code field message }
  }
}
"""

UPDATE_CUSTOMER = """
mutation UpdateCustomer($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { id name email metadata updatedAt }
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

EVENTS = """
query Events($first: Int, $after: String, $filter: EventFilter) {
  events(first: $first, after: $after, filter: $filter) {
    edges { cursor node { id type objectId data createdAt } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
    totalCount
  }
}
"""

EVENTS_WITH_SUBJECT = """
query EventsWithSubject($filter: EventFilter) {
  events(first: 10, filter: $filter) {
    edges { node { id type data subject { id ... on Customer { name } } } }
  }
}
"""

NODE = """
query Node($id: ID!) {
  node(id: $id) { id ... on Event { type objectId } }
}
"""

RECENT_EVENTS = """
query RecentEvents($id: ID!) {
  customer(id: $id) { id recentEvents { id type data } }
}
"""

READ_AND_WRITE = ["customers:read", "customers:write"]


async def _create(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = await tenant.gql(
        CREATE_CUSTOMER, {"input": {"name": "Ada Lovelace", "currency": "EUR", **fields}}
    )
    payload = body["data"]["createCustomer"]
    assert payload["userErrors"] == [], payload
    return payload["customer"]


async def _update(tenant: Tenant, customer_id: str, **fields: Any) -> dict[str, Any]:
    body = await tenant.gql(UPDATE_CUSTOMER, {"input": {"id": customer_id, **fields}})
    return body["data"]["updateCustomer"]


async def _archive(tenant: Tenant, customer_id: str) -> dict[str, Any]:
    body = await tenant.gql(ARCHIVE_CUSTOMER, {"input": {"id": customer_id}})
    return body["data"]["archiveCustomer"]


async def _events(
    tenant: Tenant, *, scopes: list[str] | None = None, **variables: Any
) -> dict[str, Any]:
    body = await tenant.gql(EVENTS, {"first": 100, **variables}, scopes=scopes)
    assert "errors" not in body, body
    return body["data"]["events"]


def _nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


async def _event_rows(admin: asyncpg.Connection, tenant: Tenant) -> list[asyncpg.Record]:
    return await admin.fetch(
        "select id, type, object_id, xmin::text as xid from events where tenant_id = $1"
        " order by created_at, id",
        tenant.id,
    )


async def _customer_xid(admin: asyncpg.Connection, tenant: Tenant, customer_id: str) -> str:
    return await admin.fetchval(
        "select xmin::text from customers where tenant_id = $1 and id = $2",
        tenant.id,
        customer_id,
    )


async def test_create_writes_customer_created_event_with_the_customer_data(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given / when
    customer = await _create(
        tenant,
        email="ada@example.com",
        externalId="ext-1",
        metadata={"plan": "gold"},
    )
    # then
    (event,) = _nodes(await _events(tenant))
    assert event["type"] == "customer.created"
    assert event["objectId"] == customer["id"]
    assert event["id"].startswith("evt_")
    data = event["data"]
    assert data["id"] == customer["id"]
    assert data["name"] == "Ada Lovelace"
    assert data["email"] == "ada@example.com"
    assert data["currency"] == "EUR"
    assert data["externalId"] == "ext-1"
    assert data["metadata"] == {"plan": "gold"}
    assert data["archived"] is False
    # the row and its event were written by one (sub)transaction
    (row,) = await _event_rows(admin, tenant)
    assert (row["id"], row["type"], row["object_id"]) == (
        event["id"],
        "customer.created",
        customer["id"],
    )
    assert row["xid"] == await _customer_xid(admin, tenant, customer["id"])


async def test_update_writes_customer_updated_event_with_the_new_data(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    customer = await _create(tenant)
    # when
    payload = await _update(tenant, customer["id"], name="Ada King", metadata={"tier": "2"})
    # then
    assert payload["userErrors"] == []
    newest, oldest = _nodes(await _events(tenant))
    assert (newest["type"], oldest["type"]) == ("customer.updated", "customer.created")
    assert newest["objectId"] == customer["id"]
    assert newest["data"]["name"] == "Ada King"
    assert newest["data"]["metadata"] == {"tier": "2"}
    assert oldest["data"]["name"] == "Ada Lovelace"
    rows = await _event_rows(admin, tenant)
    assert [row["type"] for row in rows] == ["customer.created", "customer.updated"]
    assert rows[-1]["xid"] == await _customer_xid(admin, tenant, customer["id"])


async def test_archive_writes_customer_archived_event(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    customer = await _create(tenant)
    # when
    payload = await _archive(tenant, customer["id"])
    # then
    assert payload["userErrors"] == []
    newest = _nodes(await _events(tenant))[0]
    assert newest["type"] == "customer.archived"
    assert newest["objectId"] == customer["id"]
    assert newest["data"]["archived"] is True
    rows = await _event_rows(admin, tenant)
    assert [row["type"] for row in rows] == ["customer.created", "customer.archived"]
    assert rows[-1]["xid"] == await _customer_xid(admin, tenant, customer["id"])


async def test_mutations_failing_with_user_errors_write_no_event(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    customer = await _create(tenant, externalId="taken")
    archived = await _create(tenant, name="Grace Hopper")
    assert (await _archive(tenant, archived["id"]))["userErrors"] == []
    before = await _event_rows(admin, tenant)
    # when
    refused_create = await tenant.gql(
        CREATE_CUSTOMER,
        {"input": {"name": "Ada", "currency": "EUR", "email": "not an email"}},
    )
    duplicate_create = await tenant.gql(
        CREATE_CUSTOMER, {"input": {"name": "Ada", "currency": "EUR", "externalId": "taken"}}
    )
    refused_update = await _update(tenant, customer["id"], email="not an email")
    archived_update = await _update(tenant, archived["id"], name="Changed")
    unknown_update = await _update(tenant, "cus_doesnotexist", name="Changed")
    second_archive = await _archive(tenant, archived["id"])
    # then
    assert refused_create["data"]["createCustomer"]["userErrors"][0]["code"] == "INVALID_EMAIL"
    assert duplicate_create["data"]["createCustomer"]["userErrors"][0]["code"] == "DUPLICATE"
    assert refused_update["userErrors"][0]["code"] == "INVALID_EMAIL"
    assert archived_update["userErrors"][0]["code"] == "ARCHIVED"
    assert unknown_update["userErrors"][0]["code"] == "NOT_FOUND"
    assert second_archive["userErrors"][0]["code"] == "ALREADY_ARCHIVED"
    assert await _event_rows(admin, tenant) == before
    assert (await _events(tenant))["totalCount"] == len(before) == 3


async def test_update_that_changes_nothing_writes_no_event(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    customer = await _create(tenant, email="ada@example.com")
    first = await _update(tenant, customer["id"], name="Ada King")
    assert first["userErrors"] == []
    # when
    again = await _update(tenant, customer["id"], name="Ada King", email="ada@example.com")
    # then
    assert again["userErrors"] == []
    assert again["customer"]["name"] == "Ada King"
    assert again["customer"]["updatedAt"] == first["customer"]["updatedAt"]
    rows = await _event_rows(admin, tenant)
    assert [row["type"] for row in rows] == ["customer.created", "customer.updated"]


async def test_events_are_scoped_to_the_tenant(tenant: Tenant, other_tenant: Tenant) -> None:
    # given
    customer = await _create(tenant)
    (event,) = _nodes(await _events(tenant))
    # when
    theirs = await _events(other_tenant)
    by_object = await _events(other_tenant, filter={"objectId": customer["id"]})
    node = await other_tenant.gql(NODE, {"id": event["id"]})
    # then
    assert theirs["edges"] == [] and theirs["totalCount"] == 0
    assert by_object["edges"] == []
    assert node["data"]["node"] is None


async def test_token_without_customers_read_sees_no_customer_events(tenant: Tenant) -> None:
    # given
    await _create(tenant)
    (event,) = _nodes(await _events(tenant, scopes=READ_AND_WRITE))
    write_only = ["customers:write", "invoices:read"]
    # when
    listed = await _events(tenant, scopes=write_only)
    filtered = await _events(tenant, scopes=write_only, filter={"types": ["customer.created"]})
    node = await tenant.gql(NODE, {"id": event["id"]}, scopes=write_only)
    readable = await tenant.gql(NODE, {"id": event["id"]}, scopes=["customers:read"])
    # then
    assert listed["edges"] == [] and listed["totalCount"] == 0
    assert filtered["edges"] == [] and filtered["totalCount"] == 0
    assert node["data"]["node"] is None
    assert readable["data"]["node"] == {
        "id": event["id"],
        "type": "customer.created",
        "objectId": event["objectId"],
    }


async def test_events_filter_by_types(tenant: Tenant) -> None:
    # given
    customer = await _create(tenant)
    await _update(tenant, customer["id"], name="Ada King")
    await _archive(tenant, customer["id"])
    # when
    updated = await _events(tenant, filter={"types": ["customer.updated"]})
    created_or_archived = await _events(
        tenant, filter={"types": ["customer.created", "customer.archived"]}
    )
    unknown = await _events(tenant, filter={"types": ["invoice.paid"]})
    # then
    assert [e["type"] for e in _nodes(updated)] == ["customer.updated"]
    assert updated["totalCount"] == 1
    assert [e["type"] for e in _nodes(created_or_archived)] == [
        "customer.archived",
        "customer.created",
    ]
    assert created_or_archived["totalCount"] == 2
    assert unknown["edges"] == [] and unknown["totalCount"] == 0


async def test_events_filter_by_object_id(tenant: Tenant) -> None:
    # given
    ada = await _create(tenant)
    grace = await _create(tenant, name="Grace Hopper")
    await _update(tenant, ada["id"], name="Ada King")
    # when
    about_ada = await _events(tenant, filter={"objectId": ada["id"]})
    about_grace = await _events(tenant, filter={"objectId": grace["id"]})
    # then
    assert [(e["type"], e["objectId"]) for e in _nodes(about_ada)] == [
        ("customer.updated", ada["id"]),
        ("customer.created", ada["id"]),
    ]
    assert [(e["type"], e["objectId"]) for e in _nodes(about_grace)] == [
        ("customer.created", grace["id"])
    ]
    assert (about_ada["totalCount"], about_grace["totalCount"]) == (2, 1)


async def test_events_paginate_newest_first_with_first_and_after(tenant: Tenant) -> None:
    # given: five events
    customer = await _create(tenant)
    for number in range(4):
        assert (await _update(tenant, customer["id"], name=f"Ada {number}"))["userErrors"] == []
    everything = _nodes(await _events(tenant))
    assert [e["data"]["name"] for e in everything] == [
        "Ada 3",
        "Ada 2",
        "Ada 1",
        "Ada 0",
        "Ada Lovelace",
    ]
    # when
    first = await _events(tenant, first=2)
    second = await _events(tenant, first=2, after=first["pageInfo"]["endCursor"])
    third = await _events(tenant, first=2, after=second["pageInfo"]["endCursor"])
    # then
    pages = [first, second, third]
    assert [len(page["edges"]) for page in pages] == [2, 2, 1]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, False]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    assert [e["id"] for page in pages for e in _nodes(page)] == [e["id"] for e in everything]
    assert all(page["totalCount"] == 5 for page in pages)


async def test_event_subject_resolves_the_customer_as_it_is_now(tenant: Tenant) -> None:
    # given
    customer = await _create(tenant)
    await _update(tenant, customer["id"], name="Ada King")
    # when
    body = await tenant.gql(EVENTS_WITH_SUBJECT, {"filter": {"types": ["customer.created"]}})
    # then: data is the customer at the time, subject the customer now
    (event,) = _nodes(body["data"]["events"])
    assert event["data"]["name"] == "Ada Lovelace"
    assert event["subject"] == {"id": customer["id"], "name": "Ada King"}


async def test_customer_recent_events_lists_newest_first(tenant: Tenant) -> None:
    # given
    customer = await _create(tenant)
    await _update(tenant, customer["id"], name="Ada King")
    await _update(tenant, customer["id"], name="Ada Byron")
    await _archive(tenant, customer["id"])
    other = await _create(tenant, name="Grace Hopper")
    # when
    body = await tenant.gql(RECENT_EVENTS, {"id": customer["id"]})
    # then
    recent = body["data"]["customer"]["recentEvents"]
    assert [e["type"] for e in recent] == [
        "customer.archived",
        "customer.updated",
        "customer.updated",
        "customer.created",
    ]
    assert [e["data"]["name"] for e in recent[1:]] == ["Ada Byron", "Ada King", "Ada Lovelace"]
    listed = _nodes(await _events(tenant, filter={"objectId": customer["id"]}))
    assert [e["id"] for e in recent] == [e["id"] for e in listed]
    assert other["id"] not in {e["data"]["id"] for e in recent}
