"""Webhook delivery against real PostgreSQL and a real HTTP receiver on 127.0.0.1: retries
until a 2xx with a signature the `standardwebhooks` library verifies, order per object,
endpoints disabled after failing for good (an event says so, nothing is lost, enabling
resumes), resending one delivery, and the destination checked again at delivery time."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook

from domain.webhook_deliveries import RetrySchedule
from infra.secret_box import SecretBox
from infra.webhooks.destinations import WebhookDestinations
from infra.webhooks.dispatcher import DeliveryConfig, Poster, WebhookDispatcher
from infra.webhooks.wire import WebhookPoster
from tests.conftest import TEST_SECRET_KEY, Tenant
from tests.support.webhook_receiver import receiving

CREATE_ENDPOINT = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    webhookEndpoint { id } secret userErrors { code field message }
  }
}
"""
CREATE_CUSTOMER = """
mutation($name: String!) {
  createCustomer(input: {name: $name, currency: "USD"}) { customer { id } userErrors { code } }
}
"""
UPDATE_CUSTOMER = """
mutation($id: ID!, $name: String!) {
  updateCustomer(input: {id: $id, name: $name}) { customer { id } userErrors { code } }
}
"""
ENDPOINT = """
query($id: ID!) {
  webhookEndpoint(id: $id) {
    status disabledAt disabledReason
    deliveries(first: 10) {
      id eventId eventType objectId status attemptCount nextAttemptAt completedAt
      attempts { attemptedAt statusCode latencyMs error succeeded }
    }
  }
}
"""
RETRY = """
mutation($id: ID!) {
  retryWebhookDelivery(input: {deliveryId: $id}) {
    webhookDelivery { id status } userErrors { code field message }
  }
}
"""
ENABLE = """
mutation($id: ID!) {
  enableWebhookEndpoint(input: {id: $id}) {
    webhookEndpoint { id status disabledAt } userErrors { code field }
  }
}
"""
EVENTS = """
query($types: [String!]) {
  events(first: 10, filter: {types: $types}) { edges { node { type objectId data } } }
}
"""

FAST = RetrySchedule(
    max_attempts=5, base_delay=timedelta(milliseconds=1), max_delay=timedelta(milliseconds=5)
)


def dispatcher(
    engine: AsyncEngine,
    *,
    schedule: RetrySchedule = FAST,
    timeout: float = 5.0,
    disable_after: int = 5,
    production: bool = False,
    destinations: WebhookDestinations | None = None,
    poster: Poster | None = None,
) -> WebhookDispatcher:
    config = DeliveryConfig(
        schedule=schedule,
        timeout=timeout,
        lease_seconds=max(2 * timeout, 1.0),
        batch_size=20,
        disable_after=disable_after,
        production=production,
    )
    return WebhookDispatcher(
        engine,
        SecretBox(TEST_SECRET_KEY),
        config,
        poster=poster,
        destinations=destinations,
        rng=random.Random(7),
    )


async def run_until(
    worker: WebhookDispatcher, tenant: Tenant, done: Callable[[], Any], limit: float = 30.0
) -> None:
    """Dispatcher rounds for the tenant until `done()` holds (events become deliverable once
    every older transaction on the server has ended, retries once their delay passed)."""
    deadline = time.monotonic() + limit
    while not await _holds(done):
        assert time.monotonic() < deadline, "the deliveries never got there"
        await worker.run_tenant(tenant.id)
        await asyncio.sleep(0.01)


async def _holds(done: Callable[[], Any]) -> bool:
    result = done()
    if asyncio.iscoroutine(result):
        result = await result
    return bool(result)


async def endpoint(tenant: Tenant, url: str, events: list[str] | None = None) -> tuple[str, str]:
    body = await tenant.gql(CREATE_ENDPOINT, {"input": {"url": url, "events": events or ["*"]}})
    payload = body["data"]["createWebhookEndpoint"]
    assert payload["userErrors"] == [], payload
    return payload["webhookEndpoint"]["id"], payload["secret"]


async def customer(tenant: Tenant, name: str = "Ada") -> str:
    body = await tenant.gql(CREATE_CUSTOMER, {"name": name})
    customer_id: str = body["data"]["createCustomer"]["customer"]["id"]
    return customer_id


async def endpoint_state(tenant: Tenant, endpoint_id: str) -> dict[str, Any]:
    body = await tenant.gql(ENDPOINT, {"id": endpoint_id})
    assert "errors" not in body, body
    state: dict[str, Any] = body["data"]["webhookEndpoint"]
    return state


