"""Making invoices from lines: discounts and taxes applied, numbers taken, finalized.

Shared by the one-off invoice services, the subscription services and the billing run, so
an invoice is priced one way whoever makes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from domain import events
from domain.billing import LineDraft
from domain.coupons import Discount, applies_to
from domain.customers import Customer
from domain.ids import new_id
from domain.invoice_totals import AppliedDiscount, ChargeLine, InvoiceTotals, compute_totals
from domain.invoices import (
    BillingReason,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineDiscount,
    TaxBreakdownEntry,
    Totals,
    due_date,
)
from domain.money import Money
from domain.ports import UnitOfWork
from domain.services.balances import apply_balances
from domain.taxes import (
    RateTable,
    RateTableTaxProvider,
    TaxableLine,
    TaxCustomer,
    TaxExemption,
    TaxProvider,
    TaxRate,
)


def tax_customer(customer: Customer) -> TaxCustomer:
    address = customer.address
    return TaxCustomer(
        country=None if address is None else address.country,
        region=None if address is None else address.state,
        exemption=TaxExemption(customer.tax_exempt),
    )


def default_tax_provider(uow: UnitOfWork) -> TaxProvider:
    """The merchant's own rate table (`createTaxRate`)."""
    return RateTableTaxProvider(uow.tax_rates)


class RatesReadOnce:
    """A rate table that reads each country's rates once: for the invoices of one
    transaction (a billing run's batch), which the rates cannot change under."""

    def __init__(self, rates: RateTable) -> None:
        self._rates = rates
        self._by_country: dict[str, list[TaxRate]] = {}

    async def active_rates(self, country: str) -> list[TaxRate]:
        if country not in self._by_country:
            self._by_country[country] = await self._rates.active_rates(country)
        return self._by_country[country]


def batch_tax_provider(uow: UnitOfWork) -> TaxProvider:
    """The merchant's own rate table, each country's rates read once in the unit of work."""
    return RateTableTaxProvider(RatesReadOnce(uow.tax_rates))


def applicable(
    discounts: Sequence[Discount], subscription_id: str | None, period_start: datetime
) -> list[Discount]:
    """The discounts an invoice gets: the customer's own and its subscription's, live at
    the start of the invoice's period."""
    return [
        discount
        for discount in discounts
        if discount.subscription_id in (None, subscription_id)
        and applies_to(discount, period_start)
    ]


def _applied(discount: Discount) -> AppliedDiscount:
    coupon = discount.coupon
    return AppliedDiscount(
        discount_id=discount.id,
        percent_off=coupon.percent_off,
        amount_off=coupon.amount_off,
        plan_ids=frozenset(coupon.applies_to_plans),
    )


def line_from_draft(draft: LineDraft) -> InvoiceLine:
    return InvoiceLine(
        id=new_id("il"),
        kind=draft.kind,
        description=draft.description,
        amount=draft.amount,
        quantity=draft.quantity,
        unit_amount=draft.unit_amount,
        period_start=None if draft.period is None else draft.period.start,
        period_end=None if draft.period is None else draft.period.end,
        price_id=draft.price_id,
        plan_id=draft.plan_id,
        explanation=draft.explanation,
    )


async def priced(
    tax: TaxProvider,
    customer: Customer,
    invoice: Invoice,
    discounts: Sequence[Discount],
) -> Invoice:
    """The invoice with its lines' discounts and taxes and its totals computed anew."""
    lines = invoice.lines
    decisions = await tax.decide(
        tax_customer(customer),
        [TaxableLine(line.id, line.amount, line.plan_id, line.description) for line in lines],
    )
    charges = [
        ChargeLine(key=line.id, amount=line.amount, plan_id=line.plan_id, tax=decision)
        for line, decision in zip(lines, decisions, strict=True)
    ]
    computed = compute_totals(invoice.currency, charges, [_applied(d) for d in discounts])
    return _with_totals(invoice, computed)


