"""The customer balance ledger and credit notes against real PostgreSQL: the balance is the
sum of its ledger, credit is applied once under concurrency, the database refuses what the
services would never write, and (property tests) whatever sequence of adjustments, invoices
and credit notes happens, paid + credited + applied never exceeds an invoice's total."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.credit_notes import CreditNoteOutcome, CreditNoteReason, CreditNoteRequest
from domain.customers import CustomerDraft
from domain.errors import DomainError
from domain.services.balances import adjust_customer_balance
from domain.services.credit_notes import create_credit_note
from domain.services.customers import create_customer
from domain.services.invoices import OneOffLine, add_invoice_line, create_invoice, finalize_invoice
from infra.repositories.accounts import ensure_account
from infra.uow import SqlUnitOfWork

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


async def _tenant(engine: AsyncEngine) -> tuple[str, str]:
    """A fresh merchant with one USD customer: (tenant id, customer id)."""
    tenant_id = "t-" + secrets.token_hex(6)
    async with engine.begin() as conn:
        await ensure_account(conn, tenant_id, f"Ledger merchant {tenant_id}")
    customer = await create_customer(
        SqlUnitOfWork.owning(engine, tenant_id), CustomerDraft(name="Ledger", currency="USD")
    )
    return tenant_id, customer.id


async def _draft(engine: AsyncEngine, tenant_id: str, customer_id: str, amount: Decimal) -> str:
    uow = SqlUnitOfWork.owning(engine, tenant_id)
    invoice = await create_invoice(uow, customer_id, None, NOW)
    await add_invoice_line(uow, invoice.id, OneOffLine("Service", amount), NOW)
    return invoice.id


async def _check_invariants(admin: asyncpg.Connection, tenant_id: str) -> None:
    # the balance is the sum of its ledger, holds credit only, and each transaction's ending
    # balance is the running sum in ledger order
    rows = await admin.fetch(
        "select customer_id, amount, ending_balance from customer_balance_transactions"
        " where tenant_id = $1 order by position",
        tenant_id,
    )
    running: dict[str, int] = {}
    for row in rows:
        running[row["customer_id"]] = running.get(row["customer_id"], 0) + row["amount"]
        assert row["ending_balance"] == running[row["customer_id"]]
    for customer in await admin.fetch(
        "select id, balance from customers where tenant_id = $1", tenant_id
    ):
        assert customer["balance"] == running.get(customer["id"], 0)
        assert customer["balance"] <= 0
    # no invoice is covered beyond its total, nor credited beyond it
    for invoice in await admin.fetch(
        "select i.total, i.amount_paid, i.amount_credited, i.balance_applied, i.amount_due,"
        " (select coalesce(sum(amount), 0) from credit_notes n"
        "  where n.tenant_id = i.tenant_id and n.invoice_id = i.id) as noted"
        " from invoices i where i.tenant_id = $1",
        tenant_id,
    ):
        ceiling = max(invoice["total"], 0)
        covered = invoice["amount_paid"] + invoice["amount_credited"] + invoice["balance_applied"]
        assert covered <= ceiling
        assert invoice["noted"] <= ceiling
        assert invoice["amount_due"] >= 0


amounts = st.integers(min_value=1, max_value=20_000).map(lambda cents: Decimal(cents) / 100)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("adjust"), st.integers(min_value=-20_000, max_value=20_000)),
        st.tuples(st.just("invoice"), st.integers(min_value=1, max_value=20_000)),
        st.tuples(
            st.sampled_from(["CREDIT_BALANCE", "REDUCE_AMOUNT_DUE"]),
            st.integers(min_value=1, max_value=20_000),
        ),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
async def test_the_balance_is_its_ledger_and_no_invoice_is_covered_beyond_its_total(
    engine: AsyncEngine, admin: asyncpg.Connection, steps: list[tuple[str, int]]
) -> None:
    # given a fresh customer
    tenant_id, customer_id = await _tenant(engine)
    invoices: list[str] = []
    # when adjustments, invoices and credit notes happen in any order and amounts (what the
    # rules refuse is refused)
    for kind, cents in steps:
        amount = Decimal(cents) / 100
        uow = SqlUnitOfWork.owning(engine, tenant_id)
        try:
            if kind == "adjust":
                await adjust_customer_balance(uow, customer_id, amount, "Property", NOW)
            elif kind == "invoice":
                draft = await _draft(engine, tenant_id, customer_id, amount)
                invoices.append((await finalize_invoice(uow, draft, NOW)).id)
            elif invoices:
                request = CreditNoteRequest(
                    invoices[-1], CreditNoteReason.OTHER, CreditNoteOutcome(kind), amount=amount
                )
                await create_credit_note(uow, request, NOW)
        except DomainError:
            pass
    # then the invariants hold
    await _check_invariants(admin, tenant_id)


async def test_concurrent_finalizations_apply_a_customers_credit_once(
    engine: AsyncEngine, admin: asyncpg.Connection
) -> None:
    # given a customer holding 60.00 of credit and eight drafts of 50.00
    tenant_id, customer_id = await _tenant(engine)
    await adjust_customer_balance(
        SqlUnitOfWork.owning(engine, tenant_id), customer_id, Decimal("-60.00"), "Credit", NOW
    )
    drafts = [await _draft(engine, tenant_id, customer_id, Decimal("50.00")) for _ in range(8)]
    # when they are finalized at once
    finalized = await asyncio.gather(
        *(finalize_invoice(SqlUnitOfWork.owning(engine, tenant_id), d, NOW) for d in drafts)
    )
    # then 60.00 was applied in all, 50.00 to one (paid) and 10.00 to another
    applied = sorted(invoice.balance_applied.minor_units for invoice in finalized)
    assert applied == [0] * 6 + [1000, 5000]
    assert sum(invoice.status.value == "PAID" for invoice in finalized) == 1
    await _check_invariants(admin, tenant_id)
    assert (
        await admin.fetchval(
            "select balance from customers where tenant_id = $1 and id = $2", tenant_id, customer_id
        )
        == 0
    )


async def _as_tenant(admin: asyncpg.Connection, tenant_id: str, sql: str, *args: Any) -> None:
    async with admin.transaction():
        await admin.execute("select set_config('app.tenant_id', $1, true)", tenant_id)
        await admin.execute(sql, *args)


async def test_the_database_refuses_what_no_service_writes(
    engine: AsyncEngine, admin: asyncpg.Connection
) -> None:
    # given an invoice of 10.00 credited 4.00 to its customer's balance
    tenant_id, customer_id = await _tenant(engine)
    draft = await _draft(engine, tenant_id, customer_id, Decimal("10.00"))
    invoice = await finalize_invoice(SqlUnitOfWork.owning(engine, tenant_id), draft, NOW)
    request = CreditNoteRequest(
        invoice.id, CreditNoteReason.OTHER, CreditNoteOutcome.CREDIT_BALANCE, Decimal("4.00")
    )
    await create_credit_note(SqlUnitOfWork.owning(engine, tenant_id), request, NOW)
    refused = [
        # the ledger and credit notes are append-only
        "update customer_balance_transactions set amount = -1",
        "delete from customer_balance_transactions",
        "update credit_notes set amount = 1",
        "delete from credit_notes",
        # the balance moves only by the ledger, and never owes
        "update customers set balance = -100000",
        "insert into customer_balance_transactions (tenant_id, id, customer_id, kind, amount,"
        " currency, ending_balance, description) select tenant_id, 'cbtxn_x', id,"
        " 'ADJUSTMENT', 500, 'USD', 0, 'Owed' from customers",
        # a credit note beyond the invoice's total (6.01 more than the 4.00)
        "insert into credit_notes (tenant_id, id, invoice_id, customer_id, number, sequence,"
        " currency, amount, reason, outcome) select tenant_id, 'cn_x', id, customer_id,"
        " 'CN-X', 99, currency, 601, 'OTHER', 'CREDIT_BALANCE' from invoices",
        # an invoice covered beyond its total, or its applied balance moved
        "update invoices set amount_credited = 600, amount_paid = 401",
        "update invoices set balance_applied = 1",
    ]
    for sql in refused:
        with pytest.raises(asyncpg.PostgresError):
            await _as_tenant(admin, tenant_id, sql)
    await _check_invariants(admin, tenant_id)
