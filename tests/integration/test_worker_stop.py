"""`ledgerline worker` told to stop (SIGTERM sets its stop event): the billing run finishes
the batch in hand, commits it (releasing the rows it claimed) and stops before the next;
the next run bills what was left, once."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.money import Money
from infra.billing_worker import bill_everyone, bill_tenant
from infra.db import tenant_transaction
from tests.conftest import Tenant
from tests.support.billing import Billing, at

START = at(2026, 1, 10)
DUE = at(2026, 2, 10, 1)


async def _three_due_subscriptions(engine: AsyncEngine, tenant: Tenant) -> None:
    billing = Billing(engine, tenant.id)
    plan = await billing.plan(seat=Money(1_000, "USD"))
    for _ in range(3):
        await billing.subscribe(await billing.customer(), plan.id, START, now=START)


async def test_a_stopped_run_ends_after_its_batch_and_the_next_bills_the_rest_once(
    engine: AsyncEngine, tenant: Tenant
) -> None:
    # given: three subscriptions due, billed one per batch, and a worker told to stop
    await _three_due_subscriptions(engine, tenant)
    stop = asyncio.Event()
    stop.set()

    # when
    _, stopped = await bill_tenant(engine, tenant.id, DUE, batch_size=1, stop=stop)

    # then: one batch was billed and committed; no subscription is left locked
    assert stopped == 1
    async with tenant_transaction(engine, tenant.id) as db:
        free = await db.execute(
            text("SELECT id FROM subscriptions WHERE tenant_id = :t FOR UPDATE NOWAIT"),
            {"t": tenant.id},
        )
        assert len(free.all()) == 3
    # and the next run bills the two left, and nothing twice
    _, rest = await bill_tenant(engine, tenant.id, DUE, batch_size=1)
    assert rest == 2
    assert await bill_tenant(engine, tenant.id, DUE, batch_size=1) == (0, 0)


async def test_a_run_told_to_stop_before_it_starts_bills_no_account(
    engine: AsyncEngine, tenant: Tenant
) -> None:
    await _three_due_subscriptions(engine, tenant)
    stop = asyncio.Event()
    stop.set()

    result = await bill_everyone(engine, DUE, stop=stop)

    assert (result.subscriptions, result.tenants) == (0, 0)
    _, billed = await bill_tenant(engine, tenant.id, DUE)
    assert billed == 3