async def test_a_receiver_failing_three_times_gets_the_event_on_the_fourth_attempt_signed(
    tenant: Tenant, engine: AsyncEngine
) -> None:
    # given a receiver that answers 500 three times, then 200, and an endpoint for it
    with receiving(lambda _path, count: 500 if count <= 3 else 200) as receiver:
        endpoint_id, secret = await endpoint(tenant, receiver.url())
        customer_id = await customer(tenant)

        # when the dispatcher runs until the receiver has accepted a delivery
        worker = dispatcher(engine)
        try:
            await run_until(worker, tenant, lambda: len(receiver.received) >= 4)
        finally:
            await worker.close()

    # then the same event came four times, the fourth verified by standardwebhooks
    assert len(receiver.received) == 4
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(ids) == 1
    last = receiver.received[-1]
    verified = Webhook(secret).verify(last.body, last.headers)
    assert verified["type"] == "customer.created"
    assert verified["objectId"] == customer_id
    assert verified["id"] == ids.pop()
    assert last.headers["content-type"] == "application/json"
    # and the delivery shows its four attempts
    state = await endpoint_state(tenant, endpoint_id)
    assert state["status"] == "ENABLED"
    [delivery] = state["deliveries"]
    assert (delivery["status"], delivery["attemptCount"]) == ("SUCCEEDED", 4)
    assert delivery["nextAttemptAt"] is None and delivery["completedAt"] is not None
    assert delivery["eventType"] == "customer.created"
    assert [a["statusCode"] for a in delivery["attempts"]] == [500, 500, 500, 200]
    assert [a["error"] for a in delivery["attempts"]] == ["HTTP 500"] * 3 + [None]
    assert [a["succeeded"] for a in delivery["attempts"]] == [False, False, False, True]
    assert all(a["latencyMs"] >= 0 for a in delivery["attempts"])


async def test_a_later_event_of_an_object_waits_for_the_earlier_one(
    tenant: Tenant, engine: AsyncEngine
) -> None:
    # given a receiver whose first answer is a failure, and three events of one customer
    with receiving(lambda _path, count: 503 if count == 1 else 200) as receiver:
        await endpoint(tenant, receiver.url())
        customer_id = await customer(tenant)
        for name in ("Ada 2", "Ada 3"):
            await tenant.gql(UPDATE_CUSTOMER, {"id": customer_id, "name": name})

        # when they are delivered
        worker = dispatcher(engine)
        try:
            await run_until(worker, tenant, lambda: len(receiver.received) >= 4)
        finally:
            await worker.close()

    # then the failed first event was sent again before the later ones, in their order
    received = [r.event for r in receiver.received]
    assert [e["type"] for e in received] == [
        "customer.created",
        "customer.created",
        "customer.updated",
        "customer.updated",
    ]
    assert [e["data"]["name"] for e in received[2:]] == ["Ada 2", "Ada 3"]
    positions = [e["position"] for e in received[1:]]
    assert positions == sorted(positions)


async def test_a_receiver_that_never_answers_is_disabled_and_nothing_is_lost(
    tenant: Tenant, engine: AsyncEngine
) -> None:
    # given a receiver that never answers, and at most 3 attempts, disabling after 1 failure
    answering = False
    schedule = RetrySchedule(
        max_attempts=3, base_delay=timedelta(milliseconds=1), max_delay=timedelta(seconds=1)
    )
    with receiving(lambda _path, _count: 200 if answering else None) as receiver:
        endpoint_id, _ = await endpoint(tenant, receiver.url())
        first = await customer(tenant, "First")
        worker = dispatcher(engine, schedule=schedule, timeout=0.3, disable_after=1)
        try:
            # when the dispatcher has tried all it may
            async def disabled() -> bool:
                return (await endpoint_state(tenant, endpoint_id))["status"] == "DISABLED"

            await run_until(worker, tenant, disabled)

            # then the endpoint is disabled, the delivery FAILED after 3 timed-out attempts
            state = await endpoint_state(tenant, endpoint_id)
            assert state["disabledAt"] is not None and state["disabledReason"]
            [delivery] = state["deliveries"]
            assert (delivery["status"], delivery["attemptCount"]) == ("FAILED", 3)
            assert [a["error"] for a in delivery["attempts"]] == ["No answer within 0.3 s."] * 3
            assert [a["statusCode"] for a in delivery["attempts"]] == [None] * 3
            assert len(receiver.received) == 3
            # and an event says so
            events = await tenant.gql(EVENTS, {"types": ["webhook_endpoint.disabled"]})
            [event] = [e["node"] for e in events["data"]["events"]["edges"]]
            assert event["objectId"] == endpoint_id
            assert event["data"]["consecutiveFailures"] == 1

            # when another event happens while it is disabled
            second = await customer(tenant, "Second")
            for _ in range(3):
                await worker.run_tenant(tenant.id)
            # then nothing is sent
            assert len(receiver.received) == 3

            # when the receiver answers again and the endpoint is enabled
            answering = True
            enabled = await tenant.gql(ENABLE, {"id": endpoint_id})
            assert enabled["data"]["enableWebhookEndpoint"]["webhookEndpoint"]["status"] == (
                "ENABLED"
            )
            await run_until(
                worker,
                tenant,
                lambda: any(r.event["objectId"] == second for r in receiver.received),
            )
        finally:
            await worker.close()

    # then what happened meanwhile was delivered; the failed delivery stays recorded
    objects = [r.event["objectId"] for r in receiver.received]
    assert objects[:3] == [first] * 3 and second in objects[3:]
    state = await endpoint_state(tenant, endpoint_id)
    by_object = {d["objectId"]: d for d in state["deliveries"]}
    assert by_object[first]["status"] == "FAILED"
    assert by_object[second]["status"] == "SUCCEEDED"


