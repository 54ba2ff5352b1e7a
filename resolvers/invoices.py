"""Invoices: lists, links (customer, subscription, lines) and the lifecycle mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from aiodataloader import DataLoader

from domain.customers import Customer
from domain.errors import DomainError
from domain.invoices import Invoice, InvoiceLine, NumberTemplate
from domain.ports import InvoiceReads
from domain.queries import InvoiceFilter, SortDirection
from domain.services import invoices as services
from domain.subscriptions import Subscription
from resolvers.errors import Outcome, done, refused
from resolvers.nodes import load_by_id
from resolvers.pagination import Page, build_page, encode_cursor, page_request

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.customers import Customer as CustomerType
    from schema.invoices import (
        AddInvoiceLineInput,
        CreateInvoiceInput,
        InvoiceFilterInput,
        InvoiceIdInput,
        InvoiceOrder,
        UpdateInvoiceNumberingInput,
    )
    from schema.invoices import Invoice as InvoiceType
    from schema.subscriptions import Subscription as SubscriptionType
else:
    AddInvoiceLineInput = strawberry.LazyType("AddInvoiceLineInput", "schema.invoices")
    CreateInvoiceInput = strawberry.LazyType("CreateInvoiceInput", "schema.invoices")
    InvoiceFilterInput = strawberry.LazyType("InvoiceFilterInput", "schema.invoices")
    InvoiceIdInput = strawberry.LazyType("InvoiceIdInput", "schema.invoices")
    InvoiceOrder = strawberry.LazyType("InvoiceOrder", "schema.invoices")
    UpdateInvoiceNumberingInput = strawberry.LazyType(
        "UpdateInvoiceNumberingInput", "schema.invoices"
    )

RECENT_INVOICES_MAX = 100


class LinesByInvoiceLoader(DataLoader):  # type: ignore[type-arg]
    """Each invoice's lines in order: one statement per batch."""

    def __init__(self, reads: InvoiceReads) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, invoice_ids: list[str]) -> list[list[InvoiceLine]]:
        return await self._reads.lines_by_invoices(invoice_ids)


class RecentInvoicesLoader(DataLoader):  # type: ignore[type-arg]
    """A parent's newest invoices, keyed by (column, parent id, limit): one statement per
    batch of the same column and limit."""

    def __init__(self, reads: InvoiceReads) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, keys: list[tuple[str, str, int]]) -> list[list[Invoice]]:
        groups: dict[tuple[str, int], list[str]] = {}
        for column, parent_id, limit in keys:
            groups.setdefault((column, limit), []).append(parent_id)
        found: dict[tuple[str, str, int], list[Invoice]] = {}
        for (column, limit), parent_ids in groups.items():
            unique = list(dict.fromkeys(parent_ids))
            for parent_id, invoices in zip(
                unique,
                await self._reads.recent_by_parents(column, unique, limit),
                strict=True,
            ):
                found[(column, parent_id, limit)] = invoices
        return [found[key] for key in keys]


def _filter(where: InvoiceFilterInput | None) -> InvoiceFilter:
    if where is None:
        return InvoiceFilter()
    return InvoiceFilter(
        statuses=[status.value for status in where.status or ()],
        customer_id=None if where.customer_id is None else str(where.customer_id),
        subscription_id=None if where.subscription_id is None else str(where.subscription_id),
        created_after=where.created_after,
        created_before=where.created_before,
        amount_due_positive=bool(where.amount_due_positive),
    )


async def invoices(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: InvoiceFilterInput | None = None,
    order_by: InvoiceOrder | None = None,
) -> Page[Invoice]:
    descending = (order_by.direction if order_by else SortDirection.DESC) == SortDirection.DESC
    page = page_request(
        first=first, after=after, last=last, before=before, sort="created_at", is_datetime=True
    )
    where = _filter(filter)
    reads = info.context.reads
    rows = await reads.invoices.page(where, descending, page)
    loader = info.context.loaders.by_id("inv")
    for row in rows:
        loader.prime(row.id, row)
    return build_page(
        rows,
        page,
        cursor_of=lambda i: encode_cursor("created_at", i.created_at, i.id),
        count_total=lambda: reads.invoices.count(where),
    )


