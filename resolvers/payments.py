"""Payments and refunds: lists, links (invoice, refunds, method) and the money mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from aiodataloader import DataLoader

from domain.errors import DomainError
from domain.invoice_payments import Payment, PaymentFilter, PaymentReads
from domain.invoices import Invoice
from domain.payment_methods import PaymentMethod
from domain.queries import SortDirection
from domain.refunds import Refund, RefundFilter, RefundReads
from domain.services import payments as payment_services
from domain.services import refunds as refund_services
from resolvers.errors import Outcome, done, refused
from resolvers.pagination import Page, build_page, encode_cursor, page_request

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.invoices import Invoice as InvoiceType
    from schema.payments import (
        PayInvoiceInput,
        PaymentFilterInput,
        PaymentOrder,
        RefundFilterInput,
        RefundPaymentInput,
    )
    from schema.payments import Payment as PaymentType
    from schema.payments import Refund as RefundType
else:
    PayInvoiceInput = strawberry.LazyType("PayInvoiceInput", "schema.payments")
    PaymentFilterInput = strawberry.LazyType("PaymentFilterInput", "schema.payments")
    PaymentOrder = strawberry.LazyType("PaymentOrder", "schema.payments")
    RefundFilterInput = strawberry.LazyType("RefundFilterInput", "schema.payments")
    RefundPaymentInput = strawberry.LazyType("RefundPaymentInput", "schema.payments")


class PaymentsByInvoiceLoader(DataLoader):  # type: ignore[type-arg]
    """Each invoice's payments, oldest first: one statement per batch."""

    def __init__(self, reads: PaymentReads) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, invoice_ids: list[str]) -> list[list[Payment]]:
        return await self._reads.by_invoices(invoice_ids)


class RefundsByPaymentLoader(DataLoader):  # type: ignore[type-arg]
    """Each payment's refunds, oldest first: one statement per batch."""

    def __init__(self, reads: RefundReads) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, payment_ids: list[str]) -> list[list[Refund]]:
        return await self._reads.by_payments(payment_ids)


def _descending(order_by: PaymentOrder | None) -> bool:
    return (order_by.direction if order_by else SortDirection.DESC) == SortDirection.DESC


async def payments(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: PaymentFilterInput | None = None,
    order_by: PaymentOrder | None = None,
) -> Page[Payment]:
    page = page_request(
        first=first, after=after, last=last, before=before, sort="created_at", is_datetime=True
    )
    where = PaymentFilter()
    if filter is not None:
        where = PaymentFilter(
            invoice_id=None if filter.invoice_id is None else str(filter.invoice_id),
            customer_id=None if filter.customer_id is None else str(filter.customer_id),
            status=filter.status,
        )
    reads = info.context.reads
    rows = await reads.payments.page(where, _descending(order_by), page)
    loader = info.context.loaders.by_id("pay")
    for row in rows:
        loader.prime(row.id, row)
    return build_page(
        rows,
        page,
        cursor_of=lambda p: encode_cursor("created_at", p.created_at, p.id),
        count_total=lambda: reads.payments.count(where),
    )


async def refunds(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: RefundFilterInput | None = None,
    order_by: PaymentOrder | None = None,
) -> Page[Refund]:
    page = page_request(
        first=first, after=after, last=last, before=before, sort="created_at", is_datetime=True
    )
    where = RefundFilter()
    if filter is not None:
        where = RefundFilter(
            payment_id=None if filter.payment_id is None else str(filter.payment_id),
            invoice_id=None if filter.invoice_id is None else str(filter.invoice_id),
            status=filter.status,
        )
    reads = info.context.reads
    rows = await reads.refunds.page(where, _descending(order_by), page)
    loader = info.context.loaders.by_id("re")
    for row in rows:
        loader.prime(row.id, row)
    return build_page(
        rows,
        page,
        cursor_of=lambda r: encode_cursor("created_at", r.created_at, r.id),
        count_total=lambda: reads.refunds.count(where),
    )


async def invoice_payments(root: InvoiceType, info: strawberry.Info[Context]) -> list[Payment]:
    found: list[Payment] = await info.context.loaders.payments_by_invoice.load(str(root.id))
    return found


async def payment_refunds(root: PaymentType, info: strawberry.Info[Context]) -> list[Refund]:
    found: list[Refund] = await info.context.loaders.refunds_by_payment.load(str(root.id))
    return found


async def payment_invoice(root: PaymentType, info: strawberry.Info[Context]) -> Invoice | None:
    found: Invoice | None = await info.context.loaders.by_id("inv").load(str(root.invoice_id))
    return found


async def payment_method(root: PaymentType, info: strawberry.Info[Context]) -> PaymentMethod | None:
    if root.payment_method_id is None:
        return None
    found: PaymentMethod | None = await info.context.loaders.by_id("pm").load(
        str(root.payment_method_id)
    )
    return found


async def refund_payment_link(root: RefundType, info: strawberry.Info[Context]) -> Payment | None:
    found: Payment | None = await info.context.loaders.by_id("pay").load(str(root.payment_id))
    return found


def _request_key(info: strawberry.Info[Context]) -> str | None:
    """The caller's Idempotency-Key with this field's place in the document: a retry of
    the same request finds the payment it began, and two fields of one request do not."""
    key = info.context.idempotency_key
    if key is None:
        return None
    return f"{key}/{'.'.join(str(part) for part in info.path.as_list())}"


async def pay_invoice(info: strawberry.Info[Context], input: PayInvoiceInput) -> Outcome[Payment]:
    try:
        payment = await payment_services.pay_invoice(
            info.context.money_unit_of_work(),
            info.context.payment_provider,
            str(input.invoice_id),
            None if input.payment_method_id is None else str(input.payment_method_id),
            input.amount,
            request_key=_request_key(info),
            now=info.context.clock.now(),
        )
    except DomainError as error:
        return refused(error)
    return done(payment)


async def refund_payment(
    info: strawberry.Info[Context], input: RefundPaymentInput
) -> Outcome[Refund]:
    try:
        refund = await refund_services.refund_payment(
            info.context.money_unit_of_work(),
            info.context.payment_provider,
            str(input.payment_id),
            input.amount,
            input.reason,
            request_key=_request_key(info),
            now=info.context.clock.now(),
        )
    except DomainError as error:
        return refused(error)
    return done(refund)
