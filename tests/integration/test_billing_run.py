"""The billing run against real PostgreSQL: periods billed once, in order, gapless."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.money import Money
from domain.services.billing import bill_due, finalize_due_drafts
from infra.db import tenant_transaction
from tests.conftest import Tenant
from tests.support.billing import Billing, at


async def run_until(billing: Billing, as_of: datetime) -> int:
    """Billing passes until nothing is due at `as_of`; answers the invoices made."""
    made = 0
    while True:
        result = await bill_due(billing.uow(), as_of)
        made += result.invoices
        if result.subscriptions == 0:
            return made


async def invoice_rows(engine: AsyncEngine, tenant_id: str) -> list[dict[str, object]]:
    async with tenant_transaction(engine, tenant_id) as db:
        rows = await db.execute(
            text(
                "SELECT number, sequence, period_start, period_end, total, status, billing_reason"
                " FROM invoices WHERE tenant_id = :t ORDER BY sequence"
            ),
            {"t": tenant_id},
        )
        return [dict(row._mapping) for row in rows]


async def test_a_year_of_monthly_renewals_bills_twelve_periods_once(
    engine: AsyncEngine, tenant: Tenant
) -> None:
    # given a subscription that started on Jan 31st, a year ago
    billing = Billing(engine, tenant.id)
    customer = await billing.customer()
    plan = await billing.plan(seat=Money(1_000, "USD"))
    start = at(2025, 1, 31, 9)
    await billing.subscribe(customer, plan.id, start, now=start, quantity=3)

    # when the billing run passes through the year, a few times over
    for month in range(1, 13):
        await run_until(billing, at(2025, month, 28) + timedelta(days=5))
    await run_until(billing, at(2026, 1, 31, 9) - timedelta(seconds=1))
    await run_until(billing, at(2026, 1, 31, 8))

    # then the opening invoice and 11 renewals cover the year without gap or overlap
    rows = await invoice_rows(engine, tenant.id)
    assert [row["sequence"] for row in rows] == list(range(1, 13))
    periods = [(row["period_start"], row["period_end"]) for row in rows]
    assert periods[0][0] == start
    assert all(a[1] == b[0] for a, b in zip(periods, periods[1:], strict=False))
    assert periods[-1][1] == at(2026, 1, 31, 9)
    assert [p[0].day for p in periods][:3] == [31, 28, 31]
    assert all(row["total"] == 3_000 for row in rows)
    assert rows[0]["billing_reason"] == "SUBSCRIPTION_CREATE"


async def test_with_a_grace_period_renewals_stay_drafts_until_it_passes(
    engine: AsyncEngine, tenant: Tenant
) -> None:
    # given a subscription whose first period ended, and a grace period of two days
    billing = Billing(engine, tenant.id)
    customer = await billing.customer()
    plan = await billing.plan(seat=Money(1_000, "USD"))
    start = at(2026, 1, 10)
    await billing.subscribe(customer, plan.id, start, now=start)
    grace = timedelta(days=2)

    # when the run passes at the period's end, and again after the grace period
    renewed = await bill_due(billing.uow(), at(2026, 2, 10, 1), grace=grace)
    before = await invoice_rows(engine, tenant.id)
    early = await finalize_due_drafts(billing.uow(), at(2026, 2, 11), grace)
    late = await finalize_due_drafts(billing.uow(), at(2026, 2, 12, 2), grace)
    after = await invoice_rows(engine, tenant.id)

    # then the renewal was a draft (no number) until the grace period passed
    assert renewed.invoices == 1 and early == 0 and late == 1
    assert sorted(str(row["status"]) for row in before) == ["DRAFT", "OPEN"]
    assert [row["status"] for row in after] == ["OPEN", "OPEN"]
    assert [row["sequence"] for row in after] == [1, 2]