async def invoice(info: strawberry.Info[Context], id: strawberry.ID) -> Invoice | None:
    found: Invoice | None = await load_by_id(info, "inv", str(id))
    return found


async def invoice_lines(root: InvoiceType, info: strawberry.Info[Context]) -> list[InvoiceLine]:
    found: list[InvoiceLine] = await info.context.loaders.lines_by_invoice.load(str(root.id))
    return found


async def invoice_customer(root: InvoiceType, info: strawberry.Info[Context]) -> Customer | None:
    found: Customer | None = await info.context.loaders.by_id("cus").load(root.customer_id)
    return found


async def invoice_subscription(
    root: InvoiceType, info: strawberry.Info[Context]
) -> Subscription | None:
    if root.subscription_id is None:
        return None
    found: Subscription | None = await info.context.loaders.by_id("sub").load(root.subscription_id)
    return found


async def _recent(
    info: strawberry.Info[Context], column: str, parent_id: str, first: int
) -> list[Invoice]:
    limit = max(1, min(first, RECENT_INVOICES_MAX))
    found: list[Invoice] = await info.context.loaders.recent_invoices.load(
        (column, parent_id, limit)
    )
    return found


async def customer_invoices(
    root: CustomerType, info: strawberry.Info[Context], first: int = 10
) -> list[Invoice]:
    return await _recent(info, "customer_id", str(root.id), first)


async def subscription_invoices(
    root: SubscriptionType, info: strawberry.Info[Context], first: int = 10
) -> list[Invoice]:
    return await _recent(info, "subscription_id", str(root.id), first)


def _remember(info: strawberry.Info[Context], invoice: Invoice) -> Invoice:
    loaders = info.context.loaders
    loaders.by_id("inv").clear(invoice.id).prime(invoice.id, invoice)
    loaders.lines_by_invoice.clear(invoice.id).prime(invoice.id, list(invoice.lines))
    return invoice


async def create_invoice(
    info: strawberry.Info[Context], input: CreateInvoiceInput
) -> Outcome[Invoice]:
    try:
        created = await services.create_invoice(
            info.context.uow(), str(input.customer_id), input.memo, info.context.clock.now()
        )
    except DomainError as error:
        return refused(error)
    return done(_remember(info, created))


async def add_invoice_line(
    info: strawberry.Info[Context], input: AddInvoiceLineInput
) -> Outcome[Invoice]:
    line = services.OneOffLine(
        description=input.description,
        unit_amount=input.unit_amount,
        quantity=input.quantity,
        period_start=input.period_start,
        period_end=input.period_end,
    )
    try:
        changed = await services.add_invoice_line(
            info.context.uow(), str(input.invoice_id), line, info.context.clock.now()
        )
    except DomainError as error:
        return refused(error)
    return done(_remember(info, changed))


async def finalize_invoice(
    info: strawberry.Info[Context], input: InvoiceIdInput
) -> Outcome[Invoice]:
    try:
        finalized = await services.finalize_invoice(
            info.context.uow(), str(input.id), info.context.clock.now()
        )
    except DomainError as error:
        return refused(error)
    return done(_remember(info, finalized))


async def void_invoice(info: strawberry.Info[Context], input: InvoiceIdInput) -> Outcome[Invoice]:
    try:
        voided = await services.void_invoice(
            info.context.uow(), str(input.id), info.context.clock.now()
        )
    except DomainError as error:
        return refused(error)
    return done(_remember(info, voided))


async def mark_invoice_uncollectible(
    info: strawberry.Info[Context], input: InvoiceIdInput
) -> Outcome[Invoice]:
    try:
        marked = await services.mark_invoice_uncollectible(
            info.context.uow(), str(input.id), info.context.clock.now()
        )
    except DomainError as error:
        return refused(error)
    return done(_remember(info, marked))


async def invoice_numbering(info: strawberry.Info[Context]) -> tuple[NumberTemplate, int]:
    return await info.context.reads.invoices.numbering()


async def update_invoice_numbering(
    info: strawberry.Info[Context], input: UpdateInvoiceNumberingInput
) -> Outcome[tuple[NumberTemplate, int]]:
    template = NumberTemplate(input.prefix, input.include_year, input.padding)
    try:
        await services.set_number_template(info.context.uow(), template)
    except DomainError as error:
        return refused(error)
    return done(await info.context.reads.invoices.numbering())
