"""Automatic collection and dunning: the worker charges finalized invoices of subscriptions
that collect automatically, and retries failed charges on a schedule.

An invoice finalized with something due and a subscription gets `next_collection_at`; the
worker claims due invoices (FOR UPDATE SKIP LOCKED, so any number of workers share them),
records one PENDING payment per attempt (unique per invoice and attempt number), then
charges and settles each as `payInvoice` does. A failed attempt makes the subscription
PAST_DUE and schedules the next one; after the last, the subscription is canceled (or left
past due, as configured). A payment that settles the invoice makes it ACTIVE again.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from domain.dunning import DunningPolicy
from domain.invoice_payments import NO_PAYMENT_METHOD, Payment, failed
from domain.invoices import Invoice
from domain.money import Money
from domain.payment_methods import PaymentMethod
from domain.payments import PaymentProvider
from domain.ports import UnitOfWork
from domain.services.payments import charge, new_pending, settle_charge
from domain.subscriptions import CollectionMethod

BATCH_SIZE: Final = 50
RECHECK_AFTER: Final = timedelta(hours=1)


async def collect_due(
    uow: UnitOfWork,
    provider: PaymentProvider,
    now: datetime,
    policy: DunningPolicy,
    *,
    limit: int = BATCH_SIZE,
) -> int:
    """One batch: charges up to `limit` invoices whose collection is due. Answers how many
    were claimed (0: none left)."""
    attempts: list[tuple[Payment, PaymentMethod | None]] = []
    async with uow:
        due = await uow.invoices.claim_collectable(now, limit)
        for invoice in due:
            planned = await _attempt(uow, provider, invoice, now)
            if planned is not None:
                attempts.append(planned)
        await uow.commit()
    for payment, method in attempts:
        result = (
            failed(NO_PAYMENT_METHOD)
            if method is None
            else await charge(provider, payment, method.provider_reference)
        )
        if result is not None:
            await settle_charge(uow, payment.id, result, now, policy)
    return len(due)


async def _attempt(
    uow: UnitOfWork, provider: PaymentProvider, invoice: Invoice, now: datetime
) -> tuple[Payment, PaymentMethod | None] | None:
    """The next attempt's PENDING payment for a claimed invoice, or None (and no more
    collection) when there is nothing to charge automatically."""
    subscription = None
    if invoice.subscription_id is not None:
        subscription = await uow.subscriptions.get(invoice.subscription_id)
    in_flight = await uow.payments.in_flight(invoice.id)
    open_amount = invoice.amount_remaining - (in_flight or Money.zero(invoice.currency))
    if (
        subscription is None
        or subscription.collection_method is not CollectionMethod.CHARGE_AUTOMATICALLY
        or invoice.amount_remaining.is_zero()
    ):
        await uow.invoices.save(replace(invoice, next_collection_at=None))
        return None
    if not open_amount.minor_units > 0:
        # Payments in progress cover it: look again once they had time to settle (one
        # may still fail).
        await uow.invoices.save(replace(invoice, next_collection_at=now + RECHECK_AFTER))
        return None
    method = await uow.payment_methods.default_of(invoice.customer_id)
    attempt = invoice.collection_attempts + 1
    payment = await uow.payments.add(
        new_pending(invoice, method, open_amount, provider.name, None, attempt, now)
    )
    # Off the queue while the attempt is in flight; settling schedules the next one.
    await uow.invoices.save(replace(invoice, collection_attempts=attempt, next_collection_at=None))
    return payment, method
