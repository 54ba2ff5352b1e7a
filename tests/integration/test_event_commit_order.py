"""Events are listed by a position no later commit can slip behind (migration 0011).

A poller reads `events(orderBy: {direction: ASC}, after: <its last cursor>)` through the real
app. An event written by a transaction that stays open while later events commit must still
reach it, and exactly once: its position is below theirs, and none of them is listed before
the open transaction has ended.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.customers import CustomerDraft
from domain.events import CUSTOMER_CREATED, EventPosition
from domain.queries import EventFilter, PageRequest
from domain.services.customers import create_customer
from infra.db import tenant_transaction
from infra.repositories.events import SqlEventReads, SqlEventRepository
from infra.uow import SqlUnitOfWork
from tests.conftest import Tenant

POLL = """
query Poll($after: String) {
  events(first: 1, after: $after, orderBy: {direction: ASC}) {
    edges { cursor node { id type objectId position } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

CREATE_CUSTOMER = """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code } }
}
"""


class Poller:
    """A partner reading the events list page by page, resuming after its last cursor."""

    def __init__(self, tenant: Tenant) -> None:
        self._tenant = tenant
        self._cursor: str | None = None
        self.seen: list[dict[str, Any]] = []

    async def poll(self) -> list[dict[str, Any]]:
        """Reads every page there is now; the events new to this poll."""
        new: list[dict[str, Any]] = []
        while True:
            body = await self._tenant.gql(POLL, {"after": self._cursor})
            assert "errors" not in body, body
            connection = body["data"]["events"]
            new += [edge["node"] for edge in connection["edges"]]
            if connection["pageInfo"]["endCursor"] is not None:
                self._cursor = connection["pageInfo"]["endCursor"]
            if not connection["pageInfo"]["hasNextPage"]:
                break
        self.seen += new
        return new


async def _create(tenant: Tenant, name: str) -> str:
    body = await tenant.gql(CREATE_CUSTOMER, {"input": {"name": name, "currency": "EUR"}})
    payload = body["data"]["createCustomer"]
    assert payload["userErrors"] == [], payload
    return str(payload["customer"]["id"])


async def _poll_until(poller: Poller, count: int) -> None:
    """Polls as a partner does, until `count` events were seen in all (a write transaction
    elsewhere on the server may hold new events back for a moment; never for good)."""
    for _ in range(100):
        await poller.poll()
        if len(poller.seen) >= count:
            return
        await asyncio.sleep(0.05)


async def test_poller_sees_an_event_committed_late_exactly_once(
    tenant: Tenant, engine: AsyncEngine, admin: asyncpg.Connection
) -> None:
    # given an event the poller has already read
    earliest = await _create(tenant, "Before everything")
    poller = Poller(tenant)
    await _poll_until(poller, 1)
    assert [e["objectId"] for e in poller.seen] == [earliest]

    async with tenant_transaction(engine, tenant.id) as db:
        # when a transaction writes an event and stays open
        slow = await create_customer(SqlUnitOfWork(db), CustomerDraft(name="Slow", currency="EUR"))
        # while two later events commit
        later = [await _create(tenant, "Quick one"), await _create(tenant, "Quick two")]
        # then the poller is shown none of them: they stand after the open transaction's
        while_open = await poller.poll()
        assert while_open == []
    # when the slow transaction has committed
    await _poll_until(poller, 4)

    # then every event was seen exactly once, the slow one before those that committed first
    assert [e["objectId"] for e in poller.seen] == [earliest, slow.id, *later]
    assert all(e["type"] == CUSTOMER_CREATED for e in poller.seen)
    positions = [EventPosition.parse(e["position"]) for e in poller.seen]
    assert positions == sorted(positions) and len(set(positions)) == 4
    assert [e["position"] for e in poller.seen] == sorted(e["position"] for e in poller.seen)
    stored = await admin.fetch("select id from events where tenant_id = $1", tenant.id)
    assert sorted(e["id"] for e in poller.seen) == sorted(row["id"] for row in stored)
    assert await poller.poll() == []


async def test_events_written_by_one_statement_keep_the_order_they_were_given(
    tenant: Tenant, engine: AsyncEngine
) -> None:
    # given events in an order that is neither their ids' nor their objects'
    objects = [f"cus_{(number * 37) % 101:03d}" for number in range(60)]
    async with tenant_transaction(engine, tenant.id) as db:
        # when they are written in bulk, as the billing run does
        await SqlEventRepository(db).add_many(
            [(CUSTOMER_CREATED, object_id, {"id": object_id}) for object_id in objects]
        )
        # and an event written after them in the same transaction
        last = await SqlEventRepository(db).add(CUSTOMER_CREATED, "cus_last", {})

    # then they are listed in that order, oldest first, the later one after them
    async with tenant_transaction(engine, tenant.id) as db:
        listed = await SqlEventReads(db).page(
            EventFilter(types=[CUSTOMER_CREATED]), False, PageRequest(limit=100)
        )
    assert [event.object_id for event in listed] == [*objects, "cus_last"]
    assert listed[-1] == last
    assert len({event.position.transaction for event in listed}) == 1
