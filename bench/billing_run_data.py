"""The billing run benchmark's data: two tenants of subscriptions all due at one instant,
built in bulk, put back as they were before each run, and checked after it.

Plans, prices and the billable metric are made through the services (a handful of rows);
customers, subscriptions, their items and usage events are written by the database owner
with INSERT ... SELECT over generate_series, as the services would write them: ids of the
right shape, one subscription per customer, periods that end at `DUE`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.metrics import Aggregation, MetricDraft
from domain.money import Money
from domain.plans import BillingMode, Interval, PlanDraft, PriceDraft
from domain.pricing import FlatFee, PerUnit
from domain.services.metrics import create_billable_metric
from domain.services.plans import create_plan
from infra.uow import SqlUnitOfWork

PERIOD_START = datetime(2026, 2, 1, tzinfo=UTC)
DUE = datetime(2026, 3, 1, tzinfo=UTC)  # every period ends here: the run bills as of it
METRIC = "api.calls"
USAGE_EVENTS_PER_CUSTOMER = 5


@dataclass(frozen=True)
class TenantShape:
    id: str
    subscriptions: int


# Plan codes in the order subscriptions take them: g % 3 picks one.
PLANS = ("flat", "seats", "metered")


def _plan_drafts() -> list[PlanDraft]:
    return [
        PlanDraft("flat", "Flat", Interval.MONTH, (PriceDraft(FlatFee(Money(2_900, "USD"))),)),
        # Licensed per seat: subscriptions have 1 to 5 seats.
        PlanDraft("seats", "Seats", Interval.MONTH, (PriceDraft(PerUnit(Decimal(12), "USD")),)),
        PlanDraft(
            "metered",
            "Metered",
            Interval.MONTH,
            (
                PriceDraft(FlatFee(Money(500, "USD"))),
                PriceDraft(PerUnit(Decimal("0.002"), "USD"), BillingMode.METERED, METRIC),
            ),
        ),
    ]


BUILD = (
    # Half the customers in Germany (19 % VAT, a rate of the tenant), half in the US (none).
    """
    INSERT INTO customers (tenant_id, id, name, email, currency, address, created_at,
                           updated_at)
    SELECT $1, 'cus_' || substr(md5($1 || ':cus:' || g), 1, 22), 'Customer ' || g,
           'billing.' || g || '@example.com', 'USD',
           jsonb_build_object('country', CASE WHEN g % 2 = 0 THEN 'DE' ELSE 'US' END),
           $2::timestamptz, $2::timestamptz
    FROM generate_series(1, $3::integer) AS g
    """,
    """
    INSERT INTO tax_rates (tenant_id, id, display_name, percentage, inclusive, country)
    VALUES ($1, 'txr_' || substr(md5($1 || ':txr'), 1, 22), 'VAT', 19, false, 'DE')
    """,
    """
    INSERT INTO subscriptions (tenant_id, id, customer_id, plan_id, status, currency, quantity,
                               start_at, billing_cycle_anchor, current_period_start,
                               current_period_end, created_at, updated_at)
    SELECT $1, 'sub_' || substr(md5($1 || ':sub:' || g), 1, 22),
           'cus_' || substr(md5($1 || ':cus:' || g), 1, 22),
           (SELECT id FROM plans WHERE tenant_id = $1 AND code = ($4::text[])[g % 3 + 1]),
           'ACTIVE', 'USD', CASE WHEN g % 3 = 1 THEN 1 + g % 5 ELSE 1 END,
           $2::timestamptz, $2::timestamptz, $2::timestamptz, $5::timestamptz,
           $2::timestamptz, $2::timestamptz
    FROM generate_series(1, $3::integer) AS g
    """,
    """
    INSERT INTO subscription_items (tenant_id, subscription_id, price_id)
    SELECT s.tenant_id, s.id, p.id
    FROM subscriptions AS s JOIN prices AS p ON p.tenant_id = s.tenant_id AND p.plan_id = s.plan_id
    WHERE s.tenant_id = $1
    """,
    # Half the metered customers called the API during the period.
    """
    INSERT INTO usage_events (tenant_id, idempotency_key, customer_id, metric_code,
                              occurred_at, properties, value, position)
    SELECT $1, 'call-' || g || '-' || k, 'cus_' || substr(md5($1 || ':cus:' || g), 1, 22),
           $4, $2::timestamptz + k * interval '1 day', '{}', NULL, 0
    FROM generate_series(1, $3::integer) AS g, generate_series(1, $5::integer) AS k
    WHERE g % 6 = 2
    """,
)


def _build_arguments(shape: TenantShape) -> list[tuple[Any, ...]]:
    return [
        (shape.id, PERIOD_START, shape.subscriptions),
        (shape.id,),
        (shape.id, PERIOD_START, shape.subscriptions, list(PLANS), DUE),
        (shape.id,),
        (shape.id, PERIOD_START, shape.subscriptions, METRIC, USAGE_EVENTS_PER_CUSTOMER),
    ]


async def build(admin_dsn: str, engine: AsyncEngine, shapes: list[TenantShape]) -> None:
    """The tenants, unless already there with the same number of subscriptions."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        built = False
        for shape in shapes:
            present = await _in_tenant(
                conn, shape.id, "select count(*) from subscriptions where tenant_id = $1"
            )
            if present == shape.subscriptions:
                continue
            if present:
                raise SystemExit(
                    f"{shape.id} holds {present} subscriptions, not {shape.subscriptions}:"
                    " drop the benchmark's database (or pick its size again) and rerun"
                )
            started = time.perf_counter()
            await conn.execute(
                "insert into accounts (id, name) values ($1, $2) on conflict do nothing",
                shape.id,
                f"Billing run {shape.id}",
            )
            uow = SqlUnitOfWork.owning(engine, shape.id)
            await create_billable_metric(uow, MetricDraft(METRIC, "API calls", Aggregation.COUNT))
            for draft in _plan_drafts():
                await create_plan(uow, draft)
            async with conn.transaction():
                await conn.execute("select set_config('app.tenant_id', $1, true)", shape.id)
                for statement, arguments in zip(BUILD, _build_arguments(shape), strict=True):
                    await conn.execute(statement, *arguments)
            built = True
            print(
                f"built {shape.id}: {shape.subscriptions} subscriptions in "
                f"{time.perf_counter() - started:.1f} s"
            )
        if built:
            await conn.execute("vacuum analyze")
    finally:
        await conn.close()


