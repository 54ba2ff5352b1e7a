"""Payments of invoices: what was asked of the provider, what it answered, and the rules
that keep the money straight.

A payment is recorded PENDING, with the idempotency key the provider will be called with,
and committed before the call (the recovery point, SECURITY.md: atomic phases). The
provider's answer then settles it: SUCCEEDED adds to the invoice's `amount_paid` (PAID once
nothing remains), FAILED keeps the decline code. While PENDING its amount is reserved, so
two payments racing for the same invoice can never pay more than remains.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final, Protocol

from domain.errors import DomainError, ErrorCode, FieldError
from domain.invoices import Invoice, InvoiceStatus, settled
from domain.money import InvalidAmount, Money, format_decimal
from domain.payments import ChargeResult, ChargeStatus
from domain.queries import PageRequest

INVOICE_FIELD: Final = ("input", "invoiceId")
AMOUNT_FIELD: Final = ("input", "amount")
# Declines the provider did not name: our own codes, in the provider's style.
PROVIDER_ERROR: Final = "provider_error"
NO_PAYMENT_METHOD: Final = "no_payment_method"


class PaymentStatus(str, Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Payment:
    id: str
    invoice_id: str
    customer_id: str
    payment_method_id: str | None  # None only for an automatic attempt with no method
    amount: Money
    status: PaymentStatus
    decline_code: str | None
    provider: str
    provider_reference: str | None  # the provider's id, once it answered
    provider_idempotency_key: str
    request_key: str | None
    attempt: int | None  # the worker's attempt number; None when a caller paid
    amount_refunded: Money
    created_at: datetime
    settled_at: datetime | None

    @property
    def refundable(self) -> Money:
        """What settled refunds left; PENDING refunds are counted by the refund service."""
        return self.amount - self.amount_refunded

    def settled_by(self, result: ChargeResult, now: datetime) -> Payment:
        """The payment as the provider's answer leaves it (PENDING keeps waiting)."""
        status = PaymentStatus(result.status.value)
        return replace(
            self,
            status=status,
            # Failures decided on our side carry no reference of the provider's.
            provider_reference=result.provider_reference or self.provider_reference,
            decline_code=(result.decline_code or PROVIDER_ERROR)
            if status is PaymentStatus.FAILED
            else None,
            settled_at=None if status is PaymentStatus.PENDING else now,
        )

    def snapshot(self) -> dict[str, Any]:
        """The payment as event payloads carry it: JSON-ready, amounts as strings."""
        return {
            "id": self.id,
            "invoiceId": self.invoice_id,
            "customerId": self.customer_id,
            "status": self.status.value,
            "amount": format_decimal(self.amount.amount),
            "currency": self.amount.currency,
            "declineCode": self.decline_code,
            "attempt": self.attempt,
        }


def failed(result_code: str, reference: str = "") -> ChargeResult:
    """A failure decided on our side (the provider refused the call, or nothing to charge)."""
    return ChargeResult(ChargeStatus.FAILED, reference, result_code)


def require_payable(invoice: Invoice, field: tuple[str, ...] = INVOICE_FIELD) -> None:
    """Only what was billed and is still owed can be paid: an open or uncollectible invoice."""
    if invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
        return
    if invoice.status is InvoiceStatus.PAID:
        code, message = ErrorCode.ALREADY_PAID, "The invoice is paid already."
    else:
        code = ErrorCode.NOT_OPEN
        message = f"A {invoice.status.value.lower()} invoice cannot be paid; finalize it first."
        if invoice.status is InvoiceStatus.VOID:
            message = "A void invoice cannot be paid: nothing is owed."
    raise DomainError([FieldError(code, field, message)])


def payment_amount(requested: Decimal | None, open_amount: Money) -> Money:
    """The amount to charge: what is open (remaining less payments in flight) when none is
    asked, else the requested amount, which must be positive and at most what is open."""
    if requested is None:
        amount = open_amount
    else:
        try:
            amount = Money.from_decimal(requested, open_amount.currency)
        except InvalidAmount as error:
            raise DomainError([FieldError(ErrorCode.INVALID, AMOUNT_FIELD, str(error))]) from None
        if amount.minor_units <= 0:
            raise DomainError(
                [FieldError(ErrorCode.INVALID, AMOUNT_FIELD, "An amount is positive.")]
            )
    if amount > open_amount:
        raise DomainError(
            [
                FieldError(
                    ErrorCode.AMOUNT_EXCEEDS_REMAINING,
                    AMOUNT_FIELD if requested is not None else INVOICE_FIELD,
                    f"At most {format_decimal(open_amount.amount)} {open_amount.currency}"
                    " remains to be paid (less payments still in progress).",
                )
            ]
        )
    if amount.is_zero():
        raise DomainError(
            [
                FieldError(
                    ErrorCode.AMOUNT_EXCEEDS_REMAINING,
                    INVOICE_FIELD,
                    "Nothing remains to be paid (or payments in progress cover it).",
                )
            ]
        )
    return amount


def paid(invoice: Invoice, payment: Payment, now: datetime) -> Invoice:
    """The invoice once a successful payment is counted: PAID when nothing remains."""
    counted = replace(invoice, amount_paid=invoice.amount_paid + payment.amount)
    return settled(counted, now)


@dataclass(frozen=True, slots=True)
class PaymentFilter:
    invoice_id: str | None = None
    customer_id: str | None = None
    status: PaymentStatus | None = None


class PaymentRepository(Protocol):
    async def add(self, payment: Payment) -> Payment: ...

    async def get(self, payment_id: str, *, for_update: bool = False) -> Payment | None: ...

    async def by_request_key(self, request_key: str) -> Payment | None: ...

    async def by_provider_reference(self, provider: str, reference: str) -> Payment | None:
        """The payment the provider knows by `reference` (its charge's id)."""
        ...

    async def save(self, payment: Payment) -> Payment:
        """Stores what settling changes: status, decline code, reference, refunded sum."""
        ...

    async def captured_of_invoice(self, invoice_id: str) -> list[Payment]:
        """The invoice's SUCCEEDED payments, newest first, locked (call it with the
        invoice locked: invoice, then payments, is the order every path locks in)."""
        ...

    async def in_flight(self, invoice_id: str) -> Money | None:
        """The sum of the invoice's PENDING payments (None when there is none)."""
        ...

    async def stale_pending(self, older_than: datetime, limit: int) -> list[Payment]:
        """PENDING payments created before `older_than`, locked (SKIP LOCKED) for settling."""
        ...


class PaymentReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[Payment | None]: ...

    async def page(
        self, where: PaymentFilter, descending: bool, page: PageRequest
    ) -> list[Payment]: ...

    async def count(self, where: PaymentFilter) -> int: ...

    async def by_invoices(self, invoice_ids: Sequence[str]) -> list[list[Payment]]:
        """Each invoice's payments, oldest first, in one statement."""
        ...
