"""The SQL read model: the reads resolvers and loaders make, bound to one tenant transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from domain.accounts import Account
from domain.customers import Customer
from domain.events import Event
from domain.metrics import BillableMetric
from domain.plans import Plan, PlanPrice
from domain.queries import CustomerFilter, CustomerSort, EventFilter, PageRequest
from infra.db import TenantConnection
from infra.repositories import accounts, customers, events, metrics, plans, usage
from infra.repositories.metrics import SqlMetricRepository


class SqlReadModel:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def accounts_by_ids(self, ids: Sequence[str]) -> list[Account | None]:
        return await accounts.accounts_by_ids(self._db, list(ids))

    async def customers_by_ids(self, ids: Sequence[str]) -> list[Customer | None]:
        return await customers.customers_by_ids(self._db, ids)

    async def page_of_customers(
        self, where: CustomerFilter, sort: CustomerSort, descending: bool, page: PageRequest
    ) -> list[Customer]:
        return await customers.page_of_customers(self._db, where, sort, descending, page)

    async def count_customers(self, where: CustomerFilter) -> int:
        return await customers.count_customers(self._db, where)

    async def events_by_ids(self, ids: Sequence[str]) -> list[Event | None]:
        return await events.events_by_ids(self._db, ids)

    async def page_of_events(
        self, where: EventFilter, descending: bool, page: PageRequest
    ) -> list[Event]:
        return await events.page_of_events(self._db, where, descending, page)

    async def count_events(self, where: EventFilter) -> int:
        return await events.count_events(self._db, where)

    async def recent_events_by_objects(
        self, object_ids: Sequence[str], limit: int, types: Sequence[str]
    ) -> list[list[Event]]:
        return await events.recent_events_by_objects(self._db, object_ids, limit, types)

    async def metrics_by_ids(self, ids: Sequence[str]) -> list[BillableMetric | None]:
        return await metrics.metrics_by_ids(self._db, ids)

    async def metrics_by_codes(self, codes: set[str]) -> dict[str, BillableMetric]:
        return await SqlMetricRepository(self._db).by_codes(codes)

    async def page_of_metrics(
        self, codes: Sequence[str] | None, descending: bool, page: PageRequest
    ) -> list[BillableMetric]:
        return await metrics.page_of_metrics(self._db, codes, descending, page)

    async def count_metrics(self, codes: Sequence[str] | None) -> int:
        return await metrics.count_metrics(self._db, codes)

    async def usage_by_customers(
        self, customer_ids: Sequence[str], metric: BillableMetric, start: datetime, end: datetime
    ) -> dict[str, tuple[Decimal, int]]:
        return await usage.usage_by_customers(self._db, customer_ids, metric, start, end)

    async def value_counts_by_customers(
        self, customer_ids: Sequence[str], metric: BillableMetric, start: datetime, end: datetime
    ) -> dict[str, list[tuple[Decimal, int]]]:
        return await usage.value_counts_by_customers(self._db, customer_ids, metric, start, end)

    async def plans_by_ids(self, ids: Sequence[str]) -> list[Plan | None]:
        return await plans.plans_by_ids(self._db, ids)

    async def page_of_plans(
        self, archived: bool | None, descending: bool, page: PageRequest
    ) -> list[Plan]:
        return await plans.page_of_plans(self._db, archived, descending, page)

    async def count_plans(self, archived: bool | None) -> int:
        return await plans.count_plans(self._db, archived)

    async def prices_by_ids(self, ids: Sequence[str]) -> list[PlanPrice | None]:
        return await plans.prices_by_ids(self._db, ids)
