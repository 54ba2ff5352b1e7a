"""Invoices: what a customer owes, line by line, and the lifecycle that freezes it.

An invoice starts as a DRAFT whose lines may change; `finalize` makes it OPEN: its lines and
totals are fixed, it gets its number and its due date. An open invoice is then PAID, VOID
(it was a mistake: nothing is owed) or UNCOLLECTIBLE (owed, but written off; it may still be
paid). Finalized invoices never change, which the database enforces too.

Numbers are per tenant, gapless and strictly increasing (many tax authorities require a
continuous sequence): one counter per tenant, taken in the finalizing transaction, so a
rollback gives the number back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from domain.errors import DomainError, ErrorCode, FieldError
from domain.money import Money, format_decimal

DESCRIPTION_MAX_LENGTH: Final = 500
LINES_MAX: Final = 500
NET_TERMS_DAYS_MAX: Final = 365
PREFIX_PATTERN: Final = re.compile(r"[A-Z0-9][A-Z0-9-]{0,11}")


class InvoiceStatus(str, Enum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    PAID = "PAID"
    VOID = "VOID"
    UNCOLLECTIBLE = "UNCOLLECTIBLE"


class BillingReason(str, Enum):
    """Why the invoice exists, as Stripe's `billing_reason`."""

    MANUAL = "MANUAL"  # a one-off invoice (createInvoice)
    SUBSCRIPTION_CREATE = "SUBSCRIPTION_CREATE"
    SUBSCRIPTION_CYCLE = "SUBSCRIPTION_CYCLE"
    SUBSCRIPTION_UPDATE = "SUBSCRIPTION_UPDATE"


class LineKind(str, Enum):
    SUBSCRIPTION = "SUBSCRIPTION"  # a licensed or flat price, billed in advance
    USAGE = "USAGE"  # a metered price, billed in arrears
    PRORATION = "PRORATION"  # a credit or a charge for part of a period
    MINIMUM_COMMITMENT = "MINIMUM_COMMITMENT"  # what the period's spend fell short by
    ONE_OFF = "ONE_OFF"  # a line added by hand


