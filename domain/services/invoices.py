"""One-off invoices and every invoice's lifecycle: finalize, void, mark uncollectible."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from domain import events
from domain.billing import LineDraft
from domain.billing_periods import Period
from domain.customers import Customer
from domain.errors import DomainError, ErrorCode, FieldError, FieldErrors, NotFound
from domain.ids import prefix_of
from domain.invoices import (
    DESCRIPTION_MAX_LENGTH,
    LINES_MAX,
    BillingReason,
    Invoice,
    InvoiceStatus,
    LineKind,
    NumberTemplate,
    require_draft,
    require_transition,
    validate_template,
)
from domain.money import InvalidAmount, line_amount
from domain.ports import UnitOfWork
from domain.services.balances import give_back_balance
from domain.services.customers import billable_customer
from domain.services.invoicing import (
    applicable,
    default_tax_provider,
    draft_invoice,
    finalization_events,
    finalize_all,
    line_from_draft,
    priced,
    record_invoice_events,
)
from domain.taxes import TaxProvider

_ID_FIELD = ("input", "id")
MEMO_MAX_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class OneOffLine:
    """A line a merchant adds by hand: quantity x unit amount (in major units)."""

    description: str
    unit_amount: Decimal
    quantity: Decimal = Decimal(1)
    period_start: datetime | None = None
    period_end: datetime | None = None


async def create_invoice(
    uow: UnitOfWork, customer_id: str, memo: str | None, now: datetime
) -> Invoice:
    """A draft one-off invoice in the customer's currency."""
    if memo is not None and len(memo) > MEMO_MAX_LENGTH:
        raise DomainError(
            [FieldError(ErrorCode.TOO_LONG, ("input", "memo"), f"At most {MEMO_MAX_LENGTH}.")]
        )
    async with uow:
        customer = await billable_customer(uow, customer_id, ("input", "customerId"))
        invoice = draft_invoice(customer, now=now, billing_reason=BillingReason.MANUAL, memo=memo)
        await uow.invoices.add([invoice])
        await record_invoice_events(uow, [invoice])
        await uow.commit()
    return invoice


def _one_off_draft(line: OneOffLine, currency: str) -> LineDraft:
    errors = FieldErrors()
    description = (line.description or "").strip()
    if not 1 <= len(description) <= DESCRIPTION_MAX_LENGTH:
        errors.add(
            ErrorCode.INVALID,
            ("input", "description"),
            f"A description is 1 to {DESCRIPTION_MAX_LENGTH} characters.",
        )
    if not line.quantity.is_finite() or line.quantity <= 0:
        errors.add(ErrorCode.INVALID, ("input", "quantity"), "A quantity is positive.")
    if not line.unit_amount.is_finite():
        errors.add(ErrorCode.INVALID, ("input", "unitAmount"), "An amount is a finite number.")
    period = None
    if (line.period_start is None) != (line.period_end is None):
        errors.add(ErrorCode.INVALID, ("input", "periodEnd"), "Give both ends of a period.")
    elif line.period_start is not None and line.period_end is not None:
        if line.period_start >= line.period_end:
            errors.add(ErrorCode.INVALID, ("input", "periodEnd"), "A period ends after it starts.")
        else:
            period = Period(line.period_start, line.period_end)
    errors.raise_if_any()
    try:
        amount = line_amount(line.unit_amount, line.quantity, currency)
    except InvalidAmount:
        raise DomainError(
            [FieldError(ErrorCode.INVALID, ("input", "unitAmount"), "The amount is out of range.")]
        ) from None
    return LineDraft(
        kind=LineKind.ONE_OFF,
        description=description,
        amount=amount,
        quantity=line.quantity,
        unit_amount=line.unit_amount,
        period=period,
        price_id=None,
        plan_id=None,
        explanation=(
            f"{line.quantity.normalize():f} x {line.unit_amount.normalize():f} {currency}"
            f" = {amount.amount:f} (rounded once, half up)"
        ),
    )


async def add_invoice_line(
    uow: UnitOfWork,
    invoice_id: str,
    line: OneOffLine,
    now: datetime,
    tax: TaxProvider | None = None,
) -> Invoice:
    async with uow:
        invoice, customer = await _invoice(uow, invoice_id, ("input", "invoiceId"))
        require_draft(invoice, ("input", "invoiceId"))
        if len(invoice.lines) >= LINES_MAX:
            raise DomainError(
                [
                    FieldError(
                        ErrorCode.TOO_MANY, ("input", "invoiceId"), f"At most {LINES_MAX} lines."
                    )
                ]
            )
        added = line_from_draft(_one_off_draft(line, invoice.currency))
        changed = await _repriced(
            uow, tax, customer, replace(invoice, lines=(*invoice.lines, added))
        )
        saved = await uow.invoices.save(changed)
        await uow.commit()
    return saved


