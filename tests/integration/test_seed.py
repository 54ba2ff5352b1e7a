"""The demo seed: built through the services, each in a unit of work that owns its
transaction, at the time its clock tells."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.seed import DEMO_CUSTOMERS, DEMO_METRICS, DEMO_PLANS, DEMO_TENANT, seed_demo
from tests.support.clock import FixedClock


async def test_the_demo_seed_creates_its_data_once_at_the_clocks_time(
    engine: AsyncEngine, admin: asyncpg.Connection
) -> None:
    # given a clock at a time of the test's choosing
    clock = FixedClock(datetime(2031, 3, 1, 12, 0, tzinfo=UTC))
    # when the demo data is seeded, and seeded again
    first, second = await seed_demo(engine, clock), await seed_demo(engine, clock)
    # then the first seed created it all and the second nothing
    assert (first, second) == (True, False)

    async def count(table: str, where: str = "true") -> int:
        query = f"select count(*) from {table} where tenant_id = $1 and {where}"
        return int(await admin.fetchval(query, DEMO_TENANT))

    assert await count("customers") == len(DEMO_CUSTOMERS)
    assert await count("customers", "archived_at is not null") == 1
    assert await count("billable_metrics") == len(DEMO_METRICS)
    assert await count("plans") == len(DEMO_PLANS)
    assert await count("events", "type = 'customer.created'") == len(DEMO_CUSTOMERS)
    # and its week of usage ends at the clock's time
    earliest, latest = await admin.fetchrow(
        "select min(occurred_at), max(occurred_at) from usage_events where tenant_id = $1",
        DEMO_TENANT,
    )
    assert clock.at - timedelta(days=7) <= earliest < latest < clock.at
    assert engine.pool.checkedout() == 0
