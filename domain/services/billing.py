"""The billing run: every subscription whose period has ended is billed once, in batches.

A batch is one transaction: claim up to `limit` due subscriptions (locked, skipping those
another worker holds), read what they need in one statement per kind (plans, customers,
usage per metric and window, discounts, tax rates), price each renewal, write the invoices,
their lines and the advanced subscriptions, take the invoice numbers last (the tenant's
counter is held only from there to the commit) and commit. A crash anywhere rolls the whole
batch back; the unique (subscription, period start) index makes a period billable once
whatever a bug or a retry does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from domain import events
from domain.billing import AdvancePricing, Renewal, renewal
from domain.billing_periods import Period, truncate_to_second
from domain.coupons import CouponDuration, Discount
from domain.customers import Customer
from domain.invoices import BillingReason, Invoice, InvoiceStatus
from domain.money import Money
from domain.plans import BillingMode, Plan, PlanPrice
from domain.ports import UnitOfWork
from domain.pricing import (
    MeteredUsage,
    PriceBreakdown,
    TransactionFees,
    charges_each_transaction,
    price_transaction_fees,
    price_usage,
)
from domain.services.invoicing import (
    applicable,
    batch_tax_provider,
    draft_invoice,
    finalization_events,
    finalize_all,
    priced,
)
from domain.subscriptions import Subscription, SubscriptionStatus
from domain.taxes import TaxProvider

BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class Billable:
    """A subscription with what billing it needs."""

    subscription: Subscription
    plan: Plan
    customer: Customer

    @property
    def prices(self) -> tuple[PlanPrice, ...]:
        wanted = set(self.subscription.price_ids)
        return tuple(price for price in self.plan.prices if price.id in wanted)


async def usage_by_price(
    uow: UnitOfWork, windows: Sequence[tuple[Billable, Period]]
) -> dict[str, dict[str, PriceBreakdown]]:
    """Each subscription's metered prices' usage in its window, priced (by subscription id,
    then price id). One statement per metric and window, for all the customers billed on
    it."""
    wanted: dict[tuple[str, datetime, datetime], list[tuple[Billable, PlanPrice]]] = defaultdict(
        list
    )
    for billable, window in windows:
        for price in billable.prices:
            if price.billing_mode is BillingMode.METERED and price.metric_code:
                wanted[(price.metric_code, window.start, window.end)].append((billable, price))
    if not wanted:
        return {}
    metrics = await uow.metrics.by_codes({code for code, _, _ in wanted})
    priced_usage: dict[str, dict[str, PriceBreakdown]] = defaultdict(dict)
    for (code, start, end), users in wanted.items():
        metric = metrics[code]
        customer_ids = sorted({b.customer.id for b, _ in users})
        quantities = (
            await uow.usage.quantities(customer_ids, metric, start, end)
            if any(not charges_each_transaction(p.model) for _, p in users)
            else {}
        )
        fees_by_price: dict[str, dict[str, TransactionFees]] = {}
        for billable, price in users:
            customer_id, model = billable.customer.id, price.model
            if charges_each_transaction(model):
                # Each transaction's fee is computed where the events are stored, for all
                # the price's customers at once: the amounts never come into memory.
                if price.id not in fees_by_price:
                    payers = sorted({b.customer.id for b, p in users if p.id == price.id})
                    fees_by_price[price.id] = await uow.usage.percentage_fees(
                        payers, metric, model, start, end
                    )
                nothing = TransactionFees(0, Decimal(0), Money.zero(model.currency))
                fees = fees_by_price[price.id].get(customer_id, nothing)
                breakdown = price_transaction_fees(model, fees)
            else:
                quantity = quantities.get(customer_id, (Decimal(0), 0))[0]
                breakdown = price_usage(model, MeteredUsage(quantity))
            priced_usage[billable.subscription.id][price.id] = breakdown
    return priced_usage


async def billables(uow: UnitOfWork, subscriptions: Sequence[Subscription]) -> list[Billable]:
    plans = await uow.plans.get_many({s.plan_id for s in subscriptions})
    customers = await uow.customers.get_many({s.customer_id for s in subscriptions})
    return [Billable(s, plans[s.plan_id], customers[s.customer_id]) for s in subscriptions]


@dataclass(frozen=True, slots=True)
class BatchResult:
    invoices: int
    subscriptions: int


async def bill_due(
    uow: UnitOfWork,
    as_of: datetime,
    *,
    limit: int = BATCH_SIZE,
    tax: TaxProvider | None = None,
    grace: timedelta = timedelta(0),
) -> BatchResult:
    """Bills one batch of the tenant's subscriptions whose period ended by `as_of`; an
    empty result means nothing was due. `as_of` is also the invoices' date.

    With a `grace` period the invoices stay drafts (the merchant may still add lines) and
    `finalize_due_drafts` finalizes them once it has passed; without, they are finalized
    here."""
    as_of = truncate_to_second(as_of)
    async with uow:
        due = await uow.subscriptions.claim_due(as_of, limit)
        if not due:
            return BatchResult(0, 0)
        batch = await billables(uow, due)
        windows = [
            (b, Period(b.subscription.current_period_start, b.subscription.current_period_end))
            for b in batch
            if not b.subscription.trialing
        ]
        usage = await usage_by_price(uow, windows)
        discounts_by_customer: dict[str, list[Discount]] = defaultdict(list)
        for discount in await uow.discounts.live_for(sorted({b.customer.id for b in batch})):
            discounts_by_customer[discount.customer_id].append(discount)
        # A batch is one transaction: each country's tax rates are read once for it.
        provider = tax or batch_tax_provider(uow)
        drafts: list[tuple[Invoice, Customer]] = []
        advanced: list[Subscription] = []
        used_once: list[str] = []
        pricing = AdvancePricing()
        for billable in batch:
            subscription, prices = billable.subscription, billable.prices
            renewed = renewal(
                subscription,
                billable.plan,
                prices,
                usage.get(subscription.id, {}),
                pricing=pricing,
            )
            invoice, once = await _invoice_for(
                provider, billable, renewed, discounts_by_customer[billable.customer.id], as_of
            )
            drafts.append((invoice, billable.customer))
            used_once += once
            advanced.append(_advanced(subscription, renewed, as_of))
        # Everything that needs no invoice number first: from `finalize_all` to the commit
        # the tenant's counter is locked, and other workers' batches wait for it.
        await uow.invoices.add_lines([invoice for invoice, _ in drafts])
        await uow.subscriptions.save_many(advanced)
        if used_once:
            await uow.discounts.mark_invoiced_once(used_once)
        await uow.events.add_many(
            [
                (
                    events.SUBSCRIPTION_CANCELED
                    if s.status is SubscriptionStatus.CANCELED
                    else events.SUBSCRIPTION_RENEWED,
                    s.id,
                    s.snapshot(),
                )
                for s in advanced
            ]
        )
        made = [invoice for invoice, _ in drafts]
        if grace <= timedelta(0):
            made = await finalize_all(uow, drafts, as_of)
        await uow.invoices.add(made, with_lines=False)
        await uow.events.add_many(
            [
                event
                for invoice in made
                for event in (
                    [(events.INVOICE_CREATED, invoice.id, invoice.snapshot())]
                    if invoice.status is InvoiceStatus.DRAFT
                    else _created_and_finalized(invoice)
                )
            ]
        )
        await uow.commit()
    return BatchResult(len(made), len(advanced))


async def finalize_due_drafts(
    uow: UnitOfWork,
    as_of: datetime,
    grace: timedelta,
    *,
    limit: int = BATCH_SIZE,
    tax: TaxProvider | None = None,
) -> int:
    """Finalizes one batch of the billing run's drafts made `grace` or longer before
    `as_of`, priced once more (lines may have been added meanwhile); answers how many."""
    as_of = truncate_to_second(as_of)
    async with uow:
        due = await uow.invoices.claim_drafts(as_of - grace, limit)
        if not due:
            return 0
        customers = await uow.customers.get_many({invoice.customer_id for invoice in due})
        discounts_by_customer: dict[str, list[Discount]] = defaultdict(list)
        for discount in await uow.discounts.live_for(sorted(customers)):
            discounts_by_customer[discount.customer_id].append(discount)
        provider = tax or batch_tax_provider(uow)
        repriced = []
        for invoice in due:
            customer = customers[invoice.customer_id]
            start = invoice.period_start or invoice.created_at
            live = applicable(discounts_by_customer[customer.id], invoice.subscription_id, start)
            repriced.append((await priced(provider, customer, invoice, live), customer))
        finalized = await finalize_all(uow, repriced, as_of)
        for invoice in finalized:
            await uow.invoices.save(invoice)
        await uow.events.add_many(finalization_events(finalized))
        await uow.commit()
    return len(finalized)


def _created_and_finalized(invoice: Invoice) -> list[tuple[str, str, dict[str, Any]]]:
    finalized = finalization_events([invoice])
    return [(events.INVOICE_CREATED, invoice.id, finalized[0][2]), *finalized]


async def _invoice_for(
    tax: TaxProvider,
    billable: Billable,
    renewed: Renewal,
    discounts: Sequence[Discount],
    now: datetime,
) -> tuple[Invoice, list[str]]:
    subscription = billable.subscription
    period_end = renewed.boundary if renewed.next_period is None else renewed.next_period.end
    invoice = draft_invoice(
        billable.customer,
        now=now,
        billing_reason=BillingReason.SUBSCRIPTION_CYCLE,
        subscription_id=subscription.id,
        period_start=renewed.boundary,
        period_end=period_end,
        lines=renewed.lines,
    )
    live = applicable(discounts, subscription.id, renewed.boundary)
    invoice = await priced(tax, billable.customer, invoice, live)
    once = [d.id for d in live if d.coupon.duration is CouponDuration.ONCE]
    return invoice, once


def _advanced(subscription: Subscription, renewed: Renewal, now: datetime) -> Subscription:
    if renewed.next_period is None:
        return replace(
            subscription,
            status=SubscriptionStatus.CANCELED,
            ended_at=renewed.boundary,
            updated_at=now,
        )
    return replace(
        subscription,
        status=renewed.status,
        current_period_start=renewed.next_period.start,
        current_period_end=renewed.next_period.end,
        updated_at=now,
    )
