"""The payment provider port: what Ledgerline asks of a payment processor (the built-in
sandbox, Stripe), and what it answers.

A provider sits behind a network boundary: a call may be slow, fail, or time out after the
processor acted on it. So every call that moves money carries an idempotency key of ours,
and the provider answers a repeated key with the first call's charge instead of charging
again (Stripe's semantics); after a timeout the caller retries with the same key to learn
what happened. Card numbers never reach Ledgerline: the provider turns a token made in the
customer's browser into a reference we may store, with the card's brand, last 4 digits,
expiry and fingerprint (PCI DSS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from domain.money import Money


@dataclass(frozen=True, slots=True)
class CardDetails:
    """What a provider tells about a payment method: enough to show and charge it, never
    the card number. `reference` is the provider's id for it (what `charge` is given);
    `fingerprint` is the same for every token of the same card (duplicates, fraud rules)."""

    reference: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str


class ChargeStatus(str, Enum):
    """SUCCEEDED: the money is captured. FAILED: declined (`decline_code` says why).
    PENDING: the processor answers later (`retrieve_charge` until it settles)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"


@dataclass(frozen=True, slots=True)
class ChargeResult:
    status: ChargeStatus
    provider_reference: str
    decline_code: str | None = None


class RefundStatus(str, Enum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"


@dataclass(frozen=True, slots=True)
class RefundResult:
    status: RefundStatus
    provider_reference: str
    failure_code: str | None = None


class PaymentProviderError(Exception):
    """The provider refused or could not answer a call; never carries card data."""


class PaymentMethodRejected(PaymentProviderError):
    """The provider does not know the token or reference (mistyped, expired, another
    account's): the caller's input is at fault."""


class ProviderUnavailable(PaymentProviderError):
    """No answer (timeout, network, outage): the call may or may not have taken effect.
    Retry with the same idempotency key to find out; never with a new one."""


class IdempotencyKeyMismatch(PaymentProviderError):
    """The idempotency key was used before for another request (amount, method...)."""


class PaymentProvider(Protocol):
    """A payment processor for one tenant (account); `infra/payments/` implements it."""

    name: str

    async def describe_payment_method(self, token: str) -> CardDetails:
        """The card a token (made by the provider's client library) stands for; raises
        PaymentMethodRejected for a token the provider does not know."""
        ...

    async def charge(
        self,
        amount: Money,
        payment_method_ref: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> ChargeResult:
        """Charges the payment method once per idempotency key: a repeated key answers
        the charge made the first time (as it stands now) without charging again.
        A decline is a FAILED result, not an error."""
        ...

    async def retrieve_charge(self, provider_reference: str) -> ChargeResult:
        """The charge as it stands now (a PENDING charge settles later)."""
        ...

    async def refund(
        self, provider_reference: str, amount: Money, idempotency_key: str
    ) -> RefundResult:
        """Gives back part or all of a charge, once per idempotency key."""
        ...

    async def retrieve_refund(self, refund_reference: str) -> RefundResult:
        """The refund as it stands now (a PENDING refund settles later)."""
        ...


class SettlementSink(Protocol):
    """Where a provider's later word on a charge or refund goes: the payments service,
    which records it against the payment or refund with that provider reference.

    Providers repeat themselves (Stripe delivers an event at least once, and in no
    guaranteed order), so an implementation must be idempotent and must not let a late
    PENDING undo a SUCCEEDED or FAILED it already recorded. A reference it does not know
    (a charge made outside Ledgerline) is ignored, not an error."""

    async def charge_settled(
        self, tenant_id: str, provider_reference: str, result: ChargeResult
    ) -> None: ...

    async def refund_settled(
        self, tenant_id: str, provider_reference: str, result: RefundResult
    ) -> None: ...