async def _in_tenant(conn: asyncpg.Connection, tenant_id: str, sql: str) -> Any:
    async with conn.transaction():
        await conn.execute("select set_config('app.tenant_id', $1, true)", tenant_id)
        return await conn.fetchval(sql, tenant_id)


async def reset(admin_dsn: str, shapes: list[TenantShape]) -> None:
    """Every subscription due again, as before the first run: the run's invoices, lines and
    events deleted (the triggers that keep finalized invoices are off in this transaction
    only) and the invoice numbers started again."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        for shape in shapes:
            async with conn.transaction():
                await conn.execute("select set_config('app.tenant_id', $1, true)", shape.id)
                await conn.execute("alter table invoices disable trigger user")
                await conn.execute("alter table invoice_lines disable trigger user")
                for table in ("invoice_lines", "invoices", "events", "invoice_numbering"):
                    await conn.execute(f"delete from {table} where tenant_id = $1", shape.id)
                # The deferred foreign keys' checks run now: a table with pending checks
                # cannot be altered.
                await conn.execute("set constraints all immediate")
                await conn.execute("alter table invoice_lines enable trigger user")
                await conn.execute("alter table invoices enable trigger user")
                await conn.execute(
                    """
                    update subscriptions
                    set status = 'ACTIVE', current_period_start = $2, current_period_end = $3,
                        ended_at = NULL, updated_at = $2
                    where tenant_id = $1
                    """,
                    shape.id,
                    PERIOD_START,
                    DUE,
                )
        for table in ("subscriptions", "invoices", "invoice_lines", "events"):
            await conn.execute(f"vacuum analyze {table}")
    finally:
        await conn.close()


CHECK = """
SELECT count(*) AS invoices,
       count(DISTINCT subscription_id) AS subscriptions_billed,
       coalesce(min(sequence), 0) AS first_number,
       coalesce(max(sequence), 0) AS last_number,
       count(DISTINCT sequence) AS distinct_numbers,
       count(*) FILTER (WHERE period_start <> $2) AS other_periods,
       (SELECT count(*) FROM subscriptions
        WHERE tenant_id = $1 AND current_period_start = $2) AS subscriptions_advanced,
       (SELECT count(*) FROM invoice_lines WHERE tenant_id = $1) AS lines,
       coalesce(sum(total), 0) AS total_billed
FROM invoices WHERE tenant_id = $1
"""


async def check(admin_dsn: str, shape: TenantShape) -> dict[str, Any]:
    """What the run left in the tenant, and whether it is what a correct run leaves: every
    subscription billed once for its period, numbers 1..N without a gap, each advanced."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        async with conn.transaction():
            await conn.execute("select set_config('app.tenant_id', $1, true)", shape.id)
            row = dict(await conn.fetchrow(CHECK, shape.id, DUE))
    finally:
        await conn.close()
    n = shape.subscriptions
    problems = []
    if row["invoices"] != n:
        problems.append(f"{row['invoices']} invoices, not {n}")
    if row["subscriptions_billed"] != row["invoices"]:
        problems.append("a subscription was billed twice")
    if (row["first_number"], row["last_number"], row["distinct_numbers"]) != (1, n, n):
        problems.append(
            f"numbers {row['first_number']}..{row['last_number']}"
            f" ({row['distinct_numbers']} distinct), not 1..{n}"
        )
    if row["other_periods"]:
        problems.append(f"{row['other_periods']} invoices of another period")
    if row["subscriptions_advanced"] != n:
        problems.append(f"{row['subscriptions_advanced']} subscriptions advanced, not {n}")
    row["total_billed"] = int(row["total_billed"])
    row["problems"] = problems
    return row
