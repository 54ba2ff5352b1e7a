"""Credit notes: a finalized invoice credited in part or in full, as Stripe's.

An invoice is a legal document and never changes; a credit note is the document that says
part of it is no longer owed, and what becomes of that part (its outcome):
- REDUCE_AMOUNT_DUE: an open or uncollectible invoice owes less (up to what is left to
  pay); one left with nothing to pay is PAID;
- CREDIT_BALANCE: the customer's balance is credited, to be applied to their next invoices;
- REFUND: the money goes back to the invoice's payment (up to what was paid).
Whatever the outcomes, an invoice's credit notes never add up to more than its total, nor
a line's to more than that line charged. Credit notes are numbered per account, gapless
(`CN-2026-000001`: one counter per account, taken in the creating transaction, never reset),
and never change once made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final, Protocol

from domain.errors import DomainError, ErrorCode, FieldError, FieldErrors
from domain.invoices import SETTLEABLE, Invoice, InvoiceLine, InvoiceStatus, NumberTemplate
from domain.money import InvalidAmount, Money, format_decimal, sum_money
from domain.queries import CreditNoteFilter, PageRequest

MEMO_MAX_LENGTH: Final = 2000
LINES_MAX: Final = 500
# How credit note numbers look: CN, the year it was made, the account's counter padded to 6.
NUMBER_TEMPLATE: Final = NumberTemplate(prefix="CN", include_year=True, padding=6)
# How many of an invoice's credit notes `invoice.creditNotes` lists.
LISTED_PER_INVOICE: Final = 100

_INVOICE_FIELD: Final = ("input", "invoiceId")
_AMOUNT_FIELD: Final = ("input", "amount")
_LINES_FIELD: Final = ("input", "lines")


class CreditNoteReason(str, Enum):
    """Why the invoice is credited (Stripe's reasons)."""

    DUPLICATE = "DUPLICATE"
    FRAUDULENT = "FRAUDULENT"
    ORDER_CHANGE = "ORDER_CHANGE"
    PRODUCT_UNSATISFACTORY = "PRODUCT_UNSATISFACTORY"
    OTHER = "OTHER"


class CreditNoteOutcome(str, Enum):
    REDUCE_AMOUNT_DUE = "REDUCE_AMOUNT_DUE"
    CREDIT_BALANCE = "CREDIT_BALANCE"
    REFUND = "REFUND"


@dataclass(frozen=True, slots=True)
class CreditNoteLine:
    """Part of one invoice line credited (tax included, as the line charged it)."""

    invoice_line_id: str
    amount: Money
    description: str


@dataclass(frozen=True, slots=True)
class CreditNote:
    id: str
    invoice_id: str
    customer_id: str
    number: str
    sequence: int
    amount: Money
    reason: CreditNoteReason
    outcome: CreditNoteOutcome
    memo: str | None
    lines: tuple[CreditNoteLine, ...]
    created_at: datetime

    @property
    def currency(self) -> str:
        return self.amount.currency

    def snapshot(self) -> dict[str, Any]:
        """The credit note as event payloads carry it."""
        return {
            "id": self.id,
            "number": self.number,
            "invoiceId": self.invoice_id,
            "customerId": self.customer_id,
            "currency": self.currency,
            "amount": format_decimal(self.amount.amount),
            "reason": self.reason.value,
            "outcome": self.outcome.value,
        }


@dataclass(frozen=True, slots=True)
class LineRequest:
    invoice_line_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class CreditNoteRequest:
    """What a caller asks: an amount, or amounts per invoice line (one or the other)."""

    invoice_id: str
    reason: CreditNoteReason
    outcome: CreditNoteOutcome
    amount: Decimal | None = None
    lines: Sequence[LineRequest] | None = None
    memo: str | None = None


def line_creditable(line: InvoiceLine) -> Money:
    """What a line charged, so what it may be credited at most: after its discounts, with
    its exclusive tax; nothing for a credit line."""
    charged = line.amount - line.discount_total
    if not line.tax_inclusive and line.tax_amount is not None:
        charged = charged + line.tax_amount
    return Money.zero(charged.currency) if charged.is_negative() else charged


def credited_total(invoice: Invoice, earlier: Sequence[CreditNote]) -> Money:
    return sum_money((note.amount for note in earlier), invoice.currency)


def creditable(invoice: Invoice, earlier: Sequence[CreditNote]) -> Money:
    """What credit notes may still credit: the total less earlier credit notes."""
    return invoice.creditable - credited_total(invoice, earlier)


def refundable(invoice: Invoice, earlier: Sequence[CreditNote]) -> Money:
    """What REFUND credit notes may still give back: what was paid, less earlier ones."""
    refunded = sum_money(
        (note.amount for note in earlier if note.outcome is CreditNoteOutcome.REFUND),
        invoice.currency,
    )
    return invoice.amount_paid - refunded


def check_request_shape(request: CreditNoteRequest) -> None:
    """What can be checked before reading anything: one of amount or lines, a memo's size."""
    errors = FieldErrors()
    if (request.amount is None) == (request.lines is None):
        errors.add(
            ErrorCode.REQUIRED if request.amount is None else ErrorCode.INVALID,
            _AMOUNT_FIELD,
            "Give either an amount or lines, not both.",
        )
    elif request.lines is not None and not 1 <= len(request.lines) <= LINES_MAX:
        errors.add(ErrorCode.INVALID, _LINES_FIELD, f"Give 1 to {LINES_MAX} lines.")
    if request.memo is not None and len(request.memo) > MEMO_MAX_LENGTH:
        errors.add(ErrorCode.TOO_LONG, ("input", "memo"), f"At most {MEMO_MAX_LENGTH}.")
    errors.raise_if_any()


def _positive(amount: Decimal, currency: str, field: tuple[str, ...], errors: FieldErrors) -> Money:
    try:
        money = Money.from_decimal(amount, currency)
    except InvalidAmount as error:
        errors.add(ErrorCode.INVALID, field, str(error))
        return Money.zero(currency)
    if money.minor_units <= 0:
        errors.add(ErrorCode.INVALID, field, "A credited amount is positive.")
    return money


def credit(
    invoice: Invoice,
    earlier: Sequence[CreditNote],
    request: CreditNoteRequest,
    *,
    in_flight: Money | None = None,
    refunded_directly: Money | None = None,
) -> tuple[Money, tuple[CreditNoteLine, ...]]:
    """The amount and lines of a credit note the request makes on the invoice, given the
    invoice's earlier credit notes, the payments still in flight (what they may yet pay is
    not left to reduce) and refunds made outside credit notes (money given back already is
    not left to credit); a DomainError says why there can be none."""
    nothing = Money.zero(invoice.currency)
    in_flight = in_flight or nothing
    refunded_directly = refunded_directly or nothing
    require_creditable(invoice, request.outcome)
    errors = FieldErrors()
    currency = invoice.currency
    lines: tuple[CreditNoteLine, ...] = ()
    if request.lines is None:
        assert request.amount is not None  # check_request_shape
        amount = _positive(request.amount, currency, _AMOUNT_FIELD, errors)
        field = _AMOUNT_FIELD
    else:
        lines = _credited_lines(invoice, earlier, request.lines, errors)
        errors.raise_if_any()  # each line within what it charged: their sum is in range
        amount = sum_money((line.amount for line in lines), currency)
        field = _LINES_FIELD
    errors.raise_if_any()
    left = creditable(invoice, earlier) - refunded_directly
    if amount > left:
        raise _refused(
            ErrorCode.CREDIT_NOTE_EXCEEDS_CREDITABLE,
            field,
            f"At most {format_decimal(left.amount)} {currency} of this invoice is left to "
            "credit (its total less earlier credit notes and refunds).",
        )
    if request.outcome is CreditNoteOutcome.REDUCE_AMOUNT_DUE and amount > (
        remaining := invoice.amount_remaining - in_flight
    ):
        raise _refused(
            ErrorCode.CREDIT_NOTE_EXCEEDS_REMAINING,
            field,
            f"Only {format_decimal(remaining.amount)} {currency} is left to pay (less "
            "payments in progress): credit the rest to the customer's balance or refund it.",
        )
    if request.outcome is CreditNoteOutcome.REFUND and amount > (
        paid := refundable(invoice, earlier) - refunded_directly
    ):
        raise _refused(
            ErrorCode.CREDIT_NOTE_EXCEEDS_PAID,
            field,
            f"Only {format_decimal(paid.amount)} {currency} was paid and not refunded yet.",
        )
    return amount, lines


def require_creditable(invoice: Invoice, outcome: CreditNoteOutcome) -> None:
    """Credit notes are made on finalized invoices that are not void; reducing the amount
    due needs one that is still owed."""
    status = invoice.status
    if status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        reason = "change its lines instead" if status is InvoiceStatus.DRAFT else "nothing is owed"
        raise _refused(
            ErrorCode.NOT_OPEN,
            _INVOICE_FIELD,
            f"A {status.value.lower()} invoice cannot be credited: {reason}.",
        )
    if outcome is CreditNoteOutcome.REDUCE_AMOUNT_DUE and status not in SETTLEABLE:
        raise _refused(
            ErrorCode.NOT_OPEN,
            _INVOICE_FIELD,
            f"A {status.value.lower()} invoice has no amount due to reduce: credit the "
            "customer's balance or refund instead.",
        )


def _credited_lines(
    invoice: Invoice,
    earlier: Sequence[CreditNote],
    requested: Sequence[LineRequest],
    errors: FieldErrors,
) -> tuple[CreditNoteLine, ...]:
    by_id = {line.id: line for line in invoice.lines}
    already: dict[str, Money] = {}
    for note in earlier:
        for credited in note.lines:
            before = already.get(credited.invoice_line_id, Money.zero(invoice.currency))
            already[credited.invoice_line_id] = before + credited.amount
    lines = []
    seen: set[str] = set()
    for index, asked in enumerate(requested):
        path = (*_LINES_FIELD, str(index))
        line = by_id.get(asked.invoice_line_id)
        if line is None:
            errors.add(ErrorCode.NOT_FOUND, (*path, "invoiceLineId"), "Not a line of this invoice.")
            continue
        if line.id in seen:
            errors.add(ErrorCode.DUPLICATE, (*path, "invoiceLineId"), "Each line once.")
            continue
        seen.add(line.id)
        amount = _positive(asked.amount, invoice.currency, (*path, "amount"), errors)
        left = line_creditable(line) - already.get(line.id, Money.zero(invoice.currency))
        if amount.minor_units > 0 and amount > left:
            errors.add(
                ErrorCode.CREDIT_NOTE_EXCEEDS_CREDITABLE,
                (*path, "amount"),
                f"At most {format_decimal(left.amount)} {invoice.currency} of this line is "
                "left to credit.",
            )
        lines.append(CreditNoteLine(line.id, amount, line.description))
    return tuple(lines)


def _refused(code: ErrorCode, field: tuple[str, ...], message: str) -> DomainError:
    return DomainError([FieldError(code, field, message)])


class CreditNoteRepository(Protocol):
    async def add(self, note: CreditNote) -> None: ...

    async def of_invoice(self, invoice_id: str) -> list[CreditNote]:
        """All the invoice's credit notes (lock the invoice first), oldest first."""
        ...

    async def take_number(self) -> int:
        """Reserves the account's next credit note number in this transaction (gapless: a
        rollback gives it back)."""
        ...


class CreditNoteReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[CreditNote | None]: ...

    async def page(
        self, where: CreditNoteFilter, descending: bool, page: PageRequest
    ) -> list[CreditNote]: ...

    async def count(self, where: CreditNoteFilter) -> int: ...

    async def by_invoices(self, invoice_ids: Sequence[str]) -> list[list[CreditNote]]:
        """Each invoice's credit notes, oldest first (at most LISTED_PER_INVOICE each), in
        one statement."""
        ...
