"""The read-path benchmark's data: one tenant as a dashboard sees it.

1,000 customers in several currencies and countries, with addresses and balances; the demo
seed's billable metrics and plans (every price model, tiers); and a month of API calls for
the 50 customers of the dashboard's first page. Beside it, another merchant with newer rows.
Made through the domain services, once: a second run finds the data and only reads what the
operations need (`Fixture`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.customers import Address, CustomerDraft
from domain.services.customers import create_customer
from domain.services.metrics import create_billable_metric
from domain.services.plans import create_plan
from domain.services.usage import record_usage
from domain.usage import MAX_EVENTS_PER_BATCH, UsageEventIn
from infra.db import TenantConnection, create_engine, tenant_transaction
from infra.migrate import upgrade_async
from infra.repositories.accounts import ensure_account
from infra.seed import DEMO_METRICS, DEMO_PLANS
from infra.uow import SqlUnitOfWork

TENANT = "bench-readpath"
# Another merchant's customers, newer than the benchmark tenant's: a server that ignored
# row-level security would list them first, and the answers' check would catch it.
OTHER_TENANT = "bench-readpath-other"
CUSTOMERS = 1_000
CUSTOMERS_PER_TRANSACTION = 100  # so the list's sort key (created_at) takes several values
PAGE = 50
METRIC_CODE = "api.calls"
USAGE_DAYS = 28  # inside the 31 days recordUsage accepts back
WINDOW = timedelta(days=30)

# (country, currency, city, postal code): money in 0, 2 and 3 decimals.
_PLACES = (
    ("US", "USD", "San Francisco", "94105"),
    ("DE", "EUR", "Berlin", "10115"),
    ("JP", "JPY", "Tokyo", "100-0001"),
    ("GB", "GBP", "London", "EC4Y 1AA"),
    ("KW", "KWD", "Kuwait City", None),
)


@dataclass(frozen=True)
class Fixture:
    """What the operations' variables name: the tenant, a customer, the metric, the window."""

    tenant: str
    customer_id: str
    metric_code: str
    window_start: datetime
    window_end: datetime

    def variables(self) -> dict[str, str]:
        """Every variable an operation of bench/operations/ may declare."""
        return {
            "tenantId": self.tenant,
            "id": self.customer_id,
            "metricCode": self.metric_code,
            "from": self.window_start.isoformat(),
            "to": self.window_end.isoformat(),
        }


async def prepare(url: str) -> Fixture:
    await upgrade_async(url)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await ensure_account(conn, TENANT, "Read-path benchmark merchant")
            await ensure_account(conn, OTHER_TENANT, "Another merchant")
        while await _count(engine, TENANT, "select count(*) from customers") < CUSTOMERS:
            async with tenant_transaction(engine, TENANT) as db:
                await _add_customers(db, CUSTOMERS_PER_TRANSACTION)
        if await _count(engine, TENANT, "select count(*) from plans") == 0:
            async with tenant_transaction(engine, TENANT) as db:
                await _add_catalog(db)
        if await _count(engine, OTHER_TENANT, "select count(*) from customers") == 0:
            async with tenant_transaction(engine, OTHER_TENANT) as db:
                await _add_customers(db, 20)
                await _add_catalog(db)
        if await _count(engine, TENANT, "select count(*) from usage_events") == 0:
            async with tenant_transaction(engine, TENANT) as db:
                await _add_usage(db)
        async with tenant_transaction(engine, TENANT) as db:
            return await _fixture(db)
    finally:
        await engine.dispose()


async def _count(engine: AsyncEngine, tenant: str, sql: str) -> int:
    async with tenant_transaction(engine, tenant) as db:
        return int((await db.execute(text(sql))).scalar_one())


async def _add_customers(db: TenantConnection, count: int) -> None:
    existing = int((await db.execute(text("select count(*) from customers"))).scalar_one())
    for i in range(existing, min(existing + count, CUSTOMERS)):
        country, currency, city, postal_code = _PLACES[i % len(_PLACES)]
        await create_customer(
            SqlUnitOfWork(db),
            CustomerDraft(
                name=f"Customer {i:04d}",
                currency=currency,
                email=f"billing{i}@customer{i}.example",
                address=Address(
                    country=country, line1=f"{i} Market Street", city=city, postal_code=postal_code
                ),
            ),
        )
    # Credit balances, so the page's money is not all zero: an opening adjustment each, in
    # the ledger (a balance moves by no other path).
    await db.execute(
        text(
            "insert into customer_balance_transactions"
            " (tenant_id, id, customer_id, kind, amount, currency, ending_balance, description)"
            " select tenant_id, 'cbtxn_' || substr(md5(id), 1, 22), id, 'ADJUSTMENT', credit,"
            " currency, 0, 'Opening balance'"
            " from (select tenant_id, id, currency,"
            " -(abs(hashtext(id)::bigint) % 200000) as credit from customers"
            " where balance = 0 and archived_at is null) as opening where credit <> 0"
        )
    )


async def _add_catalog(db: TenantConnection) -> None:
    for metric in DEMO_METRICS:
        await create_billable_metric(SqlUnitOfWork(db), metric)
    for plan in DEMO_PLANS:
        await create_plan(SqlUnitOfWork(db), plan)


async def _add_usage(db: TenantConnection) -> None:
    """API calls of the first page's customers, a few a day (more for some) over 28 days."""
    page = await db.execute(
        text("select id from customers order by created_at desc, id desc limit :n"), {"n": PAGE}
    )
    now = datetime.now(UTC)
    start = (now - timedelta(days=USAGE_DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
    events: list[UsageEventIn] = []
    for c, (customer_id,) in enumerate(page):
        for day in range(USAGE_DAYS):
            for n in range(1 + (c + day) % 5):
                at = start + timedelta(days=day, hours=1 + n, minutes=c)
                if at < now:
                    events.append(_call(len(events), customer_id, at, f"{day}-{n}"))
    for first in range(0, len(events), MAX_EVENTS_PER_BATCH):
        batch = events[first : first + MAX_EVENTS_PER_BATCH]
        result = await record_usage(SqlUnitOfWork(db), batch, now)
        if result.rejected:
            raise RuntimeError(f"usage refused: {result.rejected[0]}")


def _call(index: int, customer_id: str, at: datetime, key: str) -> UsageEventIn:
    return UsageEventIn(
        index=index % MAX_EVENTS_PER_BATCH,
        idempotency_key=f"readpath-{customer_id}-{key}",
        metric_code=METRIC_CODE,
        timestamp=at,
        properties={"endpoint": "/v1/search"},
        customer_id=customer_id,
    )


async def _fixture(db: TenantConnection) -> Fixture:
    # A customer from the middle of the list, not one a page has just read.
    customer_id = (
        await db.execute(text("select id from customers order by id offset 500 limit 1"))
    ).scalar_one()
    # The window holds every event: it starts on the day of the first, whenever that was.
    first_event = (
        await db.execute(
            text("select min(occurred_at) from usage_events where metric_code = :code"),
            {"code": METRIC_CODE},
        )
    ).scalar_one()
    start = first_event.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return Fixture(TENANT, customer_id, METRIC_CODE, start, start + WINDOW)
