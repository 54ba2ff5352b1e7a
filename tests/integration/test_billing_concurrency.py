"""Invoice numbers under concurrent finalizations, against real PostgreSQL: each
finalization is its own transaction on its own connection, and the tenant's counter row
makes them take numbers one after the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.errors import DomainError, ErrorCode
from domain.invoices import Invoice, InvoiceStatus
from domain.services.invoices import OneOffLine, add_invoice_line, create_invoice, finalize_invoice
from infra.db import create_engine
from infra.uow import SqlUnitOfWork
from tests.conftest import Tenant, TestDatabase
from tests.support.billing import Billing, at

NOW = at(2026, 3, 1, 12)


@pytest.fixture
async def wide_engine(test_database: TestDatabase) -> AsyncIterator[AsyncEngine]:
    """Enough connections for 50 transactions at once."""
    engine = create_engine(test_database.url, pool_size=25, pool_timeout=30.0)
    yield engine
    await engine.dispose()


async def drafts(billing: Billing, count: int) -> list[str]:
    customer = await billing.customer()
    ids = []
    for i in range(count):
        draft = await create_invoice(billing.uow(), customer, None, NOW)
        line = OneOffLine(f"Consulting day {i + 1}", Decimal("800.00"))
        await add_invoice_line(billing.uow(), draft.id, line, NOW)
        ids.append(draft.id)
    return ids


async def finalize(engine: AsyncEngine, tenant_id: str, invoice_id: str) -> Invoice:
    return await finalize_invoice(SqlUnitOfWork.owning(engine, tenant_id), invoice_id, NOW)


async def test_fifty_concurrent_finalizations_take_numbers_one_to_fifty(
    wide_engine: AsyncEngine, tenant: Tenant
) -> None:
    # given 50 drafts of one tenant
    ids = await drafts(Billing(wide_engine, tenant.id), 50)

    # when all of them are finalized at once, each in its own transaction
    finalized = await asyncio.gather(*(finalize(wide_engine, tenant.id, i) for i in ids))

    # then they took the numbers 1..50, each once, none missing
    assert sorted(invoice.sequence or 0 for invoice in finalized) == list(range(1, 51))
    assert len({invoice.number for invoice in finalized}) == 50
    assert all(invoice.status is InvoiceStatus.OPEN for invoice in finalized)
    # and the database holds what they answered
    async with SqlUnitOfWork.owning(wide_engine, tenant.id) as uow:
        stored = [await uow.invoices.get(i) for i in ids]
    assert [(s.number, s.sequence) for s in stored if s] == [
        (f.number, f.sequence) for f in finalized
    ]


async def test_two_concurrent_finalizations_of_one_draft_give_it_one_number(
    wide_engine: AsyncEngine, tenant: Tenant
) -> None:
    # given one draft
    [invoice_id] = await drafts(Billing(wide_engine, tenant.id), 1)

    # when it is finalized twice at the same time
    results = await asyncio.gather(
        finalize(wide_engine, tenant.id, invoice_id),
        finalize(wide_engine, tenant.id, invoice_id),
        return_exceptions=True,
    )

    # then one finalization succeeds with number 1, the other finds it no longer a draft
    done = [r for r in results if isinstance(r, Invoice)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(done) == 1 and len(refused) == 1, results
    assert done[0].sequence == 1
    assert [e.code for e in refused[0].errors] == [ErrorCode.NOT_DRAFT]
    # and the next invoice of the tenant is number 2: the refused one took none
    [next_id] = await drafts(Billing(wide_engine, tenant.id), 1)
    assert (await finalize(wide_engine, tenant.id, next_id)).sequence == 2
