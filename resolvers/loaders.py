"""Per-request DataLoaders, keyed by tenant-scoped ids: one SQL statement per batch.

Created in the request context, never at module level, so nothing is cached across
requests or tenants.
"""

from __future__ import annotations

from aiodataloader import DataLoader

from auth.principal import Principal
from auth.scopes import readable_event_types
from domain.accounts import Account
from domain.customers import Customer
from domain.events import EVENT_TYPES, Event
from domain.ports import ReadModel

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


class Loaders:
    def __init__(self, reads: ReadModel, principal: Principal) -> None:
        self.customer_by_id = CustomerByIdLoader(reads)
        self.event_by_id = EventByIdLoader(reads)
        self.account_by_id = AccountByIdLoader(reads)
        self.recent_events_by_object = RecentEventsByObjectLoader(
            reads, readable_event_types(EVENT_TYPES, principal.scopes)
        )
