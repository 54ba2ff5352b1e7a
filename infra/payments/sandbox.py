"""The built-in sandbox payment processor: a test double that behaves like a real one
behind a network boundary, so payments, retries and dunning can be exercised without an
account anywhere.

Its cards are tokens (the README's API guide lists them), each the reference it is charged
by, as Stripe's test payment methods are:
- `tok_visa`, `tok_mastercard`: charges succeed;
- `tok_card_declined`, `tok_insufficient_funds`: charges fail with that decline code;
- `tok_timeout_once`: the first charge for an idempotency key is made but its answer never
  arrives (ProviderUnavailable); a retry with the same key gets the charge, once;
- `tok_delayed_failure`: a charge is PENDING, then FAILED (`processing_error`) once
  SANDBOX_SETTLE_SECONDS have passed (`retrieve_charge` says so).
Any other token is unknown (PaymentMethodRejected).

Like a processor's, its record is its own: each call runs in a transaction of its own,
committed before it answers, whatever becomes of the caller's transaction. Answers are
remembered by (tenant, idempotency key) in `sandbox_requests`, shared by every process, so
a retry with the same key never charges twice, and a key reused for another request is
refused (IdempotencyKeyMismatch), as Stripe refuses it.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

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
from infra.db import TenantConnection, tenant_transaction
from infra.tables import sandbox_requests

IDEMPOTENCY_KEY_MAX_LENGTH: Final = 255
DELAYED_FAILURE_CODE: Final = "processing_error"
# Sandbox cards expire at the end of this month, like Stripe's test cards (any future date).
_EXPIRY: Final = (12, 2034)


@dataclass(frozen=True, slots=True)
class SandboxCard:
    brand: str
    last4: str
    decline_code: str | None = None  # every charge fails with it
    times_out_once: bool = False
    fails_later: bool = False


# The last 4 digits are those of Stripe's test cards with the same behaviour.
SANDBOX_CARDS: Final[dict[str, SandboxCard]] = {
    "tok_visa": SandboxCard("visa", "4242"),
    "tok_mastercard": SandboxCard("mastercard", "4444"),
    "tok_card_declined": SandboxCard("visa", "0002", decline_code="card_declined"),
    "tok_insufficient_funds": SandboxCard("visa", "9995", decline_code="insufficient_funds"),
    "tok_timeout_once": SandboxCard("visa", "3220", times_out_once=True),
    "tok_delayed_failure": SandboxCard("visa", "0341", fails_later=True),
}


class SandboxPaymentProvider:
    """domain.payments.PaymentProvider for one tenant, over the sandbox's own table."""

    name = "sandbox"

    def __init__(
        self,
        engine: AsyncEngine,
        tenant_id: str,
        *,
        settle_seconds: float = 5.0,
        latency: float = 0.0,
    ) -> None:
        self._engine = engine
        self._tenant_id = tenant_id
        self._settle = timedelta(seconds=settle_seconds)
        # Seconds each call takes, as a round trip to a processor does.
        self._latency = latency

    async def describe_payment_method(self, token: str) -> CardDetails:
        await self._round_trip()
        card = _card(token)
        digest = hashlib.sha256(f"sandbox:{card.brand}:{card.last4}".encode()).hexdigest()
        return CardDetails(
            reference=token,
            brand=card.brand,
            last4=card.last4,
            exp_month=_EXPIRY[0],
            exp_year=_EXPIRY[1],
            fingerprint=digest[:16],
        )

    async def charge(
        self,
        amount: Money,
        payment_method_ref: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> ChargeResult:
        _check_request(amount, idempotency_key)
        card = _card(payment_method_ref)
        await self._round_trip()
        status, decline_code, settles_at = ChargeStatus.SUCCEEDED, None, None
        if card.decline_code is not None:
            status, decline_code = ChargeStatus.FAILED, card.decline_code
        elif card.fails_later:
            status, decline_code = ChargeStatus.PENDING, DELAYED_FAILURE_CODE
            settles_at = func.clock_timestamp() + self._settle
        async with self._transaction() as db:
            inserted = await db.execute(
                insert(sandbox_requests)
                .values(
                    tenant_id=self._tenant_id,
                    idempotency_key=idempotency_key,
                    kind="charge",
                    provider_reference=f"sbx_ch_{secrets.token_hex(12)}",
                    payment_method_ref=payment_method_ref,
                    amount=amount.minor_units,
                    currency=amount.currency,
                    status=status.value,
                    decline_code=decline_code,
                    settles_at=settles_at,
                    metadata=dict(metadata),
                )
                .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
                .returning(sandbox_requests.c.idempotency_key)
            )
            first_time = inserted.first() is not None
            row = await self._settled(db, sandbox_requests.c.idempotency_key == idempotency_key)
        if not first_time and (
            row.kind != "charge"
            or row.payment_method_ref != payment_method_ref
            or (row.amount, row.currency) != (amount.minor_units, amount.currency)
        ):
            raise IdempotencyKeyMismatch("the idempotency key was used for another request")
        if first_time and card.times_out_once:
            # The charge is made; its answer is lost on the way back.
            raise ProviderUnavailable("the sandbox processor did not answer in time")
        return _charge_result(row)

    async def retrieve_charge(self, provider_reference: str) -> ChargeResult:
        await self._round_trip()
        async with self._transaction() as db:
            row = await self._settled(
                db,
                (sandbox_requests.c.provider_reference == provider_reference)
                & (sandbox_requests.c.kind == "charge"),
            )
        return _charge_result(row)

    async def retrieve_refund(self, refund_reference: str) -> RefundResult:
        await self._round_trip()
        async with self._transaction() as db:
            row = await self._row(
                db,
                (sandbox_requests.c.provider_reference == refund_reference)
                & (sandbox_requests.c.kind == "refund"),
            )
        if row is None:
            raise PaymentProviderError("the sandbox processor knows no such refund")
        return _refund_result(row)

    async def refund(
        self, provider_reference: str, amount: Money, idempotency_key: str
    ) -> RefundResult:
        _check_request(amount, idempotency_key)
        await self._round_trip()
        async with self._transaction() as db:
            # The charge's row lock queues concurrent refunds of it: each sees the others'.
            charge = (
                await db.execute(
                    select(sandbox_requests)
                    .where(
                        sandbox_requests.c.tenant_id == self._tenant_id,
                        sandbox_requests.c.provider_reference == provider_reference,
                        sandbox_requests.c.kind == "charge",
                    )
                    .with_for_update()
                )
            ).first()
            if charge is None:
                raise PaymentProviderError("the sandbox processor knows no such charge")
            earlier = await self._row(db, sandbox_requests.c.idempotency_key == idempotency_key)
            if earlier is not None:
                if (
                    earlier.kind != "refund"
                    or earlier.charge_reference != provider_reference
                    or (earlier.amount, earlier.currency) != (amount.minor_units, amount.currency)
                ):
                    raise IdempotencyKeyMismatch("the idempotency key was used for another request")
                return _refund_result(earlier)
            if charge.currency != amount.currency:
                raise PaymentProviderError("a refund is in the currency of its charge")
            refunded = (
                await db.execute(
                    select(func.coalesce(func.sum(sandbox_requests.c.amount), 0)).where(
                        sandbox_requests.c.tenant_id == self._tenant_id,
                        sandbox_requests.c.charge_reference == provider_reference,
                        sandbox_requests.c.kind == "refund",
                        sandbox_requests.c.status == RefundStatus.SUCCEEDED.value,
                    )
                )
            ).scalar_one()
            status, failure_code = RefundStatus.SUCCEEDED, None
            if charge.status != ChargeStatus.SUCCEEDED.value:
                status, failure_code = RefundStatus.FAILED, "charge_not_succeeded"
            elif refunded + amount.minor_units > charge.amount:
                status, failure_code = RefundStatus.FAILED, "amount_too_large"
            row = (
                await db.execute(
                    insert(sandbox_requests)
                    .values(
                        tenant_id=self._tenant_id,
                        idempotency_key=idempotency_key,
                        kind="refund",
                        provider_reference=f"sbx_re_{secrets.token_hex(12)}",
                        charge_reference=provider_reference,
                        amount=amount.minor_units,
                        currency=amount.currency,
                        status=status.value,
                        decline_code=failure_code,
                    )
                    .returning(*sandbox_requests.c)
                )
            ).one()
        return _refund_result(row)

    async def _round_trip(self) -> None:
        if self._latency:
            await asyncio.sleep(self._latency)

    def _transaction(self) -> Any:
        return tenant_transaction(self._engine, self._tenant_id)

    async def _row(self, db: TenantConnection, condition: Any) -> Any:
        statement = select(sandbox_requests).where(
            sandbox_requests.c.tenant_id == self._tenant_id, condition
        )
        return (await db.execute(statement)).first()

    async def _settled(self, db: TenantConnection, condition: Any) -> Any:
        """The request's row, a PENDING charge settled first if its time has come."""
        await db.execute(
            update(sandbox_requests)
            .where(
                sandbox_requests.c.tenant_id == self._tenant_id,
                condition,
                sandbox_requests.c.status == ChargeStatus.PENDING.value,
                sandbox_requests.c.settles_at <= func.clock_timestamp(),
            )
            .values(status=ChargeStatus.FAILED.value)
        )
        row = await self._row(db, condition)
        if row is None:
            raise PaymentProviderError("the sandbox processor knows no such charge")
        return row


def _card(token: str) -> SandboxCard:
    card = SANDBOX_CARDS.get(token)
    if card is None:
        raise PaymentMethodRejected("the sandbox processor knows no such payment method")
    return card


def _check_request(amount: Money, idempotency_key: str) -> None:
    if not 1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
        raise PaymentProviderError("an idempotency key of 1 to 255 characters is required")
    if amount.minor_units <= 0:
        raise PaymentProviderError("the amount must be positive")


def _charge_result(row: Any) -> ChargeResult:
    status = ChargeStatus(row.status)
    return ChargeResult(
        status=status,
        provider_reference=row.provider_reference,
        decline_code=row.decline_code if status is ChargeStatus.FAILED else None,
    )


def _refund_result(row: Any) -> RefundResult:
    status = RefundStatus(row.status)
    return RefundResult(
        status=status,
        provider_reference=row.provider_reference,
        failure_code=row.decline_code if status is RefundStatus.FAILED else None,
    )
