"""Builds billing fixtures through the services users call (a customer, metrics, plans,
subscriptions), for tests of subscriptions, invoices and the billing run."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

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