async def test_retry_webhook_delivery_sends_one_again_and_refuses_unknown_ids(
    tenant: Tenant, other_tenant: Tenant, engine: AsyncEngine
) -> None:
    # given a delivered event
    with receiving() as receiver:
        endpoint_id, _ = await endpoint(tenant, receiver.url())
        await customer(tenant)
        worker = dispatcher(engine)
        try:
            await run_until(worker, tenant, lambda: len(receiver.received) == 1)
            [delivery] = (await endpoint_state(tenant, endpoint_id))["deliveries"]

            # when it is retried
            body = await tenant.gql(RETRY, {"id": delivery["id"]})
            payload = body["data"]["retryWebhookDelivery"]
            assert payload["userErrors"] == []
            assert payload["webhookDelivery"] == {"id": delivery["id"], "status": "PENDING"}
            await run_until(worker, tenant, lambda: len(receiver.received) == 2)
        finally:
            await worker.close()

    # then it was sent again, with the same webhook-id, and succeeded again
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    [again] = (await endpoint_state(tenant, endpoint_id))["deliveries"]
    assert (again["status"], again["attemptCount"]) == ("SUCCEEDED", 2)
    # and it is a node of this tenant only
    node = "query($id: ID!) { node(id: $id) { id ... on WebhookDelivery { status eventType } } }"
    assert (await tenant.gql(node, {"id": again["id"]}))["data"]["node"] == {
        "id": again["id"],
        "status": "SUCCEEDED",
        "eventType": "customer.created",
    }
    assert (await other_tenant.gql(node, {"id": again["id"]}))["data"]["node"] is None
    # and unknown or another tenant's ids are user errors
    for caller, delivery_id in (
        (tenant, "whd_unknown0000000000000000"),
        (other_tenant, delivery["id"]),
        (tenant, endpoint_id),
    ):
        refused = (await caller.gql(RETRY, {"id": delivery_id}))["data"]["retryWebhookDelivery"]
        assert refused["webhookDelivery"] is None
        assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
            ("NOT_FOUND", ["input", "deliveryId"])
        ]


async def test_in_production_the_destination_is_checked_again_at_delivery(
    tenant: Tenant, engine: AsyncEngine
) -> None:
    # given an endpoint whose host (resolved at delivery) now points at a loopback address
    with receiving() as receiver:
        endpoint_id, _ = await endpoint(tenant, "https://hooks.example.com/ledgerline")
        await customer(tenant)

        async def rebound(_host: str, _port: int) -> list[str]:
            return ["127.0.0.1"]

        worker = dispatcher(
            engine,
            production=True,
            destinations=WebhookDestinations(production=True, resolve=rebound),
        )
        try:
            # when the dispatcher tries to deliver
            async def attempted() -> bool:
                deliveries = (await endpoint_state(tenant, endpoint_id))["deliveries"]
                return bool(deliveries and deliveries[0]["attemptCount"])

            await run_until(worker, tenant, attempted)
        finally:
            await worker.close()

    # then nothing was sent, and the attempt says why
    assert receiver.received == []
    [delivery] = (await endpoint_state(tenant, endpoint_id))["deliveries"]
    assert delivery["attempts"]
    for attempt in delivery["attempts"]:
        assert attempt["statusCode"] is None
        assert attempt["error"].startswith("Not sent: The URL's host resolves to a private")


class RecordingPoster:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None]] = []

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, address: str | None = None
    ) -> int:
        self.sent.append((url, address))
        return 204

    async def close(self) -> None:
        pass


async def test_in_production_the_request_goes_to_the_checked_address(
    tenant: Tenant, engine: AsyncEngine
) -> None:
    # given a host that resolves to a public address
    async def public(_host: str, _port: int) -> list[str]:
        return ["93.184.215.14"]

    await endpoint(tenant, "https://hooks.example.com:8443/in")
    await customer(tenant)
    poster = RecordingPoster()
    worker = dispatcher(
        engine,
        production=True,
        destinations=WebhookDestinations(production=True, resolve=public),
        poster=poster,
    )
    try:
        # when it is delivered
        await run_until(worker, tenant, lambda: bool(poster.sent))
    finally:
        await worker.close()

    # then the request is sent to the address that was checked
    assert poster.sent == [("https://hooks.example.com:8443/in", "93.184.215.14")]