@dataclass(frozen=True, slots=True)
class LineDiscount:
    discount_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One amount and why it is what it is (`explanation`, checkable by hand)."""

    id: str
    kind: LineKind
    description: str
    amount: Money  # before discounts; negative for a credit
    quantity: Decimal
    unit_amount: Decimal | None  # per unit, in major units of the currency
    period_start: datetime | None = None
    period_end: datetime | None = None
    price_id: str | None = None
    plan_id: str | None = None
    explanation: str = ""
    discounts: tuple[LineDiscount, ...] = ()
    tax_rate_id: str | None = None
    tax_percentage: Decimal | None = None
    tax_inclusive: bool = False
    tax_amount: Money | None = None

    @property
    def discount_total(self) -> Money:
        total = Money.zero(self.amount.currency)
        for discount in self.discounts:
            total = total + discount.amount
        return total

    @property
    def proration(self) -> bool:
        return self.kind is LineKind.PRORATION


@dataclass(frozen=True, slots=True)
class TaxBreakdownEntry:
    tax_rate_id: str
    name: str
    percentage: Decimal
    inclusive: bool
    taxable_amount: Money
    tax_amount: Money


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal: Money
    discount_total: Money
    tax_total: Money
    total: Money

    @classmethod
    def zero(cls, currency: str) -> Totals:
        nothing = Money.zero(currency)
        return cls(nothing, nothing, nothing, nothing)


@dataclass(frozen=True, slots=True)
class Invoice:
    id: str
    customer_id: str
    subscription_id: str | None
    status: InvoiceStatus
    currency: str
    billing_reason: BillingReason
    number: str | None
    period_start: datetime | None
    period_end: datetime | None
    totals: Totals
    amount_paid: Money
    # Credit notes that reduced what is due (REDUCE_AMOUNT_DUE), and the customer's credit
    # balance applied at finalization: both come off the amount due, as Stripe's.
    amount_credited: Money
    balance_applied: Money
    due_date: date | None
    reverse_charge: bool
    created_at: datetime
    finalized_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    marked_uncollectible_at: datetime | None
    lines: tuple[InvoiceLine, ...] = ()
    tax_breakdown: tuple[TaxBreakdownEntry, ...] = ()
    memo: str | None = None
    sequence: int | None = None  # the tenant's counter value its number was made from
    # The bill-to as it was at finalization (name, email, address, tax ids, locale).
    customer_snapshot: dict[str, Any] = field(default_factory=dict)
    # Automatic collection: the worker's attempts so far, and when it tries next.
    collection_attempts: int = 0
    next_collection_at: datetime | None = None

    @property
    def creditable(self) -> Money:
        """What credit notes, payments and applied balance may cover at most: the total,
        or nothing for a credit (negative total)."""
        total = self.totals.total
        return Money.zero(self.currency) if total.is_negative() else total

    @property
    def amount_due(self) -> Money:
        """What the customer owes on it, after credit notes and applied balance: nothing for
        a void invoice or a credit."""
        if self.status is InvoiceStatus.VOID:
            return Money.zero(self.currency)
        return self.creditable - self.balance_applied - self.amount_credited

    @property
    def amount_remaining(self) -> Money:
        remaining = self.amount_due - self.amount_paid
        return Money.zero(self.currency) if remaining.is_negative() else remaining

    def snapshot(self) -> dict[str, Any]:
        """The invoice as event payloads carry it: JSON-ready, amounts as strings."""
        return {
            "id": self.id,
            "number": self.number,
            "status": self.status.value,
            "customerId": self.customer_id,
            "subscriptionId": self.subscription_id,
            "currency": self.currency,
            "total": format_decimal(self.totals.total.amount),
            "amountDue": format_decimal(self.amount_due.amount),
            "amountPaid": format_decimal(self.amount_paid.amount),
            "amountCredited": format_decimal(self.amount_credited.amount),
            "balanceApplied": format_decimal(self.balance_applied.amount),
            "amountRemaining": format_decimal(self.amount_remaining.amount),
            "dueDate": None if self.due_date is None else self.due_date.isoformat(),
        }


# The lifecycle: which status may become which.
_TRANSITIONS: Final[dict[InvoiceStatus, frozenset[InvoiceStatus]]] = {
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.OPEN}),
    InvoiceStatus.OPEN: frozenset(
        {InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE}
    ),
    # Written off, yet a late payment is still welcome; or voided after all.
    InvoiceStatus.UNCOLLECTIBLE: frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID}),
    InvoiceStatus.PAID: frozenset(),
    InvoiceStatus.VOID: frozenset(),
}

_ID_FIELD: Final = ("input", "id")
# Where something is still owed: a payment, a credit note or balance may settle it.
SETTLEABLE: Final = frozenset({InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE})


def settled(invoice: Invoice, now: datetime) -> Invoice:
    """THE rule of payment: an open or uncollectible invoice with nothing left to pay
    (payments, credit notes and applied balance cover its amount due) becomes PAID now.
    Any other invoice is answered as it is. The caller records `invoice.paid` when the
    status changed."""
    if invoice.status in SETTLEABLE and invoice.amount_remaining.is_zero():
        return replace(invoice, status=InvoiceStatus.PAID, paid_at=now)
    return invoice


def require_draft(invoice: Invoice, field: tuple[str, ...] = _ID_FIELD) -> None:
    """Lines and amounts change only on a draft: a finalized invoice is a legal document."""
    if invoice.status is not InvoiceStatus.DRAFT:
        raise DomainError(
            [
                FieldError(
                    ErrorCode.NOT_DRAFT,
                    field,
                    f"The invoice is {invoice.status.value.lower()}: only a draft can change.",
                )
            ]
        )


def require_transition(invoice: Invoice, to: InvoiceStatus) -> None:
    if to in _TRANSITIONS[invoice.status]:
        return
    code = ErrorCode.NOT_DRAFT if to is InvoiceStatus.OPEN else ErrorCode.NOT_OPEN
    raise DomainError(
        [
            FieldError(
                code,
                _ID_FIELD,
                f"A {invoice.status.value.lower()} invoice cannot become {to.value.lower()}.",
            )
        ]
    )


def due_date(finalized_at: datetime, net_terms_days: int) -> date:
    """The due date of an invoice finalized at `finalized_at` (UTC) on net terms."""
    return (finalized_at + timedelta(days=net_terms_days)).date()


@dataclass(frozen=True, slots=True)
class NumberTemplate:
    """How a tenant's invoice numbers look: `DEMO-2026-000042` is prefix DEMO, the year of
    finalization, number 42 padded to 6 digits. The counter never resets (not even with
    the year), so numbers are strictly increasing across years too."""

    prefix: str = "INV"
    include_year: bool = True
    padding: int = 6

    def format(self, number: int, finalized_at: datetime) -> str:
        parts = [self.prefix]
        if self.include_year:
            parts.append(f"{finalized_at.year:04d}")
        parts.append(f"{number:0{self.padding}d}")
        return "-".join(parts)


def validate_template(template: NumberTemplate, field: tuple[str, ...] = ("input",)) -> None:
    errors: list[FieldError] = []
    if not PREFIX_PATTERN.fullmatch(template.prefix):
        errors.append(
            FieldError(
                ErrorCode.INVALID,
                (*field, "prefix"),
                "A prefix is 1 to 12 capital letters, digits or '-'.",
            )
        )
    if not 1 <= template.padding <= 12:
        errors.append(FieldError(ErrorCode.INVALID, (*field, "padding"), "Pad to 1 to 12 digits."))
    if errors:
        raise DomainError(errors)
