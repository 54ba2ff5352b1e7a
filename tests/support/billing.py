"""Builds billing fixtures through the services users call (a customer, metrics, plans,
subscriptions), for tests of subscriptions, invoices and the billing run."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.customers import Address, CustomerDraft
from domain.metrics import Aggregation, MetricDraft
from domain.money import Money
from domain.plans import BillingMode, Interval, Plan, PlanDraft, PriceDraft
from domain.pricing import FlatFee, PerUnit
from domain.services.customers import create_customer
from domain.services.metrics import create_billable_metric
from domain.services.plans import create_plan
from domain.services.subscriptions import create_subscription
from domain.subscriptions import Subscription, SubscriptionDraft
from infra.uow import SqlUnitOfWork


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


class Billing:
    """One tenant's billing, driven through the services."""

    def __init__(self, engine: AsyncEngine, tenant_id: str) -> None:
        self.engine = engine
        self.tenant_id = tenant_id

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork.owning(self.engine, self.tenant_id)  # type: ignore[return-value]

    async def customer(self, currency: str = "USD", country: str | None = None) -> str:
        draft = CustomerDraft(
            name="Acme",
            currency=currency,
            address=None if country is None else Address(country=country),
        )
        return (await create_customer(self.uow(), draft)).id

    async def metric(self, code: str = "api.calls") -> str:
        draft = MetricDraft(code, code, Aggregation.COUNT)
        return (await create_billable_metric(self.uow(), draft)).code

    async def plan(
        self,
        *,
        code: str = "pro",
        interval: Interval = Interval.MONTH,
        seat: Money | None = Money(1_000, "USD"),
        flat: Money | None = None,
        per_call: Decimal | None = None,
        metric_code: str = "api.calls",
        trial_days: int = 0,
    ) -> Plan:
        prices = []
        if seat is not None:
            prices.append(PriceDraft(PerUnit(seat.amount, seat.currency)))
        if flat is not None:
            prices.append(PriceDraft(FlatFee(flat)))
        if per_call is not None:
            currency = (seat or flat or Money(0, "USD")).currency
            prices.append(PriceDraft(PerUnit(per_call, currency), BillingMode.METERED, metric_code))
        draft = PlanDraft(
            code=code,
            name=code.title(),
            interval=interval,
            prices=tuple(prices),
            trial_days=trial_days,
        )
        return await create_plan(self.uow(), draft)

    async def subscribe(
        self, customer_id: str, plan_id: str, start: datetime, now: datetime, **options: object
    ) -> Subscription:
        draft = SubscriptionDraft(customer_id, plan_id, start=start, **options)  # type: ignore[arg-type]
        subscription, _ = await create_subscription(self.uow(), draft, now)
        return subscription


async def trialing_until(
    billing: Billing, customer_id: str, plan_id: str, start: datetime, trial_end: datetime
) -> Subscription:
    """A subscription made through the service, free until `trial_end` (no invoice yet):
    its first invoice is the renewal at `trial_end`."""
    return await billing.subscribe(customer_id, plan_id, start, now=start, trial_end=trial_end)


async def copy_subscription(admin_dsn: str, tenant_id: str, template_id: str, copies: int) -> None:
    """`copies` more subscriptions exactly like `template_id` (customer, plan, prices,
    periods, trial), as `create_subscription` would have made them one by one: thousands of
    service calls would take minutes, one INSERT takes a second. Their ids are the
    template's own followed by a number's md5, within the id alphabet."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        async with conn.transaction():
            await conn.execute("select set_config('app.tenant_id', $1, true)", tenant_id)
            await conn.execute(
                """
                CREATE TEMPORARY TABLE copied ON COMMIT DROP AS
                SELECT 'sub_' || substr(md5($1 || ':' || g), 1, 22) AS id
                FROM generate_series(1, $2::integer) AS g
                """,
                template_id,
                copies,
            )
            await conn.execute(
                """
                INSERT INTO subscriptions (tenant_id, id, customer_id, plan_id, status,
                    currency, quantity, start_at, billing_cycle_anchor, trial_end,
                    current_period_start, current_period_end, cancel_at_period_end,
                    created_at, updated_at)
                SELECT s.tenant_id, c.id, s.customer_id, s.plan_id, s.status, s.currency,
                       s.quantity, s.start_at, s.billing_cycle_anchor, s.trial_end,
                       s.current_period_start, s.current_period_end, s.cancel_at_period_end,
                       s.created_at, s.updated_at
                FROM subscriptions AS s, copied AS c
                WHERE s.tenant_id = $1 AND s.id = $2
                """,
                tenant_id,
                template_id,
            )
            await conn.execute(
                """
                INSERT INTO subscription_items (tenant_id, subscription_id, price_id)
                SELECT i.tenant_id, c.id, i.price_id
                FROM subscription_items AS i, copied AS c
                WHERE i.tenant_id = $1 AND i.subscription_id = $2
                """,
                tenant_id,
                template_id,
            )
    finally:
        await conn.close()


async def billed_state(admin_dsn: str, tenant_id: str) -> dict[str, int]:
    """The tenant's invoices and subscriptions as the database owner sees them."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        row = await conn.fetchrow(
            """
            SELECT count(*) AS invoices,
                   count(DISTINCT subscription_id) AS subscriptions_billed,
                   count(DISTINCT sequence) AS numbers,
                   coalesce(min(sequence), 0) AS first_number,
                   coalesce(max(sequence), 0) AS last_number,
                   (SELECT count(*) FROM subscriptions WHERE tenant_id = $1) AS subscriptions
            FROM invoices WHERE tenant_id = $1
            """,
            tenant_id,
        )
        return dict(row)
    finally:
        await conn.close()


async def invoice_count(admin_dsn: str, tenant_id: str) -> int:
    conn = await asyncpg.connect(admin_dsn)
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM invoices WHERE tenant_id = $1", tenant_id)
        )
    finally:
        await conn.close()