def _with_totals(invoice: Invoice, computed: InvoiceTotals) -> Invoice:
    by_key = {line.key: line for line in computed.lines}
    lines = []
    for line in invoice.lines:
        result = by_key[line.id]
        rate = result.tax_rate
        lines.append(
            replace(
                line,
                discounts=tuple(LineDiscount(d_id, amount) for d_id, amount in result.discounts),
                tax_rate_id=None if rate is None else rate.id,
                tax_percentage=None if rate is None else rate.percentage,
                tax_inclusive=result.inclusive,
                tax_amount=result.tax_amount,
            )
        )
    breakdown = tuple(
        TaxBreakdownEntry(
            tax_rate_id=entry.rate.id,
            name=entry.rate.display_name,
            percentage=entry.rate.percentage,
            inclusive=entry.rate.inclusive,
            taxable_amount=entry.taxable_amount,
            tax_amount=entry.tax_amount,
        )
        for entry in computed.breakdown
    )
    return replace(
        invoice,
        lines=tuple(lines),
        totals=Totals(
            subtotal=computed.subtotal,
            discount_total=computed.discount_total,
            tax_total=computed.tax_total,
            total=computed.total,
        ),
        tax_breakdown=breakdown,
        reverse_charge=computed.reverse_charge,
    )


def draft_invoice(
    customer: Customer,
    *,
    now: datetime,
    billing_reason: BillingReason,
    subscription_id: str | None = None,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
    lines: Sequence[LineDraft] = (),
    memo: str | None = None,
) -> Invoice:
    return Invoice(
        id=new_id("inv"),
        customer_id=customer.id,
        subscription_id=subscription_id,
        status=InvoiceStatus.DRAFT,
        currency=customer.currency,
        billing_reason=billing_reason,
        number=None,
        period_start=period_start,
        period_end=period_end,
        totals=Totals.zero(customer.currency),
        amount_paid=Money.zero(customer.currency),
        amount_credited=Money.zero(customer.currency),
        balance_applied=Money.zero(customer.currency),
        due_date=None,
        reverse_charge=False,
        created_at=now,
        finalized_at=None,
        paid_at=None,
        voided_at=None,
        marked_uncollectible_at=None,
        lines=tuple(line_from_draft(line) for line in lines),
        memo=memo,
    )


def bill_to(customer: Customer) -> dict[str, object]:
    """The customer as the finalized invoice keeps it: later edits do not rewrite it."""
    return customer.snapshot()


async def finalize_all(
    uow: UnitOfWork, invoices: Sequence[tuple[Invoice, Customer]], now: datetime
) -> list[Invoice]:
    """Numbers the drafts in order and makes them OPEN, with their customers' credit balance
    applied (PAID when it covers them). The numbers are taken last in the caller's
    transaction, which holds the tenant's counter until it commits: gapless."""
    if not invoices:
        return []
    template, first = await uow.invoices.take_numbers(len(invoices))
    finalized = []
    for offset, (invoice, customer) in enumerate(invoices):
        sequence = first + offset
        finalized.append(
            replace(
                invoice,
                status=InvoiceStatus.OPEN,
                number=template.format(sequence, now),
                sequence=sequence,
                finalized_at=now,
                due_date=due_date(now, customer.net_terms_days),
                customer_snapshot=bill_to(customer),
                # The worker charges a subscription's invoice at once if it collects
                # automatically (it checks the subscription's collection method).
                next_collection_at=now
                if invoice.subscription_id is not None and invoice.amount_due.minor_units > 0
                else None,
            )
        )
    return await apply_balances(uow, finalized, now)


def finalization_events(invoices: Sequence[Invoice]) -> list[tuple[str, str, dict[str, Any]]]:
    """`invoice.finalized` for each, then `invoice.paid` for those their customer's balance
    paid at once (one snapshot per invoice)."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    for invoice in invoices:
        snapshot = invoice.snapshot()
        found.append((events.INVOICE_FINALIZED, invoice.id, snapshot))
        if invoice.status is InvoiceStatus.PAID:
            found.append((events.INVOICE_PAID, invoice.id, snapshot))
    return found


async def record_invoice_events(uow: UnitOfWork, invoices: Sequence[Invoice]) -> None:
    for invoice in invoices:
        await uow.events.add(events.INVOICE_CREATED, invoice.id, invoice.snapshot())
        if invoice.status is not InvoiceStatus.DRAFT:
            await uow.events.add_many(finalization_events([invoice]))
