"""Refunding payments, in the same atomic phases as paying (domain.services.payments).

The payment is locked while the refund is checked and recorded PENDING, so concurrent
refunds queue on it and each sees the others: PENDING and SUCCEEDED refunds never exceed
the captured amount. The provider is then called with the refund's own key; its answer
settles the refund (SUCCEEDED adds to the payment's `amount_refunded`; FAILED frees the
amount and loses no money). A refund left PENDING by a crash is asked again by the
reconciler with the same key.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from domain import events
from domain.errors import DomainError, ErrorCode, FieldError, NotFound
from domain.ids import new_id, prefix_of
from domain.invoice_payments import PROVIDER_ERROR, Payment
from domain.money import Money, sum_money
from domain.payments import (
    IdempotencyKeyMismatch,
    PaymentProvider,
    PaymentProviderError,
    RefundResult,
)
from domain.payments import (
    RefundStatus as ProviderRefundStatus,
)
from domain.ports import UnitOfWork
from domain.refunds import PAYMENT_FIELD, Refund, RefundReason, RefundStatus, refund_amount
from domain.services.payments import RECONCILE_AFTER, answered

_log = logging.getLogger("ledgerline.refunds")


async def refund_payment(
    uow: UnitOfWork,
    provider: PaymentProvider,
    payment_id: str,
    amount: Decimal | None,
    reason: RefundReason,
    *,
    request_key: str | None,
    now: datetime,
) -> Refund:
    """Gives back `amount` (default: all that may still be refunded) of a successful
    payment. `uow` owns its transactions, as for paying."""
    async with uow:
        refund = None if request_key is None else await uow.refunds.by_request_key(request_key)
        if refund is not None and refund.payment_id != payment_id:
            raise DomainError(
                [
                    FieldError(
                        ErrorCode.IDEMPOTENCY_KEY_REUSED,
                        PAYMENT_FIELD,
                        "This Idempotency-Key refunded another payment; use a new key.",
                    )
                ]
            )
        if refund is None:
            payment = invoice = None
            if prefix_of(payment_id) == "pay":
                found = await uow.payments.get(payment_id)
                if found is not None:
                    # Invoice, then payment: the order every path locks in.
                    invoice = await uow.invoices.get(found.invoice_id, for_update=True)
                    payment = await uow.payments.get(payment_id, for_update=True)
            if payment is None or invoice is None:
                raise NotFound(PAYMENT_FIELD, "Payment")
            zero = Money.zero(payment.amount.currency)
            reserved = await uow.refunds.reserved(payment.id) or zero
            credited = sum_money(
                (note.amount for note in await uow.credit_notes.of_invoice(invoice.id)),
                invoice.currency,
            )
            direct = await uow.refunds.given_back_directly(invoice.id) or zero
            given = refund_amount(payment, amount, reserved, invoice.creditable - credited - direct)
            refund = await uow.refunds.add(
                new_refund(payment, given, reason, now, request_key=request_key)
            )
        charge_reference = await _charge_reference(uow, refund)
        await uow.commit()
    if refund.status is not RefundStatus.PENDING or charge_reference is None:
        return refund
    result = await _refund(provider, refund, charge_reference)
    if result is None:
        return refund
    try:
        return await settle_refund(uow, refund.id, result, now)
    except DomainError:  # BUSY once the provider answered: the reconciler settles it
        return refund


def new_refund(
    payment: Payment,
    amount: Money,
    reason: RefundReason,
    now: datetime,
    *,
    request_key: str | None = None,
    credit_note_id: str | None = None,
) -> Refund:
    """A PENDING refund of `payment`, with the idempotency key the provider will get."""
    refund_id = new_id("re")
    return Refund(
        id=refund_id,
        payment_id=payment.id,
        invoice_id=payment.invoice_id,
        amount=amount,
        status=RefundStatus.PENDING,
        failure_code=None,
        reason=reason,
        provider=payment.provider,
        provider_reference=None,
        provider_idempotency_key=f"ledgerline-{refund_id}",
        request_key=request_key,
        created_at=now,
        settled_at=None,
        credit_note_id=credit_note_id,
    )


async def reserve_refunds(
    uow: UnitOfWork,
    invoice_id: str,
    amount: Money,
    reason: RefundReason,
    credit_note_id: str,
    now: datetime,
) -> list[Refund]:
    """PENDING refunds of `amount` across the invoice's captured payments, newest first,
    in the caller's transaction (which holds the invoice's lock; the payments are locked
    here): a credit note's REFUND outcome. Send them once committed (`send_refunds`)."""
    left = amount
    made: list[Refund] = []
    for payment in await uow.payments.captured_of_invoice(invoice_id):
        reserved = await uow.refunds.reserved(payment.id) or Money.zero(amount.currency)
        room = payment.amount - reserved
        take = room if room < left else left
        if take.minor_units > 0:
            made.append(
                await uow.refunds.add(
                    new_refund(payment, take, reason, now, credit_note_id=credit_note_id)
                )
            )
            left = left - take
        if left.is_zero():
            return made
    raise DomainError(
        [
            FieldError(
                ErrorCode.REFUND_EXCEEDS_PAYMENT,
                ("input", "amount"),
                "The invoice's payments cannot give back that much (less refunds made or in "
                "progress).",
            )
        ]
    )


