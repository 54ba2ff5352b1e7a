"""The Idempotency-Key header on mutations (API.md, SECURITY.md "Idempotency").

Same key + same request replays the first response byte for byte and writes nothing;
same key + another request is IDEMPOTENCY_KEY_REUSED; a key in flight is
IDEMPOTENCY_KEY_IN_USE; keys are per tenant and expire.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from infra import idempotency
from tests.conftest import Tenant

CREATE_CUSTOMER = """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id name currency externalId }
    userErrors { code field message }
  }
}
"""

# The same operation asking for other fields: another request for the same key.
CREATE_CUSTOMER_OTHER_SELECTION = """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id name }
    userErrors { code field message }
  }
}
"""

# Refused by GraphQL validation: the payload has no such field.
CREATE_CUSTOMER_INVALID = """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id noSuchField }
    userErrors { code }
  }
}
"""

CUSTOMERS = """
query Customers {
  customers(first: 100) { edges { node { id name } } }
}
"""


def _input(name: str = "Ada Lovelace", **extra: Any) -> dict[str, Any]:
    return {"input": {"name": name, "currency": "EUR", **extra}}


def _key(tenant: Tenant, suffix: str = "") -> str:
    return f"key-{tenant.id}-{suffix}"


async def _customer_count(admin: asyncpg.Connection, tenant: Tenant) -> int:
    return await admin.fetchval("select count(*) from customers where tenant_id = $1", tenant.id)


async def _created_event_count(admin: asyncpg.Connection, tenant: Tenant) -> int:
    return await admin.fetchval(
        "select count(*) from events where tenant_id = $1 and type = 'customer.created'",
        tenant.id,
    )


async def _stored_keys(admin: asyncpg.Connection, tenant: Tenant) -> list[str]:
    rows = await admin.fetch(
        "select key from idempotency_keys where tenant_id = $1 order by key", tenant.id
    )
    return [row["key"] for row in rows]


async def _warm_pool(engine: AsyncEngine) -> None:
    """Fill the app's pool, so concurrent requests start together rather than one at a time
    behind new connections."""
    connections = await asyncio.gather(*(engine.connect() for _ in range(engine.pool.size())))
    for connection in connections:
        await connection.close()


def _error_code(body: bytes) -> str:
    return orjson.loads(body)["errors"][0]["extensions"]["code"]


async def test_same_key_and_request_replays_first_response_byte_for_byte_and_writes_nothing(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    headers = {"Idempotency-Key": _key(tenant)}
    first = await tenant.post(CREATE_CUSTOMER, _input(), headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["data"]["createCustomer"]["userErrors"] == []
    # when
    replay = await tenant.post(CREATE_CUSTOMER, _input(), headers=headers)
    # then
    assert replay.status_code == first.status_code
    assert replay.content == first.content
    assert await _customer_count(admin, tenant) == 1
    assert await _created_event_count(admin, tenant) == 1


async def test_replay_repeats_a_response_that_carried_user_errors(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given: a request that began executing and answered with userErrors
    headers = {"Idempotency-Key": _key(tenant)}
    first = await tenant.post(CREATE_CUSTOMER, _input(name=" "), headers=headers)
    assert first.status_code == 200, first.text
    errors = first.json()["data"]["createCustomer"]["userErrors"]
    assert [error["code"] for error in errors] == ["REQUIRED"]
    # when
    replay = await tenant.post(CREATE_CUSTOMER, _input(name=" "), headers=headers)
    # then: the stored answer, errors included, and still nothing written
    assert replay.status_code == 200
    assert replay.content == first.content
    assert await _stored_keys(admin, tenant) == [headers["Idempotency-Key"]]
    assert await _customer_count(admin, tenant) == 0
    assert await _created_event_count(admin, tenant) == 0


async def test_same_key_with_different_variables_is_refused_as_reused(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    headers = {"Idempotency-Key": _key(tenant)}
    first = await tenant.post(CREATE_CUSTOMER, _input("Ada Lovelace"), headers=headers)
    assert first.status_code == 200, first.text
    # when
    reused = await tenant.post(CREATE_CUSTOMER, _input("Grace Hopper"), headers=headers)
    # then
    assert reused.status_code == 422, reused.text
    assert _error_code(reused.content) == "IDEMPOTENCY_KEY_REUSED"
    assert await _customer_count(admin, tenant) == 1
    assert await _created_event_count(admin, tenant) == 1
    names = await admin.fetch("select name from customers where tenant_id = $1", tenant.id)
    assert [row["name"] for row in names] == ["Ada Lovelace"]


async def test_same_key_with_a_different_document_is_refused_as_reused(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    headers = {"Idempotency-Key": _key(tenant)}
    first = await tenant.post(CREATE_CUSTOMER, _input(), headers=headers)
    assert first.status_code == 200, first.text
    # when
    reused = await tenant.post(CREATE_CUSTOMER_OTHER_SELECTION, _input(), headers=headers)
    # then
    assert reused.status_code == 422, reused.text
    assert _error_code(reused.content) == "IDEMPOTENCY_KEY_REUSED"
    assert await _customer_count(admin, tenant) == 1


async def test_request_refused_by_validation_stores_nothing_so_the_key_stays_free(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    headers = {"Idempotency-Key": _key(tenant)}
    # when
    refused = await tenant.post(CREATE_CUSTOMER_INVALID, _input(), headers=headers)
    # then
    assert refused.status_code == 400, refused.text
    assert "noSuchField" in refused.json()["errors"][0]["message"]
    assert await _stored_keys(admin, tenant) == []
    assert await _customer_count(admin, tenant) == 0
    # when: a valid request with the same key
    valid = await tenant.post(CREATE_CUSTOMER, _input(), headers=headers)
    # then: it executes rather than being refused as a reused key
    assert valid.status_code == 200, valid.text
    assert valid.json()["data"]["createCustomer"]["customer"]["name"] == "Ada Lovelace"
    assert await _customer_count(admin, tenant) == 1


async def test_keys_are_scoped_to_the_tenant(
    tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    headers = {"Idempotency-Key": "shared-key-" + tenant.id}
    # when
    ours = await tenant.post(CREATE_CUSTOMER, _input(), headers=headers)
    theirs = await other_tenant.post(CREATE_CUSTOMER, _input(), headers=headers)
    # then: two requests, two customers, neither a replay of the other
    assert ours.status_code == theirs.status_code == 200
    our_customer = ours.json()["data"]["createCustomer"]["customer"]
    their_customer = theirs.json()["data"]["createCustomer"]["customer"]
    assert our_customer["id"] != their_customer["id"]
    assert await _customer_count(admin, tenant) == 1
    assert await _customer_count(admin, other_tenant) == 1


async def test_key_of_255_characters_is_accepted(tenant: Tenant, admin: asyncpg.Connection) -> None:
    # given
    key = ("k" * 255)[: 255 - len(tenant.id)] + tenant.id
    # when
    response = await tenant.post(CREATE_CUSTOMER, _input(), headers={"Idempotency-Key": key})
    # then
    assert response.status_code == 200, response.text
    assert await _stored_keys(admin, tenant) == [key]
    assert await _customer_count(admin, tenant) == 1


async def test_key_over_255_characters_is_refused_and_nothing_is_written(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    key = "k" * 256
    # when
    response = await tenant.post(CREATE_CUSTOMER, _input(), headers={"Idempotency-Key": key})
    # then
    assert response.status_code == 400, response.text
    assert "255" in response.json()["errors"][0]["message"]
    assert await _stored_keys(admin, tenant) == []
    assert await _customer_count(admin, tenant) == 0


async def test_query_ignores_the_idempotency_key(tenant: Tenant, admin: asyncpg.Connection) -> None:
    # given
    headers = {"Idempotency-Key": _key(tenant)}
    before = await tenant.gql(CUSTOMERS, headers=headers)
    assert before["data"]["customers"]["edges"] == []
    await tenant.gql(CREATE_CUSTOMER, _input())
    # when: the same query with the same key
    after = await tenant.gql(CUSTOMERS, headers=headers)
    # then: answered afresh, and the key was never stored
    assert [edge["node"]["name"] for edge in after["data"]["customers"]["edges"]] == [
        "Ada Lovelace"
    ]
    assert await _stored_keys(admin, tenant) == []
    # and the key is still free for a mutation
    mutation = await tenant.post(CREATE_CUSTOMER, _input("Grace Hopper"), headers=headers)
    assert mutation.status_code == 200, mutation.text
    assert mutation.json()["data"]["createCustomer"]["userErrors"] == []
    assert await _customer_count(admin, tenant) == 2


async def test_concurrent_requests_with_one_key_create_exactly_one_customer(
    app: Any, tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    headers = {"Idempotency-Key": _key(tenant)}
    await _warm_pool(app.state.engine)
    # when
    responses = await asyncio.gather(
        *(tenant.post(CREATE_CUSTOMER, _input(), headers=headers) for _ in range(20))
    )
    # then: one execution; every other answer is its replay or "in use"
    assert await _customer_count(admin, tenant) == 1
    assert await _created_event_count(admin, tenant) == 1
    (customer_id,) = [
        row["id"]
        for row in await admin.fetch("select id from customers where tenant_id = $1", tenant.id)
    ]
    executed = [r for r in responses if r.status_code == 200]
    in_use = [r for r in responses if r.status_code == 409]
    assert len(executed) + len(in_use) == 20, [r.status_code for r in responses]
    assert executed, "at least the first request answers"
    assert {r.content for r in executed} == {executed[0].content}
    assert executed[0].json()["data"]["createCustomer"]["customer"]["id"] == customer_id
    assert {_error_code(r.content) for r in in_use} <= {"IDEMPOTENCY_KEY_IN_USE"}
    # and a later retry replays the same bytes
    retry = await tenant.post(CREATE_CUSTOMER, _input(), headers=headers)
    assert retry.content == executed[0].content


async def test_delete_expired_removes_expired_records_and_keeps_the_others(
    app: Any, tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    expired, kept = _key(tenant, "expired"), _key(tenant, "kept")
    for key, name in ((expired, "Ada Lovelace"), (kept, "Grace Hopper")):
        response = await tenant.post(
            CREATE_CUSTOMER, _input(name), headers={"Idempotency-Key": key}
        )
        assert response.status_code == 200, response.text
    await admin.execute(
        "update idempotency_keys set expires_at = now() - interval '1 minute'"
        " where tenant_id = $1 and key = $2",
        tenant.id,
        expired,
    )
    # when
    removed = await idempotency.delete_expired(app.state.engine)
    # then
    assert removed >= 1
    assert await _stored_keys(admin, tenant) == [kept]


async def test_unexpired_records_are_kept_at_least_24_hours(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # when
    response = await tenant.post(
        CREATE_CUSTOMER, _input(), headers={"Idempotency-Key": _key(tenant)}
    )
    # then
    assert response.status_code == 200, response.text
    kept_for = await admin.fetchval(
        "select expires_at - created_at from idempotency_keys where tenant_id = $1", tenant.id
    )
    assert kept_for.total_seconds() >= 24 * 3600


@pytest.mark.parametrize("cleaned_up", [False, True], ids=["before-cleanup", "after-cleanup"])
async def test_expired_key_can_be_used_for_a_new_request(
    app: Any, tenant: Tenant, admin: asyncpg.Connection, cleaned_up: bool
) -> None:
    # given
    headers = {"Idempotency-Key": _key(tenant)}
    first = await tenant.post(CREATE_CUSTOMER, _input("Ada Lovelace"), headers=headers)
    assert first.status_code == 200, first.text
    await admin.execute(
        "update idempotency_keys set expires_at = now() - interval '1 minute' where tenant_id = $1",
        tenant.id,
    )
    if cleaned_up:
        await idempotency.delete_expired(app.state.engine)
    # when: another request under the old key
    second = await tenant.post(CREATE_CUSTOMER, _input("Grace Hopper"), headers=headers)
    # then: it runs, and its response is now the one the key replays
    assert second.status_code == 200, second.text
    assert second.json()["data"]["createCustomer"]["customer"]["name"] == "Grace Hopper"
    assert await _customer_count(admin, tenant) == 2
    replay = await tenant.post(CREATE_CUSTOMER, _input("Grace Hopper"), headers=headers)
    assert replay.content == second.content
    assert await _customer_count(admin, tenant) == 2
