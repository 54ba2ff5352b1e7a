"""Paying invoices, in atomic phases around the provider's call (SECURITY.md).

1. Recovery point: the invoice is locked, the payment checked (payable, amount, method) and
   recorded PENDING with the idempotency key the provider will get; committed.
2. The provider is called, holding no lock and no transaction.
3. Settlement: the payment and the invoice are locked again and the answer recorded, with
   its events; committed.

A crash between 1 and 3 leaves a PENDING payment: a retry with the same Idempotency-Key
resumes it, and the worker's reconciler (`settle_stale`) asks the provider again with the
same key, so the charge is made once whatever fails. The unit of work given here must own
its transactions (each `async with` commits on its own): money moved at a provider cannot
be rolled back with a request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final, TypeVar

from domain import events
from domain.dunning import DunningPolicy
from domain.errors import DomainError, ErrorCode, FieldError, NotFound
from domain.ids import new_id, prefix_of
from domain.invoice_payments import (
    INVOICE_FIELD,
    NO_PAYMENT_METHOD,
    Payment,
    PaymentStatus,
    failed,
    paid,
    payment_amount,
    require_payable,
)
from domain.invoices import Invoice, InvoiceStatus
from domain.money import Money
from domain.payment_methods import PaymentMethod
from domain.payments import (
    ChargeResult,
    ChargeStatus,
    IdempotencyKeyMismatch,
    PaymentMethodRejected,
    PaymentProvider,
    PaymentProviderError,
    ProviderUnavailable,
)
from domain.ports import UnitOfWork
from domain.services.dunning import after_automatic_failure
from domain.subscriptions import SubscriptionStatus

_log = logging.getLogger("ledgerline.payments")
T = TypeVar("T")

METHOD_FIELD: Final = ("input", "paymentMethodId")
# A provider that did not answer is asked again at once, with the same key (safe: it
# answers a repeated key with the first charge); past these pauses the payment stays
# PENDING for the reconciler.
RETRY_PAUSES: Final = (0.2, 1.0)
# A PENDING payment younger than this may still be settled by the request that made it.
RECONCILE_AFTER: Final = timedelta(seconds=60)
DEFAULT_DUNNING: Final = DunningPolicy()


async def pay_invoice(
    uow: UnitOfWork,
    provider: PaymentProvider,
    invoice_id: str,
    payment_method_id: str | None,
    amount: Decimal | None,
    *,
    request_key: str | None,
    now: datetime,
) -> Payment:
    """Charges the invoice's customer: `amount` (default: all that remains) on the method
    (default: the customer's default method). A decline is a FAILED payment, not an error;
    a provider that does not answer leaves it PENDING."""
    async with uow:
        payment = None if request_key is None else await uow.payments.by_request_key(request_key)
        if payment is not None and payment.invoice_id != invoice_id:
            raise DomainError(
                [
                    FieldError(
                        ErrorCode.IDEMPOTENCY_KEY_REUSED,
                        INVOICE_FIELD,
                        "This Idempotency-Key paid another invoice; use a new key.",
                    )
                ]
            )
        if payment is None:
            invoice = await _locked_invoice(uow, invoice_id)
            require_payable(invoice)
            method: PaymentMethod | None = await _method(uow, invoice, payment_method_id)
            in_flight = await uow.payments.in_flight(invoice.id)
            open_amount = invoice.amount_remaining - (in_flight or Money.zero(invoice.currency))
            charged = payment_amount(amount, open_amount)
            payment = await uow.payments.add(
                new_pending(invoice, method, charged, provider.name, request_key, None, now)
            )
        else:
            method = await uow.payment_methods.get(payment.payment_method_id or "")
        await uow.commit()
    if payment.status is not PaymentStatus.PENDING or method is None:
        return payment  # a retry of a payment already settled
    result = await charge(provider, payment, method.provider_reference)
    if result is None:
        return payment
    try:
        return await settle_charge(uow, payment.id, result, now)
    except DomainError:
        # The invoice stayed locked past the lock timeout (BUSY): the provider answered,
        # so the payment is left PENDING for the reconciler rather than answered as an
        # error the caller might retry with a new key.
        return payment


def new_pending(
    invoice: Invoice,
    method: PaymentMethod | None,
    amount: Money,
    provider: str,
    request_key: str | None,
    attempt: int | None,
    now: datetime,
) -> Payment:
    payment_id = new_id("pay")
    return Payment(
        id=payment_id,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        payment_method_id=None if method is None else method.id,
        amount=amount,
        status=PaymentStatus.PENDING,
        decline_code=None,
        provider=provider,
        provider_reference=None,
        # Ours, unique per payment: the provider charges once per key.
        provider_idempotency_key=f"ledgerline-{payment_id}",
        request_key=request_key,
        attempt=attempt,
        amount_refunded=Money.zero(amount.currency),
        created_at=now,
        settled_at=None,
    )


async def answered(ask: Callable[[], Awaitable[T]]) -> T | None:
    """The provider's answer to a call that carries our idempotency key, asked again while
    it does not answer (safe: a repeated key gets the first call's result); None when it
    never did."""
    for pause in (*RETRY_PAUSES, None):
        try:
            return await ask()
        except ProviderUnavailable:
            if pause is None:
                return None
            await asyncio.sleep(pause)
    return None


async def charge(
    provider: PaymentProvider, payment: Payment, method_reference: str
) -> ChargeResult | None:
    """The provider's answer to the payment's charge; None when it never answered."""
    try:
        return await answered(
            lambda: provider.charge(
                payment.amount,
                method_reference,
                payment.provider_idempotency_key,
                {"invoice_id": payment.invoice_id, "payment_id": payment.id},
            )
        )
    except PaymentMethodRejected:
        return failed("payment_method_invalid")
    except IdempotencyKeyMismatch:
        # Our keys are unique per payment: this is a bug to look at, not a decline.
        _log.error("provider refused the idempotency key of payment %s", payment.id)
        return None
    except PaymentProviderError:
        return failed("provider_error")


async def settle_charge(
    uow: UnitOfWork,
    payment_id: str,
    result: ChargeResult,
    now: datetime,
    dunning: DunningPolicy = DEFAULT_DUNNING,
) -> Payment:
    """Records the provider's answer once: a payment settled already (by a retry, the
    reconciler or the provider's webhook) is left as it is."""
    async with uow:
        payment = await uow.payments.get(payment_id)
        assert payment is not None
        # The invoice first, then the payment: every path locks in this order.
        invoice = await uow.invoices.get(payment.invoice_id, for_update=True)
        payment = await uow.payments.get(payment_id, for_update=True)
        assert invoice is not None and payment is not None
        if payment.status is not PaymentStatus.PENDING:
            return payment
        settled = payment.settled_by(result, now)
        if settled.status is PaymentStatus.PENDING and settled == payment:
            return payment
        saved = await uow.payments.save(settled)
        await _record_outcome(uow, invoice, saved, now, dunning)
        await uow.commit()
    return saved


async def _record_outcome(
    uow: UnitOfWork, invoice: Invoice, payment: Payment, now: datetime, dunning: DunningPolicy
) -> None:
    if payment.status is PaymentStatus.SUCCEEDED:
        counted = paid(invoice, payment, now)
        if payment.attempt is not None or counted.status is InvoiceStatus.PAID:
            counted = replace(counted, next_collection_at=None)
        await uow.invoices.save(counted)
        await uow.events.add(events.PAYMENT_SUCCEEDED, payment.id, payment.snapshot())
        if counted.status is InvoiceStatus.PAID and invoice.status is not InvoiceStatus.PAID:
            await uow.events.add(events.INVOICE_PAID, counted.id, counted.snapshot())
            await _restore_subscription(uow, counted)
    elif payment.status is PaymentStatus.FAILED:
        await uow.events.add(events.PAYMENT_FAILED, payment.id, payment.snapshot())
        if payment.attempt is not None:
            await uow.invoices.save(
                await after_automatic_failure(uow, invoice, payment, dunning, now)
            )


async def _restore_subscription(uow: UnitOfWork, invoice: Invoice) -> None:
    """A past-due subscription whose invoice is paid is active again (dunning succeeded)."""
    if invoice.subscription_id is None:
        return
    subscription = await uow.subscriptions.get(invoice.subscription_id, for_update=True)
    if subscription is None or subscription.status is not SubscriptionStatus.PAST_DUE:
        return
    if await uow.invoices.others_in_dunning(subscription.id, invoice.id):
        return  # still owed on another invoice: past due it stays
    restored = await uow.subscriptions.save(
        replace(
            subscription,
            status=SubscriptionStatus.ACTIVE,
            updated_at=invoice.paid_at or subscription.updated_at,
        )
    )
    await uow.events.add(events.SUBSCRIPTION_UPDATED, restored.id, restored.snapshot())


async def _locked_invoice(uow: UnitOfWork, invoice_id: str) -> Invoice:
    invoice = None
    if prefix_of(invoice_id) == "inv":
        invoice = await uow.invoices.get(invoice_id, for_update=True)
    if invoice is None:
        raise NotFound(INVOICE_FIELD, "Invoice")
    return invoice


async def _method(
    uow: UnitOfWork, invoice: Invoice, payment_method_id: str | None
) -> PaymentMethod:
    """The method to charge: the one given, if it is the invoice's customer's and attached;
    else the customer's default."""
    if payment_method_id is None:
        method = await uow.payment_methods.default_of(invoice.customer_id)
        if method is None:
            raise DomainError(
                [
                    FieldError(
                        ErrorCode.NO_PAYMENT_METHOD,
                        METHOD_FIELD,
                        "The customer has no default payment method: give one.",
                    )
                ]
            )
        return method
    found = None
    if prefix_of(payment_method_id) == "pm":
        found = await uow.payment_methods.get(payment_method_id)
    # Another customer's method reads as not found: it is not this invoice's to charge.
    if found is None or found.customer_id != invoice.customer_id:
        raise NotFound(METHOD_FIELD, "Payment method")
    if found.detached:
        raise DomainError(
            [
                FieldError(
                    ErrorCode.PAYMENT_METHOD_DETACHED,
                    METHOD_FIELD,
                    "The payment method is detached.",
                )
            ]
        )
    return found


async def settle_stale(
    uow: UnitOfWork,
    provider: PaymentProvider,
    now: datetime,
    *,
    dunning: DunningPolicy = DEFAULT_DUNNING,
    limit: int = 100,
) -> int:
    """The reconciler: PENDING payments left by a crash or a provider that did not answer
    (older than RECONCILE_AFTER) are asked of the provider again with their own key, which
    answers the charge it made (or makes it, if the first call never reached it).
    Answers how many were settled."""
    async with uow:
        stale = await uow.payments.stale_pending(now - RECONCILE_AFTER, limit)
        methods = {p.id: await uow.payment_methods.get(p.payment_method_id or "") for p in stale}
        await uow.commit()
    settled = 0
    for payment in stale:
        method = methods[payment.id]
        result: ChargeResult | None
        if payment.provider_reference is not None:
            try:
                result = await provider.retrieve_charge(payment.provider_reference)
            except PaymentProviderError:
                result = None
        elif method is None:
            result = failed(NO_PAYMENT_METHOD)
        else:
            result = await charge(provider, payment, method.provider_reference)
        if result is None or (
            result.status is ChargeStatus.PENDING and payment.provider_reference is not None
        ):
            continue
        try:
            after = await settle_charge(uow, payment.id, result, now, dunning)
        except Exception:  # one payment's trouble must not hold up the others
            _log.exception("could not settle payment %s; the next round retries", payment.id)
            continue
        settled += after.status is not PaymentStatus.PENDING
    return settled


async def settle_reported_charge(
    uow: UnitOfWork,
    provider: str,
    reference: str,
    result: ChargeResult,
    now: datetime,
    dunning: DunningPolicy = DEFAULT_DUNNING,
) -> Payment | None:
    """A charge's outcome the provider reported on its own (a webhook): the payment it
    belongs to is settled once; a repeated or unknown report changes nothing."""
    async with uow:
        payment = await uow.payments.by_provider_reference(provider, reference)
        await uow.commit()
    if payment is None:
        return None
    return await settle_charge(uow, payment.id, result, now, dunning)
