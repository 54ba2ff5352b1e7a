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
    CreditNoteRequest,
    check_request_shape,
    credit,
)
from domain.errors import DomainError, ErrorCode, FieldError, NotFound
from domain.ids import new_id, prefix_of
from domain.invoices import Invoice, InvoiceStatus, settled
from domain.money import Money
from domain.ports import UnitOfWork

_INVOICE_FIELD = ("input", "invoiceId")


@dataclass(frozen=True, slots=True)
class Credited:
    """A credit note made, with its invoice as it stands after it."""

    credit_note: CreditNote
    invoice: Invoice


async def create_credit_note(
    uow: UnitOfWork, request: CreditNoteRequest, now: datetime
) -> Credited:
    check_request_shape(request)
    async with uow:
        # The invoice's row lock orders its credit notes (and its payments): the earlier
        # credit notes read next are all there are until this one commits.
        invoice = None
        if prefix_of(request.invoice_id) == "inv":
            invoice = await uow.invoices.get(request.invoice_id, for_update=True)
        if invoice is None:
            raise NotFound(_INVOICE_FIELD, "Invoice")
        earlier = await uow.credit_notes.of_invoice(invoice.id)
        amount, lines = credit(invoice, earlier, request)
        if request.outcome is CreditNoteOutcome.CREDIT_BALANCE:
            await _require_balance_currency(uow, invoice)
        if request.outcome is CreditNoteOutcome.REFUND:
            await refund_to_original_payment(uow, invoice, amount)
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
    return Credited(note, invoice)


async def refund_to_original_payment(uow: UnitOfWork, invoice: Invoice, amount: Money) -> None:
    """REFUND outcome: THE call site that gives `amount` back to the invoice's payment.

    Payments and refunds are not part of this build yet: once they are, this refunds the
    payment (refundPayment's service, with the invoice locked as it is here) and the credit
    note is recorded after it. Until then it refuses, and nothing is written."""
    raise DomainError(
        [
            FieldError(
                ErrorCode.NOT_SUPPORTED,
                ("input", "outcome"),
                "Refunding through a credit note is not available yet: credit the "
                "customer's balance instead.",
            )
        ]
    )


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
