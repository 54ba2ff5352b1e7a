"""Usage inserts against PostgreSQL: concurrent batches with the same events, in any order,
neither deadlock nor count an event twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain.customers import CustomerDraft
from domain.metrics import Aggregation, MetricDraft
from domain.services.customers import create_customer
from domain.services.metrics import create_billable_metric
from domain.usage import UsageEvent
from infra.db import tenant_transaction
from infra.repositories.usage import SqlUsageRepository
from infra.uow import SqlUnitOfWork
from tests.conftest import Tenant


async def test_concurrent_batches_in_opposite_orders_never_deadlock(
    app: Any, tenant: Tenant
) -> None:
    # given a customer, a metric, and 2,000 events
    engine = app.state.engine
    async with tenant_transaction(engine, tenant.id) as db:
        customer = await create_customer(SqlUnitOfWork(db), CustomerDraft("Usage Co", "USD"))
        await create_billable_metric(
            SqlUnitOfWork(db), MetricDraft("bytes", "Bytes", Aggregation.SUM, "n")
        )
    now = datetime.now(UTC)
    events = [
        UsageEvent(i, f"k-{i:05d}", customer.id, "bytes", now, {"n": i}, Decimal(i))
        for i in range(2000)
    ]

    async def insert(batch: list[UsageEvent]) -> int:
        async with tenant_transaction(engine, tenant.id) as db:
            return await SqlUsageRepository(db).add_new(batch)

    # when four transactions insert them at once, two forwards and two backwards
    results = await asyncio.gather(
        *(insert(events if n % 2 else events[::-1]) for n in range(4)),
        return_exceptions=True,
    )
    # then none failed, and each event was stored once
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(results) == 2000  # type: ignore[arg-type]