async def finalize_invoice(
    uow: UnitOfWork, invoice_id: str, now: datetime, tax: TaxProvider | None = None
) -> Invoice:
    """Fixes the lines and totals (priced once more with today's discounts and rates),
    gives the invoice its number and due date."""
    async with uow:
        invoice, customer = await _invoice(uow, invoice_id)
        require_transition(invoice, InvoiceStatus.OPEN)
        repriced = await _repriced(uow, tax, customer, invoice)
        [finalized] = await finalize_all(uow, [(repriced, customer)], now)
        saved = await uow.invoices.save(finalized)
        await uow.events.add_many(finalization_events([saved]))
        await uow.commit()
    return saved


async def void_invoice(uow: UnitOfWork, invoice_id: str, now: datetime) -> Invoice:
    return await _move(uow, invoice_id, InvoiceStatus.VOID, now)


async def mark_invoice_uncollectible(uow: UnitOfWork, invoice_id: str, now: datetime) -> Invoice:
    return await _move(uow, invoice_id, InvoiceStatus.UNCOLLECTIBLE, now)


async def _move(uow: UnitOfWork, invoice_id: str, to: InvoiceStatus, now: datetime) -> Invoice:
    async with uow:
        invoice, customer = await _invoice(uow, invoice_id)
        require_transition(invoice, to)
        if to is InvoiceStatus.VOID:
            await _require_voidable(uow, invoice, customer)
            await give_back_balance(uow, invoice, now)
            moved = replace(invoice, status=to, voided_at=now)
            kind = events.INVOICE_VOIDED
        else:
            moved = replace(invoice, status=to, marked_uncollectible_at=now)
            kind = events.INVOICE_MARKED_UNCOLLECTIBLE
        saved = await uow.invoices.save(moved)
        await uow.events.add(kind, saved.id, saved.snapshot())
        await uow.commit()
    return saved


async def _require_voidable(uow: UnitOfWork, invoice: Invoice, customer: Customer) -> None:
    """A credited invoice stays: its credit notes refer to it (and may have credited the
    customer already). Credit applied from the balance goes back to it, in its currency."""
    problem = None
    if await uow.credit_notes.of_invoice(invoice.id):
        problem = (ErrorCode.IN_USE, "The invoice has credit notes: credit the rest instead.")
    elif not invoice.amount_paid.is_zero() or await uow.payments.in_flight(invoice.id):
        # The customer's money (paid, or on its way) would be kept for nothing owed.
        problem = (
            ErrorCode.IN_USE,
            "The invoice has payments (made or in progress): refund them or credit the "
            "invoice instead.",
        )
    elif not invoice.balance_applied.is_zero() and customer.currency != invoice.currency:
        problem = (
            ErrorCode.CURRENCY_MISMATCH,
            "The customer's balance is now in another currency than the credit this "
            "invoice took from it.",
        )
    if problem is not None:
        raise DomainError([FieldError(problem[0], _ID_FIELD, problem[1])])


async def _repriced(
    uow: UnitOfWork, tax: TaxProvider | None, customer: Customer, invoice: Invoice
) -> Invoice:
    discounts = await uow.discounts.live_for([customer.id])
    start = invoice.period_start or invoice.created_at
    return await priced(
        tax or default_tax_provider(uow),
        customer,
        invoice,
        applicable(discounts, invoice.subscription_id, start),
    )


async def _invoice(
    uow: UnitOfWork, invoice_id: str, field: tuple[str, ...] = _ID_FIELD
) -> tuple[Invoice, Customer]:
    """The invoice, locked (its changes and its finalization apply one after the other),
    with its customer."""
    invoice = None
    if prefix_of(invoice_id) == "inv":
        invoice = await uow.invoices.get(invoice_id, for_update=True)
    if invoice is None:
        raise NotFound(field, "Invoice")
    customer = await uow.customers.get(invoice.customer_id)
    assert customer is not None  # a foreign key
    return invoice, customer


async def set_number_template(uow: UnitOfWork, template: NumberTemplate) -> NumberTemplate:
    """The account's invoice numbers from the next finalization on. The counter is not
    reset: numbers stay unique and strictly increasing whatever the template."""
    validate_template(template)
    async with uow:
        await uow.invoices.set_template(template)
        await uow.commit()
    return template
