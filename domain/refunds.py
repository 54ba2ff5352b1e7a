"""Refunds: money given back on a successful payment, partly or wholly.

A refund is recorded PENDING and committed before the provider is called, with the
payment locked while the amount is checked: PENDING and SUCCEEDED refunds together never
exceed what the payment captured, however many callers refund at once. A refund the
provider fails is FAILED and gives its amount back to what may be refunded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final, Protocol

from domain.errors import DomainError, ErrorCode, FieldError
from domain.invoice_payments import PROVIDER_ERROR, Payment, PaymentStatus
from domain.money import InvalidAmount, Money, format_decimal
from domain.payments import RefundResult
from domain.queries import PageRequest

PAYMENT_FIELD: Final = ("input", "paymentId")
AMOUNT_FIELD: Final = ("input", "amount")


class RefundStatus(str, Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class RefundReason(str, Enum):
    DUPLICATE = "DUPLICATE"
    FRAUDULENT = "FRAUDULENT"
    REQUESTED_BY_CUSTOMER = "REQUESTED_BY_CUSTOMER"
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    payment_id: str
    invoice_id: str
    amount: Money
    status: RefundStatus
    failure_code: str | None
    reason: RefundReason
    provider: str
    provider_reference: str | None
    provider_idempotency_key: str
    request_key: str | None
    created_at: datetime
    settled_at: datetime | None
    credit_note_id: str | None = None  # the credit note whose REFUND outcome made it

    def settled_by(self, result: RefundResult, now: datetime) -> Refund:
        status = RefundStatus(result.status.value)
        return replace(
            self,
            status=status,
            provider_reference=result.provider_reference or self.provider_reference,
            failure_code=(result.failure_code or PROVIDER_ERROR)
            if status is RefundStatus.FAILED
            else None,
            settled_at=None if status is RefundStatus.PENDING else now,
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "paymentId": self.payment_id,
            "invoiceId": self.invoice_id,
            "status": self.status.value,
            "amount": format_decimal(self.amount.amount),
            "currency": self.amount.currency,
            "reason": self.reason.value,
            "failureCode": self.failure_code,
            "creditNoteId": self.credit_note_id,
        }


def refund_amount(
    payment: Payment,
    requested: Decimal | None,
    reserved: Money,
    invoice_left: Money | None = None,
) -> Money:
    """What to refund: by default all that is left (captured less refunds succeeded or in
    progress, `reserved`, and at most what the invoice has left to credit, `invoice_left`:
    money given back through credit notes is not given back again); else the requested
    amount, positive and at most that."""
    if payment.status is not PaymentStatus.SUCCEEDED:
        raise DomainError(
            [
                FieldError(
                    ErrorCode.PAYMENT_NOT_REFUNDABLE,
                    PAYMENT_FIELD,
                    f"A {payment.status.value.lower()} payment captured nothing to refund.",
                )
            ]
        )
    left = payment.amount - reserved
    if invoice_left is not None and invoice_left < left:
        left = invoice_left if not invoice_left.is_negative() else Money.zero(left.currency)
    if requested is None:
        amount = left
    else:
        try:
            amount = Money.from_decimal(requested, payment.amount.currency)
        except InvalidAmount as error:
            raise DomainError([FieldError(ErrorCode.INVALID, AMOUNT_FIELD, str(error))]) from None
        if amount.minor_units <= 0:
            raise DomainError(
                [FieldError(ErrorCode.INVALID, AMOUNT_FIELD, "An amount is positive.")]
            )
    if amount > left or amount.is_zero():
        raise DomainError(
            [
                FieldError(
                    ErrorCode.REFUND_EXCEEDS_PAYMENT,
                    AMOUNT_FIELD if requested is not None else PAYMENT_FIELD,
                    f"At most {format_decimal(left.amount)} {left.currency} of this payment"
                    " can still be refunded (less refunds in progress and the invoice's"
                    " credit notes).",
                )
            ]
        )
    return amount


@dataclass(frozen=True, slots=True)
class RefundFilter:
    payment_id: str | None = None
    invoice_id: str | None = None
    status: RefundStatus | None = None


class RefundRepository(Protocol):
    async def add(self, refund: Refund) -> Refund: ...

    async def get(self, refund_id: str, *, for_update: bool = False) -> Refund | None: ...

    async def by_request_key(self, request_key: str) -> Refund | None: ...

    async def by_provider_reference(self, provider: str, reference: str) -> Refund | None: ...

    async def save(self, refund: Refund) -> Refund: ...

    async def given_back_directly(self, invoice_id: str) -> Money | None:
        """The sum of the invoice's PENDING and SUCCEEDED refunds made outside credit notes
        (refundPayment's), None when there is none."""
        ...

    async def reserved(self, payment_id: str) -> Money | None:
        """The sum of the payment's PENDING and SUCCEEDED refunds (None: none)."""
        ...

    async def stale_pending(self, older_than: datetime, limit: int) -> list[Refund]:
        """PENDING refunds created before `older_than`, locked (SKIP LOCKED)."""
        ...


class RefundReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[Refund | None]: ...

    async def page(
        self, where: RefundFilter, descending: bool, page: PageRequest
    ) -> list[Refund]: ...

    async def count(self, where: RefundFilter) -> int: ...

    async def by_payments(self, payment_ids: Sequence[str]) -> list[list[Refund]]:
        """Each payment's refunds, oldest first, in one statement."""
        ...
