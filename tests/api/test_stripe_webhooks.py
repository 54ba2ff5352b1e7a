"""Stripe's webhook events through the real app: signed with Stripe's scheme
(`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`) by the account's endpoint
secret, they reach the settlement sink as the port's results; a missing, wrong or stale
signature is 400 and reaches nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from domain.payments import ChargeResult, ChargeStatus, RefundResult, RefundStatus
from infra.app import create_app
from infra.settings import Settings
from tests.conftest import TestDatabase
from tests.support.fake_stripe import card_error, payment_intent, refund

STRIPE_ACCOUNT = "stripe-shop"
OTHER_STRIPE_ACCOUNT = "stripe-other"
SANDBOX_ACCOUNT = "sandbox-shop"
SECRET = "whsec_test_5ba7f33a9b4e4b8f"
OTHER_SECRET = "whsec_test_other"
PI = "pi_3MtwBwLkdIwHu7ix28a3tqPa"
RE = "re_1Nispe2eZvKYlo2Cd31jOCgZ"


@dataclass
class RecordingSink:
    """domain.payments.SettlementSink that remembers what it was handed."""

    charges: list[tuple[str, str, ChargeResult]] = field(default_factory=list)
    refunds: list[tuple[str, str, RefundResult]] = field(default_factory=list)

    async def charge_settled(self, tenant_id: str, reference: str, result: ChargeResult) -> None:
        self.charges.append((tenant_id, reference, result))

    async def refund_settled(self, tenant_id: str, reference: str, result: RefundResult) -> None:
        self.refunds.append((tenant_id, reference, result))

    def clear(self) -> None:
        self.charges.clear()
        self.refunds.clear()


@dataclass
class Receiver:
    client: httpx.AsyncClient
    sink: RecordingSink


@pytest.fixture(scope="module")
async def receiver(settings: Settings, test_database: TestDatabase) -> AsyncIterator[Receiver]:
    configured = settings.model_copy(
        update={
            "tenant_payment_providers": {
                STRIPE_ACCOUNT: "stripe",
                OTHER_STRIPE_ACCOUNT: "stripe",
            },
            "stripe_secret_key": SecretStr("sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
            "stripe_webhook_secret": SecretStr(SECRET),
            "tenant_stripe_webhook_secrets": {OTHER_STRIPE_ACCOUNT: SecretStr(OTHER_SECRET)},
        }
    )
    sink = RecordingSink()
    application = create_app(configured, test_database.url, settlement_sink=sink)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="https://ledgerline.test") as c:
            yield Receiver(c, sink)


@pytest.fixture
def sink(receiver: Receiver) -> RecordingSink:
    receiver.sink.clear()
    return receiver.sink


def event(
    event_type: str, obj: dict[str, Any], event_id: str = "evt_1NG8Du2eZvKYlo2CUI79vXWy"
) -> bytes:
    """An event as Stripe sends it (docs.stripe.com/api/events/object)."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": 1686089970,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
    ).encode()


