"""Invoices, their lines and the tenant's invoice numbers in PostgreSQL.

Amounts are integer minor units in the invoice's currency; decimals (quantities, unit
amounts, percentages) are numeric. A finalized invoice's rows are frozen by triggers
(migration 0008), so `save` of one can only move its status.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from domain.invoices import (
    BillingReason,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineDiscount,
    LineKind,
    NumberTemplate,
    TaxBreakdownEntry,
    Totals,
)
from domain.money import Money, format_decimal
from domain.queries import InvoiceFilter, PageRequest
from infra.bulk import insert_rows
from infra.db import TenantConnection
from infra.pagination import paginate
from infra.tables import invoice_lines, invoice_numbering, invoices

INVOICE_COLUMNS = tuple(c for c in invoices.c if c.name != "amount_due")


def _plain(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.normalize()


def line_from_row(row: Any, currency: str) -> InvoiceLine:
    values = row._mapping if hasattr(row, "_mapping") else row
    return InvoiceLine(
        id=values["id"],
        kind=LineKind(values["kind"]),
        description=values["description"],
        amount=Money(values["amount"], currency),
        quantity=Decimal(values["quantity"]).normalize(),
        unit_amount=_plain(values["unit_amount"]),
        period_start=values["period_start"],
        period_end=values["period_end"],
        price_id=values["price_id"],
        plan_id=values["plan_id"],
        explanation=values["explanation"],
        discounts=tuple(
            LineDiscount(d["discountId"], Money(d["amount"], currency)) for d in values["discounts"]
        ),
        tax_rate_id=values["tax_rate_id"],
        tax_percentage=_plain(values["tax_percentage"]),
        tax_inclusive=values["tax_inclusive"],
        tax_amount=Money(values["tax_amount"], currency),
    )


def invoice_from_row(row: Any, lines: Sequence[InvoiceLine] = ()) -> Invoice:
    values = row._mapping if hasattr(row, "_mapping") else row
    currency = values["currency"]
    return Invoice(
        id=values["id"],
        customer_id=values["customer_id"],
        subscription_id=values["subscription_id"],
        status=InvoiceStatus(values["status"]),
        currency=currency,
        billing_reason=BillingReason(values["billing_reason"]),
        number=values["number"],
        sequence=values["sequence"],
        period_start=values["period_start"],
        period_end=values["period_end"],
        totals=Totals(
            subtotal=Money(values["subtotal"], currency),
            discount_total=Money(values["discount_total"], currency),
            tax_total=Money(values["tax_total"], currency),
            total=Money(values["total"], currency),
        ),
        amount_paid=Money(values["amount_paid"], currency),
        amount_credited=Money(values["amount_credited"], currency),
        balance_applied=Money(values["balance_applied"], currency),
        due_date=values["due_date"],
        reverse_charge=values["reverse_charge"],
        created_at=values["created_at"],
        finalized_at=values["finalized_at"],
        paid_at=values["paid_at"],
        voided_at=values["voided_at"],
        marked_uncollectible_at=values["marked_uncollectible_at"],
        lines=tuple(lines),
        tax_breakdown=tuple(
            TaxBreakdownEntry(
                tax_rate_id=e["taxRateId"],
                name=e["name"],
                percentage=Decimal(e["percentage"]),
                inclusive=e["inclusive"],
                taxable_amount=Money(e["taxableAmount"], currency),
                tax_amount=Money(e["taxAmount"], currency),
            )
            for e in values["tax_breakdown"]
        ),
        memo=values["memo"],
        customer_snapshot=values["customer_snapshot"],
        collection_attempts=values.get("collection_attempts", 0),
        next_collection_at=values.get("next_collection_at"),
    )


def _breakdown_json(invoice: Invoice) -> list[dict[str, Any]]:
    return [
        {
            "taxRateId": e.tax_rate_id,
            "name": e.name,
            "percentage": format_decimal(e.percentage),
            "inclusive": e.inclusive,
            "taxableAmount": e.taxable_amount.minor_units,
            "taxAmount": e.tax_amount.minor_units,
        }
        for e in invoice.tax_breakdown
    ]


def _invoice_values(invoice: Invoice) -> dict[str, Any]:
    return {
        "status": invoice.status.value,
        "number": invoice.number,
        "sequence": invoice.sequence,
        "subtotal": invoice.totals.subtotal.minor_units,
        "discount_total": invoice.totals.discount_total.minor_units,
        "tax_total": invoice.totals.tax_total.minor_units,
        "total": invoice.totals.total.minor_units,
        "amount_paid": invoice.amount_paid.minor_units,
        "amount_credited": invoice.amount_credited.minor_units,
        "balance_applied": invoice.balance_applied.minor_units,
        "due_date": invoice.due_date,
        "reverse_charge": invoice.reverse_charge,
        "tax_breakdown": _breakdown_json(invoice),
        "customer_snapshot": invoice.customer_snapshot,
        "memo": invoice.memo,
        "finalized_at": invoice.finalized_at,
        "paid_at": invoice.paid_at,
        "voided_at": invoice.voided_at,
        "marked_uncollectible_at": invoice.marked_uncollectible_at,
        "collection_attempts": invoice.collection_attempts,
        "next_collection_at": invoice.next_collection_at,
    }


def _line_values(
    tenant_id: str, invoice_id: str, position: int, line: InvoiceLine
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "id": line.id,
        "invoice_id": invoice_id,
        "position": position,
        "kind": line.kind.value,
        "description": line.description,
        "amount": line.amount.minor_units,
        "quantity": line.quantity,
        "unit_amount": line.unit_amount,
        "period_start": line.period_start,
        "period_end": line.period_end,
        "price_id": line.price_id,
        "plan_id": line.plan_id,
        "explanation": line.explanation,
        "discounts": [
            {"discountId": d.discount_id, "amount": d.amount.minor_units} for d in line.discounts
        ],
        "discount_amount": line.discount_total.minor_units,
        "tax_rate_id": line.tax_rate_id,
        "tax_percentage": line.tax_percentage,
        "tax_inclusive": line.tax_inclusive,
        "tax_amount": 0 if line.tax_amount is None else line.tax_amount.minor_units,
    }


class SqlInvoiceRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def add(self, new: Sequence[Invoice], *, with_lines: bool = True) -> None:
        if with_lines:
            await self.add_lines(new)
        await insert_rows(
            self._db,
            invoices,
            [
                {
                    "id": invoice.id,
                    "customer_id": invoice.customer_id,
                    "subscription_id": invoice.subscription_id,
                    "billing_reason": invoice.billing_reason.value,
                    "currency": invoice.currency,
                    "period_start": invoice.period_start,
                    "period_end": invoice.period_end,
                    "created_at": invoice.created_at,
                    **_invoice_values(invoice),
                }
                for invoice in new
            ],
        )

    async def add_lines(self, new: Sequence[Invoice]) -> None:
        # Lines before their invoice: the billing run writes invoices already finalized,
        # and the line trigger allows lines only on drafts or on an invoice not written yet
        # (the deferred foreign key to it is checked at commit).
        tenant = self._db.tenant_id
        lines = [
            _line_values(tenant, invoice.id, position, line)
            for invoice in new
            for position, line in enumerate(invoice.lines)
        ]
        for line in lines:
            del line["tenant_id"]
        await insert_rows(self._db, invoice_lines, lines)

    async def get(self, invoice_id: str, *, for_update: bool = False) -> Invoice | None:
        statement = select(*INVOICE_COLUMNS).where(
            invoices.c.tenant_id == self._db.tenant_id, invoices.c.id == invoice_id
        )
        if for_update:
            statement = statement.with_for_update()
        row = (await self._db.execute(statement)).first()
        if row is None:
            return None
        lines = await self._db.execute(
            select(invoice_lines)
            .where(
                invoice_lines.c.tenant_id == self._db.tenant_id,
                invoice_lines.c.invoice_id == invoice_id,
            )
            .order_by(invoice_lines.c.position)
        )
        return invoice_from_row(row, [line_from_row(line, row.currency) for line in lines])

    async def save(self, invoice: Invoice) -> Invoice:
        tenant = self._db.tenant_id
        stored_status = (
            await self._db.execute(
                select(invoices.c.status).where(
                    invoices.c.tenant_id == tenant, invoices.c.id == invoice.id
                )
            )
        ).scalar_one_or_none()
        if stored_status == InvoiceStatus.DRAFT.value:
            # A draft's lines are replaced while it is still a draft (the trigger allows
            # line changes on drafts only), then its totals and status are written.
            await self._db.execute(
                delete(invoice_lines).where(
                    invoice_lines.c.tenant_id == tenant, invoice_lines.c.invoice_id == invoice.id
                )
            )
            if invoice.lines:
                await self._db.execute(
                    insert(invoice_lines),
                    [
                        _line_values(tenant, invoice.id, position, line)
                        for position, line in enumerate(invoice.lines)
                    ],
                )
        await self._db.execute(
            update(invoices)
            .where(invoices.c.tenant_id == tenant, invoices.c.id == invoice.id)
            .values(**_invoice_values(invoice), updated_at=func.clock_timestamp())
        )
        saved = await self.get(invoice.id)
        assert saved is not None
        return saved

    async def claim_drafts(self, created_by: datetime, limit: int) -> list[Invoice]:
        claimed = (
            select(*INVOICE_COLUMNS)
            .where(
                invoices.c.tenant_id == self._db.tenant_id,
                invoices.c.status == InvoiceStatus.DRAFT.value,
                invoices.c.billing_reason == BillingReason.SUBSCRIPTION_CYCLE.value,
                invoices.c.created_at <= created_by,
            )
            .order_by(invoices.c.created_at, invoices.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = list(await self._db.execute(claimed))
        if not rows:
            return []
        lines = await SqlInvoiceReads(self._db).lines_by_invoices([row.id for row in rows])
        return [invoice_from_row(row, found) for row, found in zip(rows, lines, strict=True)]

    async def others_in_dunning(self, subscription_id: str, invoice_id: str) -> bool:
        statement = select(
            exists().where(
                invoices.c.tenant_id == self._db.tenant_id,
                invoices.c.subscription_id == subscription_id,
                invoices.c.id != invoice_id,
                invoices.c.status == InvoiceStatus.OPEN.value,
                invoices.c.collection_attempts > 0,
            )
        )
        return bool((await self._db.execute(statement)).scalar_one())

    async def claim_collectable(self, as_of: datetime, limit: int) -> list[Invoice]:
        claimed = (
            select(*INVOICE_COLUMNS)
            .where(
                invoices.c.tenant_id == self._db.tenant_id,
                invoices.c.next_collection_at <= as_of,
                invoices.c.status == InvoiceStatus.OPEN.value,
            )
            .order_by(invoices.c.next_collection_at, invoices.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [invoice_from_row(row) for row in await self._db.execute(claimed)]

    async def take_numbers(self, count: int) -> tuple[NumberTemplate, int]:
        # One row per tenant: the UPDATE's row lock serialises finalizations of the tenant
        # until commit, and a rollback returns the numbers: no gap, no duplicate.
        statement = (
            pg_insert(invoice_numbering)
            .values(tenant_id=self._db.tenant_id, last_number=count)
            .on_conflict_do_update(
                index_elements=[invoice_numbering.c.tenant_id],
                set_={"last_number": invoice_numbering.c.last_number + count},
            )
            .returning(
                invoice_numbering.c.prefix,
                invoice_numbering.c.include_year,
                invoice_numbering.c.padding,
                invoice_numbering.c.last_number,
            )
        )
        row = (await self._db.execute(statement)).one()
        template = NumberTemplate(row.prefix, row.include_year, row.padding)
        return template, row.last_number - count + 1

    async def set_template(self, template: NumberTemplate) -> None:
        statement = (
            pg_insert(invoice_numbering)
            .values(
                tenant_id=self._db.tenant_id,
                prefix=template.prefix,
                include_year=template.include_year,
                padding=template.padding,
            )
            .on_conflict_do_update(
                index_elements=[invoice_numbering.c.tenant_id],
                set_={
                    "prefix": template.prefix,
                    "include_year": template.include_year,
                    "padding": template.padding,
                },
            )
        )
        await self._db.execute(statement)


def _filtered(db: TenantConnection, where: InvoiceFilter, columns: Any) -> Any:
    statement = select(*columns).where(invoices.c.tenant_id == db.tenant_id)
    if where.statuses:
        statement = statement.where(invoices.c.status.in_(list(where.statuses)))
    if where.customer_id is not None:
        statement = statement.where(invoices.c.customer_id == where.customer_id)
    if where.subscription_id is not None:
        statement = statement.where(invoices.c.subscription_id == where.subscription_id)
    if where.created_after is not None:
        statement = statement.where(invoices.c.created_at >= where.created_after)
    if where.created_before is not None:
        statement = statement.where(invoices.c.created_at < where.created_before)
    if where.due_before is not None:
        statement = statement.where(invoices.c.due_date < where.due_before.date())
    if where.amount_due_positive:
        statement = statement.where(
            invoices.c.status.in_(["OPEN", "UNCOLLECTIBLE"]),
            invoices.c.amount_due > invoices.c.amount_paid,
        )
    return statement


class SqlInvoiceReads:
    """The read path's invoices (domain.ports.InvoiceReads), in the request's tenant."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[Invoice | None]:
        statement = select(*INVOICE_COLUMNS).where(
            invoices.c.tenant_id == self._db.tenant_id, invoices.c.id.in_(list(ids))
        )
        found = {row.id: invoice_from_row(row) for row in await self._db.execute(statement)}
        return [found.get(invoice_id) for invoice_id in ids]

    async def page(
        self, where: InvoiceFilter, descending: bool, page: PageRequest
    ) -> list[Invoice]:
        statement = paginate(
            _filtered(self._db, where, INVOICE_COLUMNS),
            invoices.c.created_at,
            invoices.c.id,
            descending=descending,
            page=page,
        )
        return [invoice_from_row(row) for row in await self._db.execute(statement)]

    async def count(self, where: InvoiceFilter) -> int:
        statement = _filtered(self._db, where, [func.count()])
        return int((await self._db.execute(statement)).scalar_one())

    async def numbering(self) -> tuple[NumberTemplate, int]:
        statement = select(invoice_numbering).where(
            invoice_numbering.c.tenant_id == self._db.tenant_id
        )
        row = (await self._db.execute(statement)).first()
        if row is None:
            return NumberTemplate(), 0
        return NumberTemplate(row.prefix, row.include_year, row.padding), row.last_number

    async def lines_by_invoices(self, invoice_ids: Sequence[str]) -> list[list[InvoiceLine]]:
        statement = (
            select(invoice_lines, invoices.c.currency)
            .join(
                invoices,
                (invoices.c.tenant_id == invoice_lines.c.tenant_id)
                & (invoices.c.id == invoice_lines.c.invoice_id),
            )
            .where(
                invoice_lines.c.tenant_id == self._db.tenant_id,
                invoice_lines.c.invoice_id.in_(list(invoice_ids)),
            )
            .order_by(invoice_lines.c.invoice_id, invoice_lines.c.position)
        )
        grouped: dict[str, list[InvoiceLine]] = {invoice_id: [] for invoice_id in invoice_ids}
        for row in await self._db.execute(statement):
            grouped[row.invoice_id].append(line_from_row(row, row.currency))
        return [grouped[invoice_id] for invoice_id in invoice_ids]

    async def recent_by_parents(
        self, column: str, parent_ids: Sequence[str], limit: int
    ) -> list[list[Invoice]]:
        parent = invoices.c[column]
        ranked = (
            select(
                *INVOICE_COLUMNS,
                func.row_number()
                .over(
                    partition_by=parent,
                    order_by=(invoices.c.created_at.desc(), invoices.c.id.desc()),
                )
                .label("rank"),
            )
            .where(invoices.c.tenant_id == self._db.tenant_id, parent.in_(list(parent_ids)))
            .subquery()
        )
        statement = (
            select(ranked).where(ranked.c.rank <= limit).order_by(ranked.c[column], ranked.c.rank)
        )
        grouped: dict[str, list[Invoice]] = {parent_id: [] for parent_id in parent_ids}
        for row in await self._db.execute(statement):
            grouped[row._mapping[column]].append(invoice_from_row(row))
        return [grouped[parent_id] for parent_id in parent_ids]
