"""The Stripe adapter: domain.payments.PaymentProvider on Stripe's official library (its
async methods over httpx), one StripeClient per secret key.

- A payment method is a Stripe PaymentMethod (`pm_…`, made by Stripe.js or a SetupIntent)
  of type card, **attached to a Stripe Customer**: Stripe charges a method off-session only
  through its customer, and the port has no customer of Stripe's to pass, so the customer
  is read from the PaymentMethod itself (one GET before each charge), and a method with
  none is refused when it is attached (PaymentMethodRejected).
- A charge is a PaymentIntent created with `confirm=true, off_session=true` and our
  idempotency key (Stripe answers a repeated key with the first answer, for 24 hours).
  A decline is a FAILED result with Stripe's decline code; a payment that would need the
  customer to authenticate (3-D Secure) cannot be made off-session: FAILED with
  `authentication_required`.
- Amounts go out in Stripe's unit for the currency (stripe_amounts.py), which refuses what
  Stripe cannot be sent exactly.
- Errors: no answer, a timeout, a rate limit or a 5xx is ProviderUnavailable (retry with the
  same key: the library's own retries do so too); an idempotency error is
  IdempotencyKeyMismatch; anything else Stripe refuses is PaymentProviderError, whose message
  names Stripe's error code and request id, never the API key.
Stripe's later word (a PaymentIntent that was `processing`, a refund that was `pending`)
comes by its webhook events: infra/http/stripe_webhooks.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import stripe

from domain.money import Money
from domain.payments import (
    CardDetails,
    ChargeResult,
    ChargeStatus,
    IdempotencyKeyMismatch,
    PaymentMethodRejected,
    PaymentProviderError,
    ProviderUnavailable,
    RefundResult,
    RefundStatus,
)
from infra.payments.stripe_amounts import to_stripe

IDEMPOTENCY_KEY_MAX_LENGTH: Final = 255
# What a 3-D Secure request means off-session (Stripe's own decline code for it).
AUTHENTICATION_REQUIRED: Final = "authentication_required"
# Stripe object ids: a prefix and letters, digits or `_` (test ids such as `pm_card_visa`).
_PAYMENT_METHOD_ID = re.compile(r"pm_[A-Za-z0-9_]{1,250}")
_OBJECT_ID = re.compile(r"[a-z]{2,5}_[A-Za-z0-9_]{1,250}")


def stripe_client(
    secret_key: str,
    http_client: stripe.HTTPClient,
    *,
    max_network_retries: int,
    api_base: str | None = None,
) -> stripe.StripeClient:
    """A client for one Stripe account over `http_client` (a `stripe.HTTPXClient`, whose
    timeout is each call's). `api_base` points it elsewhere (stripe-mock, the tests' fake).
    The library retries a timeout or a 5xx `max_network_retries` times with the same
    idempotency key, which Stripe answers without acting twice."""
    return stripe.StripeClient(
        secret_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=max_network_retries,
        http_client=http_client,
    )


class StripePaymentProvider:
    """domain.payments.PaymentProvider for the Stripe account of `client`."""

    name = "stripe"

    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    async def describe_payment_method(self, token: str) -> CardDetails:
        method = await self._payment_method(token)
        card = method.card
        if method.type != "card" or card is None:
            raise PaymentMethodRejected("only card payment methods are charged through Stripe")
        if _id_of(method.customer) is None:
            raise PaymentMethodRejected(
                "the Stripe payment method must be attached to a Stripe customer "
                "to be charged off-session"
            )
        return CardDetails(
            reference=method.id,
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            # Stripe may leave it out (some wallets); check_card_details refuses an empty one.
            fingerprint=card.fingerprint or "",
        )

    async def charge(
        self,
        amount: Money,
        payment_method_ref: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> ChargeResult:
        _check_request(amount, idempotency_key)
        value, currency = to_stripe(amount)
        customer = _id_of((await self._payment_method(payment_method_ref)).customer)
        params: stripe.params.PaymentIntentCreateParams = {
            "amount": value,
            "currency": currency,
            "payment_method": payment_method_ref,
            # A card confirmed off-session never redirects; saying so spares a return_url.
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "confirm": True,
            "off_session": True,
            "metadata": dict(metadata),
        }
        if customer is not None:
            params["customer"] = customer
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params, {"idempotency_key": idempotency_key}
            )
        except stripe.CardError as error:
            return _declined(error)
        except stripe.StripeError as error:
            raise translated(error) from None
        return charge_result(intent.to_dict())

    async def retrieve_charge(self, provider_reference: str) -> ChargeResult:
        if not _OBJECT_ID.fullmatch(provider_reference):
            raise PaymentProviderError("not a Stripe PaymentIntent id")
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(provider_reference)
        except stripe.StripeError as error:
            raise translated(error) from None
        return charge_result(intent.to_dict())

    async def refund(
        self, provider_reference: str, amount: Money, idempotency_key: str
    ) -> RefundResult:
        _check_request(amount, idempotency_key)
        if not _OBJECT_ID.fullmatch(provider_reference):
            raise PaymentProviderError("not a Stripe PaymentIntent id")
        value, _currency = to_stripe(amount)  # a refund is in its charge's currency
        try:
            refund = await self._client.v1.refunds.create_async(
                {"payment_intent": provider_reference, "amount": value},
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            raise translated(error) from None
        return refund_result(refund.to_dict())

    async def retrieve_refund(self, refund_reference: str) -> RefundResult:
        if not _OBJECT_ID.fullmatch(refund_reference):
            raise PaymentProviderError("not a Stripe Refund id")
        try:
            refund = await self._client.v1.refunds.retrieve_async(refund_reference)
        except stripe.StripeError as error:
            raise translated(error) from None
        return refund_result(refund.to_dict())

    async def _payment_method(self, reference: str) -> stripe.PaymentMethod:
        if not _PAYMENT_METHOD_ID.fullmatch(reference):
            raise PaymentMethodRejected("not a Stripe PaymentMethod id (pm_…)")
        try:
            return await self._client.v1.payment_methods.retrieve_async(reference)
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                raise PaymentMethodRejected("Stripe knows no such payment method") from None
            raise translated(error) from None
        except stripe.StripeError as error:
            raise translated(error) from None


def charge_result(intent: Mapping[str, Any]) -> ChargeResult:
    """A PaymentIntent (as Stripe's JSON) as the port's charge result."""
    reference, status = intent["id"], intent["status"]
    if status == "succeeded":
        return ChargeResult(ChargeStatus.SUCCEEDED, reference)
    if status == "processing":
        return ChargeResult(ChargeStatus.PENDING, reference)
    if status == "requires_action":
        # Off-session, nobody is there to authenticate: Stripe waits in vain.
        return ChargeResult(ChargeStatus.FAILED, reference, AUTHENTICATION_REQUIRED)
    if status == "requires_payment_method":
        return ChargeResult(
            ChargeStatus.FAILED, reference, _decline_code(intent.get("last_payment_error"))
        )
    if status == "canceled":
        return ChargeResult(ChargeStatus.FAILED, reference, "canceled")
    # requires_confirmation, requires_capture: states of flows this adapter never starts.
    raise PaymentProviderError(f"Stripe PaymentIntent {reference} is {status!r}")


def refund_result(refund: Mapping[str, Any]) -> RefundResult:
    """A Refund (as Stripe's JSON) as the port's refund result."""
    reference, status = refund["id"], refund.get("status")
    if status == "succeeded":
        return RefundResult(RefundStatus.SUCCEEDED, reference)
    if status in ("pending", "requires_action"):
        return RefundResult(RefundStatus.PENDING, reference)
    if status in ("failed", "canceled"):
        return RefundResult(
            RefundStatus.FAILED, reference, refund.get("failure_reason") or str(status)
        )
    raise PaymentProviderError(f"Stripe refund {reference} is {status!r}")


def translated(error: stripe.StripeError) -> PaymentProviderError:
    """The port's error for one of the Stripe library's. Stripe's own messages are left out
    (an authentication error quotes part of the key); its error code and request id are
    what Stripe's support and dashboard look calls up by."""
    where = f"(Stripe {type(error).__name__}, code {error.code}, request {error.request_id})"
    if isinstance(error, stripe.IdempotencyError):
        return IdempotencyKeyMismatch(f"the idempotency key was used for another request {where}")
    if isinstance(error, stripe.APIConnectionError | stripe.APIError | stripe.RateLimitError):
        return ProviderUnavailable(f"Stripe did not answer, or answered an outage {where}")
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return PaymentProviderError(f"Stripe refused this account's API key {where}")
    return PaymentProviderError(f"Stripe refused the request {where}")


def _declined(error: stripe.CardError) -> ChargeResult:
    """A card error of PaymentIntent creation: Stripe's body carries the PaymentIntent it
    made (FAILED, requires_payment_method) besides the decline code."""
    body = error.json_body if isinstance(error.json_body, dict) else {}
    details = body.get("error") or {}
    intent = details.get("payment_intent") or {}
    if not intent.get("id"):
        # Not what Stripe documents; without a PaymentIntent there is nothing to record.
        raise PaymentProviderError(
            f"Stripe declined without a PaymentIntent (request {error.request_id})"
        )
    return ChargeResult(ChargeStatus.FAILED, intent["id"], _decline_code(details))


def _decline_code(payment_error: Mapping[str, Any] | None) -> str:
    """Stripe's `decline_code` (the issuer's reason: insufficient_funds…) or, without one,
    its error `code` (expired_card, authentication_required…)."""
    if not payment_error:
        return "payment_failed"
    return str(payment_error.get("decline_code") or payment_error.get("code") or "payment_failed")


def _id_of(field: Any) -> str | None:
    """An expandable field's id: Stripe sends the id, or the object when expanded."""
    if field is None or isinstance(field, str):
        return field
    return str(field.id)


def _check_request(amount: Money, idempotency_key: str) -> None:
    """What the port asks of every call that moves money (as the sandbox checks it)."""
    if not 1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
        raise PaymentProviderError("an idempotency key of 1 to 255 characters is required")
    if amount.minor_units <= 0:
        raise PaymentProviderError("the amount must be positive")
