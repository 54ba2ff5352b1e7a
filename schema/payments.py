"""Payments of invoices and their refunds. Types, inputs and enums of the concept."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

import domain.invoice_payments as payments_domain
import domain.refunds as refunds_domain
from auth.scopes import INVOICES_READ, requires
from resolvers import payments as payment_resolvers
from resolvers.errors import Outcome
from schema.connections import SortDirection
from schema.errors import UserError, user_errors_from
from schema.fields import each, returning
from schema.money import Money
from schema.nodes import Node, node_from_domain
from schema.payment_methods import PaymentMethod

if TYPE_CHECKING:
    from schema.invoices import Invoice

InvoiceRef = Annotated["Invoice", strawberry.lazy("schema.invoices")]

strawberry.enum(
    payments_domain.PaymentStatus,
    name="PaymentStatus",
    description="PENDING: recorded, the provider's answer awaited (a provider that did not "
    "answer is asked again by the worker with the same key). SUCCEEDED: captured. FAILED: "
    "declined (`declineCode` says why).",
)
PaymentStatus = payments_domain.PaymentStatus

strawberry.enum(
    refunds_domain.RefundStatus,
    name="RefundStatus",
    description="PENDING: asked of the provider. SUCCEEDED: given back. FAILED: the provider "
    "refused it (`failureCode`); nothing was given back and the amount may be refunded again.",
)
RefundStatus = refunds_domain.RefundStatus

strawberry.enum(
    refunds_domain.RefundReason,
    name="RefundReason",
    description="Why money is given back, as card networks ask.",
)
RefundReason = refunds_domain.RefundReason


@strawberry.type(description="Money given back on a payment.")
class Refund(Node):
    payment_id: strawberry.ID = strawberry.field(description="The payment (`pay_…`).")
    invoice_id: strawberry.ID = strawberry.field(description="Its invoice (`inv_…`).")
    amount: Money = strawberry.field(description="Given back.")
    status: RefundStatus = strawberry.field(description="Where it stands.")
    failure_code: str | None = strawberry.field(description="Why the provider refused it.")
    reason: RefundReason = strawberry.field(description="Why it was given.")
    credit_note_id: strawberry.ID | None = strawberry.field(
        description="The credit note (`cn_…`) whose REFUND outcome gave it, if any."
    )
    provider_reference: str | None = strawberry.field(
        description="The provider's id for it, once it answered."
    )
    created_at: datetime = strawberry.field(description="When it was asked.")
    settled_at: datetime | None = strawberry.field(description="When the provider settled it.")
    payment: Payment | None = strawberry.field(
        resolver=returning(node_from_domain, payment_resolvers.refund_payment_link),
        description="The payment refunded.",
    )

    @classmethod
    def from_domain(cls, refund: refunds_domain.Refund) -> Refund:
        return cls(
            id=strawberry.ID(refund.id),
            payment_id=strawberry.ID(refund.payment_id),
            invoice_id=strawberry.ID(refund.invoice_id),
            amount=Money.from_domain(refund.amount),
            status=refund.status,
            failure_code=refund.failure_code,
            reason=refund.reason,
            credit_note_id=None
            if refund.credit_note_id is None
            else strawberry.ID(refund.credit_note_id),
            provider_reference=refund.provider_reference,
            created_at=refund.created_at,
            settled_at=refund.settled_at,
        )


@strawberry.type(description="An attempt to collect (part of) an invoice from a payment method.")
class Payment(Node):
    invoice_id: strawberry.ID = strawberry.field(description="The invoice (`inv_…`).")
    customer_id: strawberry.ID = strawberry.field(description="Its customer (`cus_…`).")
    payment_method_id: strawberry.ID | None = strawberry.field(
        description="The method charged (`pm_…`); null for an automatic attempt that found "
        "no method."
    )
    amount: Money = strawberry.field(description="Charged (or attempted).")
    status: PaymentStatus = strawberry.field(description="Where it stands.")
    decline_code: str | None = strawberry.field(
        description="Why it failed, as the provider said (`card_declined`, `insufficient_funds`…)."
    )
    provider: str = strawberry.field(description="The payment processor (`sandbox`, `stripe`).")
    provider_reference: str | None = strawberry.field(
        description="The processor's id for the charge, once it answered."
    )
    attempt: int | None = strawberry.field(
        description="The worker's attempt number for automatic collection (dunning); null "
        "when a caller paid."
    )
    amount_refunded: Money = strawberry.field(description="Given back so far.")
    created_at: datetime = strawberry.field(description="When it was made.")
    settled_at: datetime | None = strawberry.field(description="When it succeeded or failed.")
    refunds: list[Refund] = strawberry.field(
        resolver=returning(each(Refund.from_domain), payment_resolvers.payment_refunds),
        description="Its refunds, oldest first.",
    )
    invoice: InvoiceRef | None = strawberry.field(
        resolver=returning(node_from_domain, payment_resolvers.payment_invoice),
        description="The invoice paid.",
        permission_classes=[requires(INVOICES_READ)],
    )
    payment_method: PaymentMethod | None = strawberry.field(
        resolver=returning(node_from_domain, payment_resolvers.payment_method),
        description="The method charged.",
    )

    @classmethod
    def from_domain(cls, payment: payments_domain.Payment) -> Payment:
        return cls(
            id=strawberry.ID(payment.id),
            invoice_id=strawberry.ID(payment.invoice_id),
            customer_id=strawberry.ID(payment.customer_id),
            payment_method_id=None
            if payment.payment_method_id is None
            else strawberry.ID(payment.payment_method_id),
            amount=Money.from_domain(payment.amount),
            status=payment.status,
            decline_code=payment.decline_code,
            provider=payment.provider,
            provider_reference=payment.provider_reference,
            attempt=payment.attempt,
            amount_refunded=Money.from_domain(payment.amount_refunded),
            created_at=payment.created_at,
            settled_at=payment.settled_at,
        )


@strawberry.input(description="Filters of the payments list; all given must hold.")
class PaymentFilterInput:
    invoice_id: strawberry.ID | None = strawberry.field(default=None, description="One invoice.")
    customer_id: strawberry.ID | None = strawberry.field(default=None, description="One customer.")
    status: PaymentStatus | None = strawberry.field(default=None, description="One status.")


@strawberry.input(description="Filters of the refunds list; all given must hold.")
class RefundFilterInput:
    payment_id: strawberry.ID | None = strawberry.field(default=None, description="One payment.")
    invoice_id: strawberry.ID | None = strawberry.field(default=None, description="One invoice.")
    status: RefundStatus | None = strawberry.field(default=None, description="One status.")


@strawberry.input(description="Sort order of the payments and refunds lists (by creation).")
class PaymentOrder:
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="DESC lists the newest first."
    )


@strawberry.input(
    description="Pays an open (or uncollectible) invoice, wholly or in part. Send an "
    "Idempotency-Key: a retry after a timeout or a crash resumes the same payment instead of "
    "charging twice."
)
class PayInvoiceInput:
    invoice_id: strawberry.ID = strawberry.field(description="The invoice (`inv_…`).")
    payment_method_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="One of the invoice's customer's attached methods; omitted: their default.",
    )
    amount: Decimal | None = strawberry.field(
        default=None,
        description="In the invoice's currency, at most what remains (less payments in "
        "progress); omitted: all of it.",
    )


@strawberry.input(description="Gives back (part of) a successful payment.")
class RefundPaymentInput:
    payment_id: strawberry.ID = strawberry.field(description="The payment (`pay_…`).")
    amount: Decimal | None = strawberry.field(
        default=None,
        description="At most what was captured less refunds made or in progress; omitted: "
        "all of that.",
    )
    reason: RefundReason = strawberry.field(
        default=RefundReason.REQUESTED_BY_CUSTOMER, description="Why."
    )


@strawberry.type(description="Result of `payInvoice`.")
class PayInvoicePayload:
    payment: Payment | None = strawberry.field(
        description="The payment: SUCCEEDED, FAILED (declined: see `declineCode`) or PENDING "
        "(the provider has not answered yet); null on errors."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing was charged (NOT_FOUND, NOT_OPEN, ALREADY_PAID, "
        "AMOUNT_EXCEEDS_REMAINING, NO_PAYMENT_METHOD, PAYMENT_METHOD_DETACHED, INVALID)."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[payments_domain.Payment]) -> PayInvoicePayload:
        return cls(
            payment=None if outcome.value is None else Payment.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.type(description="Result of `refundPayment`.")
class RefundPaymentPayload:
    refund: Refund | None = strawberry.field(
        description="The refund: SUCCEEDED, FAILED (see `failureCode`) or PENDING; null on errors."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing was refunded (NOT_FOUND, PAYMENT_NOT_REFUNDABLE, "
        "REFUND_EXCEEDS_PAYMENT, INVALID)."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[refunds_domain.Refund]) -> RefundPaymentPayload:
        return cls(
            refund=None if outcome.value is None else Refund.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )
