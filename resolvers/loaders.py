"""Per-request DataLoaders, keyed by tenant-scoped ids: one SQL statement per batch.

Created in the request context, never at module level, so nothing is cached across
requests or tenants.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from aiodataloader import DataLoader

from auth.principal import Principal
from auth.scopes import readable_event_types
from domain.errors import DomainError
from domain.events import EVENT_TYPES, Event
from domain.ids import KINDS
from domain.metrics import BillableMetric
from domain.plans import PlanPrice
from domain.ports import ReadModel
from domain.pricing import MeteredUsage, Percentage, PriceBreakdown, price_usage

RECENT_EVENTS_LIMIT = 5


class ByIdLoader(DataLoader):  # type: ignore[type-arg]
    """Objects of one kind by id: one statement per batch, answers in key order with None
    for an id not found."""

    def __init__(self, by_ids: Callable[[list[str]], Awaitable[Sequence[object | None]]]) -> None:
        super().__init__()
        self._by_ids = by_ids

    async def batch_load_fn(self, ids: list[str]) -> list[object | None]:
        return list(await self._by_ids(ids))


class RecentEventsByObjectLoader(DataLoader):  # type: ignore[type-arg]
    def __init__(self, reads: ReadModel, types: list[str]) -> None:
        super().__init__()
        self._reads = reads
        self._types = types

    async def batch_load_fn(self, object_ids: list[str]) -> list[list[Event]]:
        return await self._reads.recent_events_by_objects(
            object_ids, RECENT_EVENTS_LIMIT, self._types
        )


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


@dataclass(frozen=True, slots=True)
class UsageCharge:
    metric: BillableMetric
    quantity: Decimal
    event_count: int
    breakdown: PriceBreakdown


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
                if any(isinstance(price.model, Percentage) for _, price, _, _ in asking)
                else {}
            )
            for key in asking:
                customer_id, price = key[0], key[1]
                quantity, count = quantities.get(customer_id, (Decimal(0), 0))
                usage = MeteredUsage(quantity, tuple(value_counts.get(customer_id, ())))
                try:
                    breakdown = price_usage(price.model, usage)
                except DomainError as error:
                    # this customer's field fails alone, not the whole list's
                    charges[key] = error
                    continue
                charges[key] = UsageCharge(metric, quantity, count, breakdown)
        return [charges.get(key) for key in keys]


class Loaders:
    def __init__(self, reads: ReadModel, principal: Principal) -> None:
        self._reads = reads
        self._by_id: dict[str, ByIdLoader] = {}
        self.account_by_id = ByIdLoader(reads.accounts_by_ids)
        self.usage_by_customer = UsageByCustomerLoader(reads)
        self.usage_charge = UsageChargeLoader(reads)
        self.recent_events_by_object = RecentEventsByObjectLoader(
            reads, readable_event_types(EVENT_TYPES, principal.scopes)
        )

    def by_id(self, prefix: str) -> ByIdLoader:
        """The loader of the node kind with that id prefix (`cus`, `plan`...), made on
        first use from the kind's reader in the node registry."""
        loader = self._by_id.get(prefix)
        if loader is None:
            by_ids = KINDS[prefix].by_ids
            if by_ids is None:
                raise LookupError(f"{prefix!r} ids are not nodes")
            reads = self._reads
            loader = self._by_id[prefix] = ByIdLoader(lambda ids: by_ids(reads, ids))
        return loader
