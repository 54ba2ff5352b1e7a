"""Per-request DataLoaders, keyed by tenant-scoped ids: one SQL statement per batch.

Created in the request context, never at module level, so nothing is cached across
requests or tenants.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from aiodataloader import DataLoader

from auth.principal import Principal
from auth.scopes import readable_event_types
from domain.accounts import Account
from domain.customers import Customer
from domain.errors import DomainError
from domain.events import EVENT_TYPES, Event
from domain.metrics import BillableMetric
from domain.plans import Plan, PlanPrice
from domain.ports import ReadModel
from domain.pricing import charges_each_transaction
from domain.usage_charges import UsageCharge, charge_usage

RECENT_EVENTS_LIMIT = 5


class CustomerByIdLoader(DataLoader):  # type: ignore[type-arg]
    def __init__(self, reads: ReadModel) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, ids: list[str]) -> list[Customer | None]:
        return await self._reads.customers_by_ids(ids)


class EventByIdLoader(DataLoader):  # type: ignore[type-arg]
    def __init__(self, reads: ReadModel) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, ids: list[str]) -> list[Event | None]:
        return await self._reads.events_by_ids(ids)


class RecentEventsByObjectLoader(DataLoader):  # type: ignore[type-arg]
    def __init__(self, reads: ReadModel, types: list[str]) -> None:
        super().__init__()
        self._reads = reads
        self._types = types

    async def batch_load_fn(self, object_ids: list[str]) -> list[list[Event]]:
        return await self._reads.recent_events_by_objects(
            object_ids, RECENT_EVENTS_LIMIT, self._types
        )


class AccountByIdLoader(DataLoader):  # type: ignore[type-arg]
    def __init__(self, reads: ReadModel) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, ids: list[str]) -> list[Account | None]:
        return await self._reads.accounts_by_ids(ids)


class MetricByIdLoader(DataLoader):  # type: ignore[type-arg]
    def __init__(self, reads: ReadModel) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, ids: list[str]) -> list[BillableMetric | None]:
        return await self._reads.metrics_by_ids(ids)


UsageKey = tuple[str, str, datetime, datetime]  # customer id, metric code, from, to


class UsageByCustomerLoader(DataLoader):  # type: ignore[type-arg]
    """A customer's usage of a metric in a window; customers asking the same metric and
    window share one statement (a dashboard's list asks the same of every row)."""

    def __init__(self, reads: ReadModel) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(
        self, keys: list[UsageKey]
    ) -> list[tuple[BillableMetric, Decimal, int] | None]:
        metrics = await self._reads.metrics_by_codes({code for _, code, _, _ in keys})
        windows: dict[tuple[str, datetime, datetime], list[str]] = {}
        for customer_id, code, start, end in keys:
            windows.setdefault((code, start, end), []).append(customer_id)
        found: dict[UsageKey, tuple[Decimal, int]] = {}
        for (code, start, end), customer_ids in windows.items():
            if code in metrics:
                usage = await self._reads.usage_by_customers(
                    customer_ids, metrics[code], start, end
                )
                for customer_id, measured in usage.items():
                    found[(customer_id, code, start, end)] = measured
        answers: list[tuple[BillableMetric, Decimal, int] | None] = []
        for key in keys:
            metric = metrics.get(key[1])
            quantity, count = found.get(key, (Decimal(0), 0))
            answers.append(None if metric is None else (metric, quantity, count))
        return answers


ChargeKey = tuple[str, PlanPrice, datetime, datetime]  # customer id, metered price, from, to


class UsageChargeLoader(DataLoader):  # type: ignore[type-arg]
    """What a customer's usage in a window costs under a metered price. Customers asking
    the same metric and window share the statements (two when a price charges per
    transaction), so a dashboard's list costs the same for 5 rows and 50."""

    def __init__(self, reads: ReadModel) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, keys: list[ChargeKey]) -> list[UsageCharge | DomainError | None]:
        metrics = await self._reads.metrics_by_codes({p.metric_code or "" for _, p, _, _ in keys})
        windows: dict[tuple[str, datetime, datetime], list[ChargeKey]] = {}
        for key in keys:
            _, price, start, end = key
            if price.metric_code in metrics:
                windows.setdefault((price.metric_code, start, end), []).append(key)
        charges: dict[ChargeKey, UsageCharge | DomainError] = {}
        for (code, start, end), asking in windows.items():
            metric = metrics[code]
            customer_ids = sorted({customer_id for customer_id, _, _, _ in asking})
            quantities = await self._reads.usage_by_customers(customer_ids, metric, start, end)
            value_counts = (
                await self._reads.value_counts_by_customers(customer_ids, metric, start, end)
                if any(charges_each_transaction(price.model) for _, price, _, _ in asking)
                else {}
            )
            for key in asking:
                customer_id, price = key[0], key[1]
                quantity, count = quantities.get(customer_id, (Decimal(0), 0))
                try:
                    charges[key] = charge_usage(
                        price, metric, quantity, count, value_counts.get(customer_id, ())
                    )
                except DomainError as error:
                    # this customer's field fails alone, not the whole list's
                    charges[key] = error
        return [charges.get(key) for key in keys]


class PlanByIdLoader(DataLoader):  # type: ignore[type-arg]
    def __init__(self, reads: ReadModel) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, ids: list[str]) -> list[Plan | None]:
        return await self._reads.plans_by_ids(ids)


class PriceByIdLoader(DataLoader):  # type: ignore[type-arg]
    def __init__(self, reads: ReadModel) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, ids: list[str]) -> list[PlanPrice | None]:
        return await self._reads.prices_by_ids(ids)


class Loaders:
    def __init__(self, reads: ReadModel, principal: Principal) -> None:
        self.customer_by_id = CustomerByIdLoader(reads)
        self.event_by_id = EventByIdLoader(reads)
        self.account_by_id = AccountByIdLoader(reads)
        self.metric_by_id = MetricByIdLoader(reads)
        self.usage_by_customer = UsageByCustomerLoader(reads)
        self.usage_charge = UsageChargeLoader(reads)
        self.plan_by_id = PlanByIdLoader(reads)
        self.price_by_id = PriceByIdLoader(reads)
        self.recent_events_by_object = RecentEventsByObjectLoader(
            reads, readable_event_types(EVENT_TYPES, principal.scopes)
        )