async def test_a_pinned_request_connects_to_the_address_and_names_the_host() -> None:
    # given a receiver on 127.0.0.1 and a URL whose host names something else
    with receiving() as receiver:
        poster = WebhookPoster()
        try:
            # when the request is pinned to 127.0.0.1
            url = f"http://hooks.example.test:{receiver.port}/pinned?x=1"
            statuses = [
                await poster.post(url, b"{}", {"webhook-id": "evt_1"}, address="127.0.0.1")
                for _ in range(3)
            ]
        finally:
            await poster.close()

    # then it reached the receiver, with the URL's host in the Host header, three times
    # over one kept-alive connection
    assert statuses == [200, 200, 200]
    assert [r.path for r in receiver.received] == ["/pinned"] * 3
    assert {r.headers["host"] for r in receiver.received} == {f"hooks.example.test:{receiver.port}"}
    assert receiver.received[0].headers["webhook-id"] == "evt_1"
    assert len({r.client_port for r in receiver.received}) == 1


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_a_failed_attempt_and_is_not_followed(
    tenant: Tenant, engine: AsyncEngine, status: int
) -> None:
    # given a receiver answering with a redirect (to itself)
    with receiving(lambda _path, _count: status) as receiver:
        endpoint_id, _ = await endpoint(tenant, receiver.url())
        await customer(tenant)
        worker = dispatcher(engine, schedule=RetrySchedule(max_attempts=1))
        try:
            # when it is delivered
            async def ended() -> bool:
                deliveries = (await endpoint_state(tenant, endpoint_id))["deliveries"]
                return bool(deliveries and deliveries[0]["status"] != "PENDING")

            await run_until(worker, tenant, ended)
        finally:
            await worker.close()

    # then one request was made, and the attempt failed
    assert len(receiver.received) == 1
    [delivery] = (await endpoint_state(tenant, endpoint_id))["deliveries"]
    assert delivery["status"] == "FAILED"
    assert delivery["attempts"][0]["error"] == f"HTTP {status}: redirects are not followed."


async def test_a_success_ends_an_endpoints_run_of_failures(
    tenant: Tenant, engine: AsyncEngine
) -> None:
    # given an endpoint disabled after 2 deliveries in a row fail for good (1 attempt each),
    # and a receiver answering 500, 200, 500
    answers = iter([500, 200, 500])
    with receiving(lambda _path, _count: next(answers)) as receiver:
        endpoint_id, _ = await endpoint(tenant, receiver.url())
        worker = dispatcher(engine, schedule=RetrySchedule(max_attempts=1), disable_after=2)
        try:
            # when three events are delivered one after the other
            for sent in (1, 2, 3):
                await customer(tenant, f"Customer {sent}")
                await run_until(worker, tenant, lambda sent=sent: len(receiver.received) == sent)
        finally:
            await worker.close()

    # then a failure, a success and a failure leave the endpoint enabled
    state = await endpoint_state(tenant, endpoint_id)
    assert [d["status"] for d in state["deliveries"]] == ["FAILED", "SUCCEEDED", "FAILED"]
    assert state["status"] == "ENABLED"


async def test_deliveries_and_attempts_of_a_page_of_endpoints_cost_one_statement_each(
    tenant: Tenant, engine: AsyncEngine, count_statements: Any
) -> None:
    # given three endpoints, each with a delivery of two attempts
    with receiving(lambda _path, count: 500 if count == 1 else 200) as receiver:
        for path in ("/a", "/b", "/c"):
            await endpoint(tenant, receiver.url(path))
        await customer(tenant)
        worker = dispatcher(engine)
        try:
            await run_until(worker, tenant, lambda: len(receiver.received) == 6)
        finally:
            await worker.close()
    query = """
    { webhookEndpoints(first: 10) { edges { node {
        url deliveries { status attempts { statusCode } }
    } } } }
    """
    # when the page is read with its deliveries and their attempts
    with count_statements as counter:
        body = await tenant.gql(query)
    # then every endpoint shows its delivery and both attempts
    nodes = [edge["node"] for edge in body["data"]["webhookEndpoints"]["edges"]]
    assert [n["deliveries"][0]["attempts"] for n in nodes] == [
        [{"statusCode": 500}, {"statusCode": 200}]
    ] * 3
    # and it took the tenant's settings, the page, one statement for the deliveries and
    # one for the attempts
    assert counter.count == 4, counter.statements