async def send_refunds(
    uow: UnitOfWork, provider: PaymentProvider, refunds: list[Refund], now: datetime
) -> list[Refund]:
    """Asks the provider for refunds recorded (and committed) PENDING, and settles each."""
    sent = []
    for refund in refunds:
        async with uow:
            reference = await _charge_reference(uow, refund)
            await uow.commit()
        result = None if reference is None else await _refund(provider, refund, reference)
        sent.append(refund if result is None else await settle_refund(uow, refund.id, result, now))
    return sent


async def _charge_reference(uow: UnitOfWork, refund: Refund) -> str | None:
    """The provider's id of the charge the refund gives back."""
    payment = await uow.payments.get(refund.payment_id)
    return None if payment is None else payment.provider_reference


async def _refund(
    provider: PaymentProvider, refund: Refund, charge_reference: str
) -> RefundResult | None:
    try:
        return await answered(
            lambda: provider.refund(
                charge_reference, refund.amount, refund.provider_idempotency_key
            )
        )
    except IdempotencyKeyMismatch:
        return None
    except PaymentProviderError:
        return RefundResult(ProviderRefundStatus.FAILED, "", PROVIDER_ERROR)


async def settle_refund(
    uow: UnitOfWork, refund_id: str, result: RefundResult, now: datetime
) -> Refund:
    """Records the provider's answer once (a settled refund is left as it is)."""
    async with uow:
        refund = await uow.refunds.get(refund_id)
        assert refund is not None
        await uow.invoices.get(refund.invoice_id, for_update=True)
        payment = await uow.payments.get(refund.payment_id, for_update=True)
        refund = await uow.refunds.get(refund_id, for_update=True)
        assert payment is not None and refund is not None
        if refund.status is RefundStatus.SUCCEEDED and result.status.value == "FAILED":
            # A refund can fail after it succeeded (Stripe says so of bank refunds): the
            # money did not go back after all.
            failed = await uow.refunds.save(refund.settled_by(result, now))
            await uow.payments.save(
                replace(payment, amount_refunded=payment.amount_refunded - failed.amount)
            )
            await uow.events.add(events.REFUND_FAILED, failed.id, failed.snapshot())
            await uow.commit()
            return failed
        if refund.status is not RefundStatus.PENDING:
            return refund
        settled = refund.settled_by(result, now)
        if settled == refund:
            return refund
        saved = await uow.refunds.save(settled)
        if saved.status is RefundStatus.SUCCEEDED:
            await uow.payments.save(
                replace(payment, amount_refunded=payment.amount_refunded + saved.amount)
            )
            await uow.events.add(events.REFUND_CREATED, saved.id, saved.snapshot())
        elif saved.status is RefundStatus.FAILED:
            await uow.events.add(events.REFUND_FAILED, saved.id, saved.snapshot())
        await uow.commit()
    return saved


async def settle_stale_refunds(
    uow: UnitOfWork, provider: PaymentProvider, now: datetime, *, limit: int = 100
) -> int:
    """The reconciler's share for refunds: a PENDING refund is asked again, same key."""
    async with uow:
        stale = await uow.refunds.stale_pending(now - RECONCILE_AFTER, limit)
        references = {r.id: await _charge_reference(uow, r) for r in stale}
        await uow.commit()
    settled = 0
    for refund in stale:
        reference = references[refund.id]
        if reference is None:
            continue
        if refund.provider_reference is not None:
            # The provider has it: read it, never ask it again (a key it has forgotten
            # would make a second refund).
            try:
                result: RefundResult | None = await provider.retrieve_refund(
                    refund.provider_reference
                )
            except PaymentProviderError:
                result = None
        else:
            result = await _refund(provider, refund, reference)
        if result is None or result.status is ProviderRefundStatus.PENDING:
            continue
        try:
            after = await settle_refund(uow, refund.id, result, now)
        except Exception:  # one refund's trouble must not hold up the others
            _log.exception("could not settle refund %s; the next round retries", refund.id)
            continue
        settled += after.status is not RefundStatus.PENDING
    return settled


async def settle_reported_refund(
    uow: UnitOfWork, provider: str, reference: str, result: RefundResult, now: datetime
) -> Refund | None:
    """A refund's outcome the provider reported on its own: settled once."""
    async with uow:
        refund = await uow.refunds.by_provider_reference(provider, reference)
        await uow.commit()
    if refund is None:
        return None
    return await settle_refund(uow, refund.id, result, now)
