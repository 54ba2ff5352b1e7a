"""Credit notes: the list, an invoice's credit notes, their links, and createCreditNote."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from aiodataloader import DataLoader

from domain.credit_notes import (
    CreditNote,
    CreditNoteOutcome,
    CreditNoteReads,
    CreditNoteRequest,
    LineRequest,
)
from domain.customers import Customer
from domain.errors import DomainError
from domain.invoices import Invoice
from domain.queries import CreditNoteFilter, SortDirection
from domain.services import credit_notes as services
from resolvers.errors import Outcome, done, refused
from resolvers.pagination import Page, build_page, encode_cursor, page_request

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.credit_notes import CreateCreditNoteInput, CreditNoteFilterInput, CreditNoteOrder
    from schema.credit_notes import CreditNote as CreditNoteType
    from schema.invoices import Invoice as InvoiceType
else:
    # The schema's types its arguments take, by name: the schema imports resolvers, not
    # the reverse.
    CreateCreditNoteInput = strawberry.LazyType("CreateCreditNoteInput", "schema.credit_notes")
    CreditNoteFilterInput = strawberry.LazyType("CreditNoteFilterInput", "schema.credit_notes")
    CreditNoteOrder = strawberry.LazyType("CreditNoteOrder", "schema.credit_notes")


class CreditNotesByInvoiceLoader(DataLoader):  # type: ignore[type-arg]
    """Each invoice's credit notes, oldest first: one statement per batch."""

    def __init__(self, reads: CreditNoteReads) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, invoice_ids: list[str]) -> list[list[CreditNote]]:
        return await self._reads.by_invoices(invoice_ids)


async def credit_notes(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: CreditNoteFilterInput | None = None,
    order_by: CreditNoteOrder | None = None,
) -> Page[CreditNote]:
    descending = (order_by.direction if order_by else SortDirection.DESC) == SortDirection.DESC
    page = page_request(
        first=first, after=after, last=last, before=before, sort="created_at", is_datetime=True
    )
    where = CreditNoteFilter(
        invoice_id=None if filter is None or filter.invoice_id is None else str(filter.invoice_id),
        customer_id=(
            None if filter is None or filter.customer_id is None else str(filter.customer_id)
        ),
    )
    reads = info.context.reads
    rows = await reads.credit_notes.page(where, descending, page)
    loader = info.context.loaders.by_id("cn")
    for row in rows:
        loader.prime(row.id, row)
    return build_page(
        rows,
        page,
        cursor_of=lambda n: encode_cursor("created_at", n.created_at, n.id),
        count_total=lambda: reads.credit_notes.count(where),
    )


async def invoice_credit_notes(
    root: InvoiceType, info: strawberry.Info[Context]
) -> list[CreditNote]:
    found: list[CreditNote] = await info.context.loaders.credit_notes_by_invoice.load(str(root.id))
    return found


async def credit_note_invoice(
    root: CreditNoteType, info: strawberry.Info[Context]
) -> Invoice | None:
    found: Invoice | None = await info.context.loaders.by_id("inv").load(str(root.invoice_id))
    return found


async def credit_note_customer(
    root: CreditNoteType, info: strawberry.Info[Context]
) -> Customer | None:
    found: Customer | None = await info.context.loaders.by_id("cus").load(str(root.customer_id))
    return found


async def create_credit_note(
    info: strawberry.Info[Context], input: CreateCreditNoteInput
) -> Outcome[CreditNote]:
    request = CreditNoteRequest(
        invoice_id=str(input.invoice_id),
        reason=input.reason,
        outcome=input.outcome,
        amount=input.amount,
        lines=None
        if input.lines is None
        else [LineRequest(str(line.invoice_line_id), line.amount) for line in input.lines],
        memo=input.memo,
    )
    try:
        if request.outcome is CreditNoteOutcome.REFUND:
            # Money goes back through the provider: recorded and committed before it is
            # asked, apart from the request's transaction (as payInvoice).
            credited = await services.create_credit_note(
                info.context.money_unit_of_work(),
                request,
                info.context.clock.now(),
                refunds_by=info.context.payment_provider,
            )
        else:
            credited = await services.create_credit_note(
                info.context.uow(), request, info.context.clock.now()
            )
    except DomainError as error:
        return refused(error)
    # Later fields of the request read the invoice, its credit notes and its customer's
    # balance as they are now.
    note, invoice = credited.credit_note, credited.invoice
    loaders = info.context.loaders
    loaders.by_id("cn").prime(note.id, note)
    loaders.by_id("inv").clear(invoice.id).prime(invoice.id, invoice)
    loaders.by_id("cus").clear(invoice.customer_id)
    loaders.credit_notes_by_invoice.clear(invoice.id)
    loaders.balance_transactions_by_customer.clear_all()
    return done(note)
