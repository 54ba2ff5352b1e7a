"""The database's own backstops for invoices: a finalized invoice never changes, a period is
billed once, whatever a bug in a service would try."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.services.invoices import (
    OneOffLine,
    add_invoice_line,
    create_invoice,
    finalize_invoice,
)
from infra.db import tenant_transaction
from tests.conftest import Tenant
from tests.support.billing import Billing, at


async def _finalized_invoice(engine: AsyncEngine, tenant_id: str) -> str:
    billing = Billing(engine, tenant_id)
    customer = await billing.customer()
    now = at(2026, 11, 1)
    invoice = await create_invoice(billing.uow(), customer, None, now)
    await add_invoice_line(billing.uow(), invoice.id, OneOffLine("Setup", Decimal(100)), now)
    await finalize_invoice(billing.uow(), invoice.id, now)
    return invoice.id


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE invoices SET total = total + 1 WHERE id = :id",
        "UPDATE invoices SET number = 'X-1' WHERE id = :id",
        "UPDATE invoices SET status = 'DRAFT' WHERE id = :id",
        "DELETE FROM invoices WHERE id = :id",
        "UPDATE invoice_lines SET amount = 1 WHERE invoice_id = :id",
        "DELETE FROM invoice_lines WHERE invoice_id = :id",
        "INSERT INTO invoice_lines (tenant_id, id, invoice_id, position, kind, description,"
        " amount, quantity) SELECT tenant_id, 'il_late', id, 9, 'ONE_OFF', 'Late', 1, 1"
        " FROM invoices WHERE id = :id",
    ],
)
async def test_a_finalized_invoice_cannot_be_changed_in_sql(
    engine: AsyncEngine, tenant: Tenant, statement: str
) -> None:
    # given a finalized invoice
    invoice_id = await _finalized_invoice(engine, tenant.id)
    # when the application's role tries to change it behind the services' back
    with pytest.raises((IntegrityError, DBAPIError), match="finalized"):
        async with tenant_transaction(engine, tenant.id) as db:
            await db.execute(text(statement), {"id": invoice_id})
    # then it is as it was
    async with tenant_transaction(engine, tenant.id) as db:
        row = (
            await db.execute(
                text(
                    "SELECT status, total, (SELECT count(*) FROM invoice_lines l"
                    " WHERE l.invoice_id = i.id) AS lines FROM invoices i WHERE id = :id"
                ),
                {"id": invoice_id},
            )
        ).one()
    assert (row.status, row.total, row.lines) == ("OPEN", 10_000, 1)


async def test_moving_a_finalized_invoice_along_its_lifecycle_is_allowed(
    engine: AsyncEngine, tenant: Tenant
) -> None:
    invoice_id = await _finalized_invoice(engine, tenant.id)
    async with tenant_transaction(engine, tenant.id) as db:
        await db.execute(
            text("UPDATE invoices SET status = 'VOID', voided_at = now() WHERE id = :id"),
            {"id": invoice_id},
        )
    with pytest.raises((IntegrityError, DBAPIError), match="finalized"):
        async with tenant_transaction(engine, tenant.id) as db:
            await db.execute(
                text("UPDATE invoices SET status = 'OPEN' WHERE id = :id"), {"id": invoice_id}
            )


async def test_a_subscription_period_is_billed_once_by_the_database_too(
    engine: AsyncEngine, tenant: Tenant
) -> None:
    # given a subscription and its first invoice
    billing = Billing(engine, tenant.id)
    customer = await billing.customer()
    plan = await billing.plan()
    start = at(2026, 11, 1)
    subscription = await billing.subscribe(customer, plan.id, start, now=start)
    # when a second invoice for the same period is inserted
    duplicate = text(
        "INSERT INTO invoices (tenant_id, id, customer_id, subscription_id, status,"
        " billing_reason, currency, period_start) VALUES (:t, 'inv_again', :c, :s, 'DRAFT',"
        " 'SUBSCRIPTION_CYCLE', 'USD', :start)"
    )
    # then the unique index refuses it
    with pytest.raises(IntegrityError, match="invoices_period_once"):
        async with tenant_transaction(engine, tenant.id) as db:
            await db.execute(
                duplicate,
                {"t": tenant.id, "c": customer, "s": subscription.id, "start": start},
            )


ADD_LINE_TO_EACH = text(
    "INSERT INTO invoice_lines (tenant_id, id, invoice_id, position, kind, description,"
    " amount, quantity) SELECT tenant_id, 'il_added' || row_number() OVER (ORDER BY id), id,"
    " 7, 'ONE_OFF', 'Added', 1, 1 FROM invoices WHERE id = ANY(:ids)"
)


async def _lines_of(engine: AsyncEngine, tenant_id: str, invoice_id: str) -> int:
    async with tenant_transaction(engine, tenant_id) as db:
        count = await db.execute(
            text("SELECT count(*) FROM invoice_lines WHERE invoice_id = :id"), {"id": invoice_id}
        )
        return int(count.scalar_one())


async def test_one_statement_adding_lines_to_a_draft_and_a_finalized_invoice_adds_none(
    engine: AsyncEngine, tenant: Tenant
) -> None:
    # given a finalized invoice and a draft
    finalized = await _finalized_invoice(engine, tenant.id)
    billing = Billing(engine, tenant.id)
    draft = await create_invoice(billing.uow(), await billing.customer(), None, at(2026, 11, 2))
    # when one statement adds a line to each, the finalized one among many lines
    with pytest.raises((IntegrityError, DBAPIError), match=f"invoice {finalized} is finalized"):
        async with tenant_transaction(engine, tenant.id) as db:
            await db.execute(ADD_LINE_TO_EACH, {"ids": [draft.id, finalized]})
    # then neither got a line
    assert await _lines_of(engine, tenant.id, draft.id) == 0
    assert await _lines_of(engine, tenant.id, finalized) == 1


async def test_one_statement_adds_lines_to_drafts_and_to_an_invoice_written_after_them(
    engine: AsyncEngine, tenant: Tenant
) -> None:
    # given two drafts
    billing = Billing(engine, tenant.id)
    customer = await billing.customer()
    drafts = [
        (await create_invoice(billing.uow(), customer, None, at(2026, 11, day))).id
        for day in (2, 3)
    ]
    # when one statement adds a line to each, and another adds lines to an invoice that the
    # same transaction writes afterwards, already finalized (as the billing run does)
    async with tenant_transaction(engine, tenant.id) as db:
        await db.execute(ADD_LINE_TO_EACH, {"ids": drafts})
        await db.execute(
            text(
                "INSERT INTO invoice_lines (tenant_id, id, invoice_id, position, kind,"
                " description, amount, quantity) SELECT :t, 'il_first' || p, 'inv_later', p,"
                " 'ONE_OFF', 'First', 1, 1 FROM generate_series(0, 2) AS p"
            ),
            {"t": tenant.id},
        )
        await db.execute(
            text(
                "INSERT INTO invoices (tenant_id, id, customer_id, status, billing_reason,"
                " currency, number, sequence, finalized_at) VALUES (:t, 'inv_later', :c, 'OPEN',"
                " 'MANUAL', 'USD', 'LATER-1', 999, now())"
            ),
            {"t": tenant.id, "c": customer},
        )
    # then every line is there
    assert [await _lines_of(engine, tenant.id, d) for d in drafts] == [1, 1]
    assert await _lines_of(engine, tenant.id, "inv_later") == 3
