"""Crediting a finalized invoice: the credit note, and its outcome (the invoice owes less,
the customer's balance is credited, or the payment is refunded)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from domain import events
from domain.balances import BalanceTransaction, BalanceTransactionKind
from domain.credit_notes import (
    NUMBER_TEMPLATE,
    CreditNote,
    CreditNoteOutcome,
    CreditNoteReason,
    CreditNoteRequest,
    check_request_shape,
    credit,
)
from domain.errors import DomainError, ErrorCode, FieldError, NotFound
from domain.ids import new_id, prefix_of
from domain.invoices import Invoice, InvoiceStatus, settled
from domain.payments import PaymentProvider
from domain.ports import UnitOfWork
from domain.refunds import Refund, RefundReason
from domain.services.refunds import reserve_refunds, send_refunds

_INVOICE_FIELD = ("input", "invoiceId")
# Card networks know fewer reasons than credit notes do.
_REFUND_REASONS = {
    CreditNoteReason.DUPLICATE: RefundReason.DUPLICATE,
    CreditNoteReason.FRAUDULENT: RefundReason.FRAUDULENT,
    CreditNoteReason.ORDER_CHANGE: RefundReason.REQUESTED_BY_CUSTOMER,
    CreditNoteReason.PRODUCT_UNSATISFACTORY: RefundReason.REQUESTED_BY_CUSTOMER,
    CreditNoteReason.OTHER: RefundReason.OTHER,
}


@dataclass(frozen=True, slots=True)
class Credited:
    """A credit note made, with its invoice as it stands after it."""

    credit_note: CreditNote
    invoice: Invoice


async def create_credit_note(
    uow: UnitOfWork,
    request: CreditNoteRequest,
    now: datetime,
    refunds_by: PaymentProvider | None = None,
) -> Credited:
    """The REFUND outcome gives the money back through the provider (`refunds_by`): the
    credit note and its PENDING refunds are committed together before the provider is
    called, so `uow` must then own its transactions (as for paying), and the refunds are
    settled as the provider answers. A refund the provider refuses is FAILED, shown on the
    credit note's refunds; the credit note stands."""
    check_request_shape(request)
    if request.outcome is CreditNoteOutcome.REFUND and refunds_by is None:
        raise ValueError("a REFUND credit note needs the payment provider")
    refunds: list[Refund] = []
    async with uow:
        # The invoice's row lock orders its credit notes (and its payments): the earlier
        # credit notes read next are all there are until this one commits.
        invoice = None
        if prefix_of(request.invoice_id) == "inv":
            invoice = await uow.invoices.get(request.invoice_id, for_update=True)
        if invoice is None:
            raise NotFound(_INVOICE_FIELD, "Invoice")
        earlier = await uow.credit_notes.of_invoice(invoice.id)
        amount, lines = credit(
            invoice,
            earlier,
            request,
            in_flight=await uow.payments.in_flight(invoice.id),
            refunded_directly=await uow.refunds.given_back_directly(invoice.id),
        )
        if request.outcome is CreditNoteOutcome.CREDIT_BALANCE:
            await _require_balance_currency(uow, invoice)
        sequence = await uow.credit_notes.take_number()
        note = CreditNote(
            id=new_id("cn"),
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            number=NUMBER_TEMPLATE.format(sequence, now),
            sequence=sequence,
            amount=amount,
            reason=request.reason,
            outcome=request.outcome,
            memo=request.memo or None,
            lines=lines,
            created_at=now,
        )
        await uow.credit_notes.add(note)
        await uow.events.add(events.CREDIT_NOTE_CREATED, note.id, note.snapshot())
        if request.outcome is CreditNoteOutcome.REFUND:
            refunds = await reserve_refunds(
                uow, invoice.id, amount, _REFUND_REASONS[request.reason], note.id, now
            )
        if request.outcome is CreditNoteOutcome.REDUCE_AMOUNT_DUE:
            changed = settled(
                replace(invoice, amount_credited=invoice.amount_credited + amount), now
            )
            invoice = await uow.invoices.save(changed)
            if invoice.status is InvoiceStatus.PAID:
                await uow.events.add(events.INVOICE_PAID, invoice.id, invoice.snapshot())
        elif request.outcome is CreditNoteOutcome.CREDIT_BALANCE:
            await uow.balances.add(
                [
                    BalanceTransaction(
                        id=new_id("cbtxn"),
                        customer_id=invoice.customer_id,
                        kind=BalanceTransactionKind.CREDIT_NOTE,
                        amount=-amount,
                        credit_note_id=note.id,
                        created_at=now,
                    )
                ]
            )
        await uow.commit()
    if refunds and refunds_by is not None:
        await send_refunds(uow, refunds_by, refunds, now)
    return Credited(note, invoice)


async def _require_balance_currency(uow: UnitOfWork, invoice: Invoice) -> None:
    customer = await uow.customers.get(invoice.customer_id)
    assert customer is not None  # a foreign key
    if customer.currency != invoice.currency:
        raise DomainError(
            [
                FieldError(
                    ErrorCode.CURRENCY_MISMATCH,
                    ("input", "outcome"),
                    f"The customer's balance is in {customer.currency}, the invoice in "
                    f"{invoice.currency}.",
                )
            ]
        )
