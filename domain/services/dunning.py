"""Dunning's consequences, in the transaction that records a failed automatic attempt."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from domain import events
from domain.dunning import DunningPolicy, FinalAction
from domain.invoice_payments import Payment, PaymentStatus
from domain.invoices import Invoice, InvoiceStatus
from domain.ports import UnitOfWork
from domain.subscriptions import SubscriptionStatus


async def after_automatic_failure(
    uow: UnitOfWork, invoice: Invoice, payment: Payment, policy: DunningPolicy, now: datetime
) -> Invoice:
    """Dunning, in the settling transaction: past due at the first failure, the next
    attempt scheduled, and the final action after the last."""
    assert payment.attempt is not None and payment.status is PaymentStatus.FAILED
    if invoice.status is not InvoiceStatus.OPEN or invoice.amount_remaining.is_zero():
        return replace(invoice, next_collection_at=None)  # settled meanwhile: no dunning
    next_at = policy.next_attempt_at(payment.attempt, now)
    if invoice.subscription_id is not None:
        subscription = await uow.subscriptions.get(invoice.subscription_id, for_update=True)
        if subscription is not None and subscription.status is not SubscriptionStatus.CANCELED:
            if next_at is None and policy.final_action is FinalAction.CANCEL:
                ended = replace(
                    subscription,
                    status=SubscriptionStatus.CANCELED,
                    canceled_at=now,
                    ended_at=now,
                    cancel_at_period_end=False,
                    updated_at=now,
                )
                saved = await uow.subscriptions.save(ended)
                await uow.events.add(events.SUBSCRIPTION_CANCELED, saved.id, saved.snapshot())
            elif subscription.status is not SubscriptionStatus.PAST_DUE:
                past_due = replace(subscription, status=SubscriptionStatus.PAST_DUE, updated_at=now)
                saved = await uow.subscriptions.save(past_due)
                await uow.events.add(events.SUBSCRIPTION_UPDATED, saved.id, saved.snapshot())
    return replace(invoice, next_collection_at=next_at)
