"""`POST /providers/stripe/webhook/{account_id}`: Stripe's events about an account's payments,
verified and handed to the settlement sink (domain.payments.SettlementSink).

Each account that uses Stripe registers this URL, with its own account id, as a webhook
endpoint in its Stripe dashboard, and puts the endpoint's signing secret in
STRIPE_WEBHOOK_SECRET (or TENANT_STRIPE_WEBHOOK_SECRETS). The path names the account because
an event says nothing of ours; the secret proves the event is Stripe's for that account.

- The signature is checked by `stripe.Webhook.construct_event` (HMAC-SHA256 of
  "timestamp.body", constant-time comparison, 300 s tolerance): a missing, wrong or old one is
  400 and nothing is handed on. An account that does not use Stripe, or has no signing
  secret, is 404, like an unknown path.
- Events read: `payment_intent.succeeded|processing|payment_failed|canceled` (a charge's
  ChargeResult), `refund.created|updated|failed` and `charge.refund.updated` (a refund's
  RefundResult), and `charge.refunded` when its Charge lists its refunds (API versions before
  2022-11-15). Every other event is acknowledged and ignored, so Stripe stops sending it.
- Stripe delivers at least once and in no guaranteed order: the sink is idempotent and never
  lets a late PENDING undo a settled result (see SettlementSink). The answer comes once the
  sink has recorded the event; when the sink fails the answer is 500 and Stripe retries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any, Final

import stripe
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from domain.accounts import is_account_id
from domain.payments import ChargeResult, PaymentProviderError, RefundResult, SettlementSink
from infra.http.errors import error_response
from infra.payments.stripe import charge_result, refund_result
from infra.settings import Settings

# Stripe's events are a few kilobytes; a Charge listing many refunds stays well under this.
MAX_BODY_BYTES: Final = 1 << 20
CHARGE_EVENTS: Final = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.processing",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
    }
)
REFUND_EVENTS: Final = frozenset(
    {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}
)
_log = logging.getLogger("ledgerline.payments.stripe")


class StripeWebhookEndpoint:
    def __init__(self, settings: Settings, sink: SettlementSink) -> None:
        self.settings = settings
        self.sink = sink

    async def __call__(self, request: Request) -> Response:
        account_id = request.path_params["account_id"]
        secret = None
        if is_account_id(account_id):
            secret = self.settings.stripe_webhook_secret_of(account_id)
        if secret is None:
            return error_response(404, "Not found.", "NOT_FOUND")
        payload = await _body(request)
        if payload is None:
            return error_response(413, "The event is too large.", "PAYLOAD_TOO_LARGE")
        try:
            event = stripe.Webhook.construct_event(
                payload, request.headers.get("stripe-signature"), secret
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError):
            return error_response(
                400, "The Stripe-Signature header does not verify this body.", "BAD_SIGNATURE"
            )
        except ValueError:  # signed, but not JSON
            return error_response(400, "The body is not a Stripe event.", "BAD_REQUEST")
        try:
            event_type, obj = event.type, event.data.object.to_dict()
        except (AttributeError, KeyError):
            return error_response(400, "The body is not a Stripe event.", "BAD_REQUEST")
        try:
            for reference, result in settlements(event_type, obj):
                if isinstance(result, ChargeResult):
                    await self.sink.charge_settled(account_id, reference, result)
                else:
                    await self.sink.refund_settled(account_id, reference, result)
        except PaymentProviderError as error:
            # A state this adapter does not know: retrying would not teach it; say so in
            # the log and let Stripe consider the event delivered.
            _log.warning("stripe event %s (%s) not understood: %s", event.id, event_type, error)
        return JSONResponse({"received": True})


def settlements(
    event_type: str, obj: Mapping[str, Any]
) -> Iterator[tuple[str, ChargeResult | RefundResult]]:
    """(provider reference, result) for each charge or refund an event settles."""
    if event_type in CHARGE_EVENTS:
        yield obj["id"], charge_result(obj)
    elif event_type in REFUND_EVENTS:
        yield obj["id"], refund_result(obj)
    elif event_type == "charge.refunded":
        # Since API version 2022-11-15 a Charge no longer lists its refunds: the refund.*
        # events carry them instead.
        for refund in (obj.get("refunds") or {}).get("data") or ():
            yield refund["id"], refund_result(refund)


async def _body(request: Request) -> bytes | None:
    """The body, or None when it is larger than MAX_BODY_BYTES (not read further)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
