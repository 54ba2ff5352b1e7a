"""Credit notes and the account's credit note counter in PostgreSQL (domain.credit_notes'
ports). A credit note is one row, its lines a JSON array: it is written once and read whole
(the table is append-only; a trigger checks it against its invoice, migration 0014)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from domain.credit_notes import (
    LISTED_PER_INVOICE,
    CreditNote,
    CreditNoteLine,
    CreditNoteOutcome,
    CreditNoteReason,
)
from domain.money import Money
from domain.queries import CreditNoteFilter, PageRequest
from infra.db import TenantConnection
from infra.pagination import paginate
from infra.tables import credit_note_numbering, credit_notes


def credit_note_from_row(row: Any) -> CreditNote:
    values = row._mapping if hasattr(row, "_mapping") else row
    currency = values["currency"]
    return CreditNote(
        id=values["id"],
        invoice_id=values["invoice_id"],
        customer_id=values["customer_id"],
        number=values["number"],
        sequence=values["sequence"],
        amount=Money(values["amount"], currency),
        reason=CreditNoteReason(values["reason"]),
        outcome=CreditNoteOutcome(values["outcome"]),
        memo=values["memo"],
        lines=tuple(
            CreditNoteLine(
                line["invoiceLineId"], Money(line["amount"], currency), line["description"]
            )
            for line in values["lines"]
        ),
        created_at=values["created_at"],
    )


class SqlCreditNoteRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def add(self, note: CreditNote) -> None:
        await self._db.execute(
            insert(credit_notes).values(
                tenant_id=self._db.tenant_id,
                id=note.id,
                invoice_id=note.invoice_id,
                customer_id=note.customer_id,
                number=note.number,
                sequence=note.sequence,
                currency=note.currency,
                amount=note.amount.minor_units,
                reason=note.reason.value,
                outcome=note.outcome.value,
                memo=note.memo,
                lines=[
                    {
                        "invoiceLineId": line.invoice_line_id,
                        "amount": line.amount.minor_units,
                        "description": line.description,
                    }
                    for line in note.lines
                ],
                created_at=note.created_at,
            )
        )

    async def of_invoice(self, invoice_id: str) -> list[CreditNote]:
        statement = (
            select(credit_notes)
            .where(
                credit_notes.c.tenant_id == self._db.tenant_id,
                credit_notes.c.invoice_id == invoice_id,
            )
            .order_by(credit_notes.c.created_at, credit_notes.c.id)
        )
        return [credit_note_from_row(row) for row in await self._db.execute(statement)]

    async def take_number(self) -> int:
        # One row per tenant, as invoice numbers: the row lock holds the counter until
        # commit, and a rollback gives the number back.
        statement = (
            pg_insert(credit_note_numbering)
            .values(tenant_id=self._db.tenant_id, last_number=1)
            .on_conflict_do_update(
                index_elements=[credit_note_numbering.c.tenant_id],
                set_={"last_number": credit_note_numbering.c.last_number + 1},
            )
            .returning(credit_note_numbering.c.last_number)
        )
        return int((await self._db.execute(statement)).scalar_one())


def _filtered(db: TenantConnection, where: CreditNoteFilter, columns: Any) -> Any:
    statement = select(*columns).where(credit_notes.c.tenant_id == db.tenant_id)
    if where.invoice_id is not None:
        statement = statement.where(credit_notes.c.invoice_id == where.invoice_id)
    if where.customer_id is not None:
        statement = statement.where(credit_notes.c.customer_id == where.customer_id)
    return statement


class SqlCreditNoteReads:
    """The read path's credit notes (domain.credit_notes.CreditNoteReads), in the request's
    tenant: one statement per call."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[CreditNote | None]:
        statement = select(credit_notes).where(
            credit_notes.c.tenant_id == self._db.tenant_id, credit_notes.c.id.in_(list(ids))
        )
        found = {row.id: credit_note_from_row(row) for row in await self._db.execute(statement)}
        return [found.get(note_id) for note_id in ids]

    async def page(
        self, where: CreditNoteFilter, descending: bool, page: PageRequest
    ) -> list[CreditNote]:
        statement = paginate(
            _filtered(self._db, where, tuple(credit_notes.c)),
            credit_notes.c.created_at,
            credit_notes.c.id,
            descending=descending,
            page=page,
        )
        return [credit_note_from_row(row) for row in await self._db.execute(statement)]

    async def count(self, where: CreditNoteFilter) -> int:
        statement = _filtered(self._db, where, [func.count()])
        return int((await self._db.execute(statement)).scalar_one())

    async def by_invoices(self, invoice_ids: Sequence[str]) -> list[list[CreditNote]]:
        rank = (
            func.row_number()
            .over(
                partition_by=credit_notes.c.invoice_id,
                order_by=(credit_notes.c.created_at, credit_notes.c.id),
            )
            .label("rank")
        )
        ranked = (
            select(*credit_notes.c, rank)
            .where(
                credit_notes.c.tenant_id == self._db.tenant_id,
                credit_notes.c.invoice_id.in_(list(invoice_ids)),
            )
            .subquery()
        )
        statement = (
            select(ranked)
            .where(ranked.c.rank <= LISTED_PER_INVOICE)
            .order_by(ranked.c.invoice_id, ranked.c.rank)
        )
        grouped: dict[str, list[CreditNote]] = {invoice_id: [] for invoice_id in invoice_ids}
        for row in await self._db.execute(statement):
            grouped[row.invoice_id].append(credit_note_from_row(row))
        return [grouped[invoice_id] for invoice_id in invoice_ids]
