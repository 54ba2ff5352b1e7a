"""Credit notes: a finalized invoice credited, and what became of the credit. Types, inputs
and enums of the concept."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

import domain.credit_notes as credit_notes_domain
from auth.scopes import CUSTOMERS_READ, requires
from resolvers import credit_notes as credit_note_resolvers
from resolvers.errors import Outcome
from schema.connections import SortDirection
from schema.errors import UserError, user_errors_from
from schema.fields import returning
from schema.money import Money
from schema.nodes import Node, node_from_domain
from schema.scalars import CurrencyCode

if TYPE_CHECKING:
    from schema.customers import Customer
    from schema.invoices import Invoice

strawberry.enum(
    credit_notes_domain.CreditNoteReason,
    name="CreditNoteReason",
    description="Why an invoice is credited: charged twice (DUPLICATE), FRAUDULENT, the "
    "order changed (ORDER_CHANGE), the customer was not satisfied "
    "(PRODUCT_UNSATISFACTORY), or OTHER.",
)
CreditNoteReason = credit_notes_domain.CreditNoteReason

strawberry.enum(
    credit_notes_domain.CreditNoteOutcome,
    name="CreditNoteOutcome",
    description="What becomes of the credit. REDUCE_AMOUNT_DUE: an open or uncollectible "
    "invoice owes less (PAID when nothing is left). CREDIT_BALANCE: the customer's balance "
    "is credited, and applied to their next invoices. REFUND: given back to the invoice's "
    "payments (newest first) through the payment provider, as refunds naming the credit "
    "note.",
)
CreditNoteOutcome = credit_notes_domain.CreditNoteOutcome

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]
InvoiceRef = Annotated["Invoice", strawberry.lazy("schema.invoices")]


@strawberry.type(description="Part of an invoice line credited.")
class CreditNoteLine:
    invoice_line_id: strawberry.ID = strawberry.field(description="The invoice line (`il_…`).")
    description: str = strawberry.field(description="The invoice line's description.")
    amount: Money = strawberry.field(description="Credited, tax included as the line charged.")


@strawberry.type(
    description="A finalized invoice credited in part or in full: the document that says "
    "part of it is no longer owed, and what became of that part. Never changes once made."
)
class CreditNote(Node):
    number: str = strawberry.field(
        description="Gapless per account: `CN-`, the year it was made, a counter padded to 6 "
        "digits (`CN-2026-000001`)."
    )
    invoice_id: strawberry.ID = strawberry.field(description="The invoice credited (`inv_…`).")
    customer_id: strawberry.ID = strawberry.field(description="Its customer (`cus_…`).")
    currency: CurrencyCode = strawberry.field(description="The invoice's currency.")
    amount: Money = strawberry.field(description="What it credits in all.")
    reason: CreditNoteReason = strawberry.field(description="Why.")
    outcome: CreditNoteOutcome = strawberry.field(description="What became of the credit.")
    memo: str | None = strawberry.field(description="A note for the customer.")
    lines: list[CreditNoteLine] = strawberry.field(
        description="The invoice lines credited; empty when an amount was credited as a whole."
    )
    created_at: datetime = strawberry.field(description="When it was made.")
    invoice: InvoiceRef | None = strawberry.field(
        resolver=returning(node_from_domain, credit_note_resolvers.credit_note_invoice),
        description="The invoice credited, as it stands now.",
    )
    customer: CustomerRef | None = strawberry.field(
        resolver=returning(node_from_domain, credit_note_resolvers.credit_note_customer),
        description="Its customer.",
        permission_classes=[requires(CUSTOMERS_READ)],
    )

    @classmethod
    def from_domain(cls, note: credit_notes_domain.CreditNote) -> CreditNote:
        return cls(
            id=strawberry.ID(note.id),
            number=note.number,
            invoice_id=strawberry.ID(note.invoice_id),
            customer_id=strawberry.ID(note.customer_id),
            currency=CurrencyCode(note.currency),
            amount=Money.from_domain(note.amount),
            reason=note.reason,
            outcome=note.outcome,
            memo=note.memo,
            lines=[
                CreditNoteLine(
                    invoice_line_id=strawberry.ID(line.invoice_line_id),
                    description=line.description,
                    amount=Money.from_domain(line.amount),
                )
                for line in note.lines
            ],
            created_at=note.created_at,
        )


@strawberry.type(description="Result of `createCreditNote`.")
class CreditNotePayload:
    credit_note: CreditNote | None = strawberry.field(
        description="The credit note; null on errors. Its `invoice` shows the invoice after it."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing was credited (NOT_FOUND, NOT_OPEN, INVALID, "
        "CREDIT_NOTE_EXCEEDS_CREDITABLE, CREDIT_NOTE_EXCEEDS_REMAINING, "
        "CREDIT_NOTE_EXCEEDS_PAID, REFUND_EXCEEDS_PAYMENT...); empty on success."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[credit_notes_domain.CreditNote]) -> CreditNotePayload:
        return cls(
            credit_note=None if outcome.value is None else CreditNote.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.input(description="An invoice line to credit, and how much of it.")
class CreditNoteLineInput:
    invoice_line_id: strawberry.ID = strawberry.field(description="A line of the invoice.")
    amount: Decimal = strawberry.field(
        description="Positive, in the invoice's currency; at most what the line charged "
        "(after discounts, with exclusive tax) less its earlier credit notes."
    )


@strawberry.input(
    description="Credits a finalized invoice (open, uncollectible or paid): an amount, or "
    "amounts per invoice line. Its credit notes never add up to more than its total."
)
class CreateCreditNoteInput:
    invoice_id: strawberry.ID = strawberry.field(description="The invoice (`inv_…`).")
    reason: CreditNoteReason = strawberry.field(description="Why.")
    outcome: CreditNoteOutcome = strawberry.field(description="What becomes of the credit.")
    amount: Decimal | None = strawberry.field(
        default=None, description="Positive, in the invoice's currency. Or give `lines`."
    )
    lines: list[CreditNoteLineInput] | None = strawberry.field(
        default=None, description="1 to 500 lines of the invoice. Or give `amount`."
    )
    memo: str | None = strawberry.field(default=None, description="A note, up to 2,000 chars.")


@strawberry.input(description="Narrows the credit notes list.")
class CreditNoteFilterInput:
    invoice_id: strawberry.ID | None = strawberry.field(default=None, description="One invoice.")
    customer_id: strawberry.ID | None = strawberry.field(default=None, description="One customer.")


@strawberry.input(description="Sort order of the credit notes list (by creation time).")
class CreditNoteOrder:
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="DESC lists the newest first."
    )