def signature(payload: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    """Stripe's scheme, computed here rather than with the library under test."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


async def deliver(
    receiver: Receiver,
    payload: bytes,
    signed: str | None,
    account: str = STRIPE_ACCOUNT,
) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if signed is not None:
        headers["stripe-signature"] = signed
    return await receiver.client.post(
        f"/providers/stripe/webhook/{account}", content=payload, headers=headers
    )


# ---------------------------------------------------------------- settled charges


@pytest.mark.parametrize(
    ("event_type", "intent", "expected"),
    [
        (
            "payment_intent.succeeded",
            payment_intent("succeeded"),
            ChargeResult(ChargeStatus.SUCCEEDED, PI),
        ),
        (
            "payment_intent.processing",
            payment_intent("processing"),
            ChargeResult(ChargeStatus.PENDING, PI),
        ),
        (
            "payment_intent.payment_failed",
            card_error("insufficient_funds")["error"]["payment_intent"],
            ChargeResult(ChargeStatus.FAILED, PI, "insufficient_funds"),
        ),
    ],
    ids=["succeeded", "processing", "payment-failed"],
)
async def test_a_signed_payment_intent_event_settles_the_charge(
    receiver: Receiver,
    sink: RecordingSink,
    event_type: str,
    intent: dict[str, Any],
    expected: ChargeResult,
) -> None:
    # given
    payload = event(event_type, intent)
    # when
    response = await deliver(receiver, payload, signature(payload))
    # then
    assert response.status_code == 200, response.text
    assert sink.charges == [(STRIPE_ACCOUNT, PI, expected)]
    assert sink.refunds == []


async def test_a_repeated_event_is_acknowledged_again(
    receiver: Receiver, sink: RecordingSink
) -> None:
    # Stripe delivers at least once; the sink is idempotent, so a repeat is harmless.
    payload = event("payment_intent.succeeded", payment_intent("succeeded"))
    for _ in range(2):
        assert (await deliver(receiver, payload, signature(payload))).status_code == 200
    assert len(sink.charges) == 2 and sink.charges[0] == sink.charges[1]


# ---------------------------------------------------------------- settled refunds


@pytest.mark.parametrize(
    ("event_type", "obj", "expected"),
    [
        ("refund.updated", refund("succeeded"), RefundResult(RefundStatus.SUCCEEDED, RE)),
        (
            "refund.failed",
            refund("failed", failure_reason="lost_or_stolen_card"),
            RefundResult(RefundStatus.FAILED, RE, "lost_or_stolen_card"),
        ),
        (
            # API versions before 2022-11-15 list a charge's refunds in charge.refunded
            "charge.refunded",
            {
                "id": "ch_3MtwBwLkdIwHu7ix28a3tqPa",
                "object": "charge",
                "amount_refunded": 1000,
                "refunded": False,
                "refunds": {"object": "list", "data": [refund("succeeded")]},
            },
            RefundResult(RefundStatus.SUCCEEDED, RE),
        ),
    ],
    ids=["refund-updated", "refund-failed", "charge-refunded"],
)
async def test_a_signed_refund_event_settles_the_refund(
    receiver: Receiver,
    sink: RecordingSink,
    event_type: str,
    obj: dict[str, Any],
    expected: RefundResult,
) -> None:
    payload = event(event_type, obj)
    response = await deliver(receiver, payload, signature(payload))
    assert response.status_code == 200, response.text
    assert sink.refunds == [(STRIPE_ACCOUNT, RE, expected)]
    assert sink.charges == []


async def test_other_events_are_acknowledged_and_ignored(
    receiver: Receiver, sink: RecordingSink
) -> None:
    for event_type, obj in [
        ("customer.created", {"id": "cus_NhD8HD2bY8dP3V", "object": "customer"}),
        # today's Charge does not list its refunds: refund.* events carry them
        ("charge.refunded", {"id": "ch_3MtwBwLkdIwHu7ix28a3tqPa", "object": "charge"}),
    ]:
        payload = event(event_type, obj)
        assert (await deliver(receiver, payload, signature(payload))).status_code == 200
    assert sink.charges == [] and sink.refunds == []


# ---------------------------------------------------------------- refused deliveries


@pytest.mark.parametrize(
    "signed",
    [
        None,
        "",
        "t=1686089970",
        "garbage",
        "wrong-secret",
        "stale",
        "other-body",
    ],
)
async def test_an_event_without_a_valid_recent_signature_is_refused(
    receiver: Receiver, sink: RecordingSink, signed: str | None
) -> None:
    payload = event("payment_intent.succeeded", payment_intent("succeeded"))
    if signed == "wrong-secret":
        signed = signature(payload, "whsec_not_ours")
    elif signed == "stale":  # beyond the 300 s tolerance: a replayed capture
        signed = signature(payload, timestamp=int(time.time()) - 600)
    elif signed == "other-body":
        signed = signature(event("payment_intent.succeeded", payment_intent("processing")))
    response = await deliver(receiver, payload, signed)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_SIGNATURE"
    assert sink.charges == [] and sink.refunds == []


async def test_each_account_verifies_with_its_own_secret(
    receiver: Receiver, sink: RecordingSink
) -> None:
    payload = event("payment_intent.succeeded", payment_intent("succeeded"))
    # the default secret does not open the account that has its own
    refused = await deliver(receiver, payload, signature(payload), OTHER_STRIPE_ACCOUNT)
    assert refused.status_code == 400
    accepted = await deliver(
        receiver, payload, signature(payload, OTHER_SECRET), OTHER_STRIPE_ACCOUNT
    )
    assert accepted.status_code == 200
    assert [c[0] for c in sink.charges] == [OTHER_STRIPE_ACCOUNT]


@pytest.mark.parametrize("account", [SANDBOX_ACCOUNT, "no-such-account", "Not%20An%20Id"])
async def test_an_account_without_stripe_has_no_webhook_endpoint(
    receiver: Receiver, sink: RecordingSink, account: str
) -> None:
    payload = event("payment_intent.succeeded", payment_intent("succeeded"))
    response = await deliver(receiver, payload, signature(payload), account)
    assert response.status_code == 404
    assert sink.charges == []


async def test_a_body_that_is_not_an_event_is_refused(
    receiver: Receiver, sink: RecordingSink
) -> None:
    refused = await receiver.client.post(
        f"/providers/stripe/webhook/{STRIPE_ACCOUNT}",
        content=b"\xff\xfe not utf-8",
        headers={"stripe-signature": signature(b"x")},
    )
    assert refused.status_code == 400
    for payload in (b"not json", b'{"object": "list"}', b'{"object": "event"}'):
        response = await deliver(receiver, payload, signature(payload))
        assert response.status_code == 400, payload
    assert sink.charges == [] and sink.refunds == []
