"""Per-request DataLoaders, keyed by tenant-scoped ids: one SQL statement per batch.

Created in the request context, never at module level, so nothing is cached across
requests or tenants.
"""

from __future__ import annotations

from aiodataloader import DataLoader

from auth.principal import Principal
from auth.scopes import readable_event_types
from domain.customers import Customer
from domain.events import EVENT_TYPES, Event
from infra.db import TenantConnection
from infra.repositories.customers import customers_by_ids
from infra.repositories.events import events_by_ids, recent_events_by_objects

RECENT_EVENTS_LIMIT = 5


class CustomerByIdLoader(DataLoader):  # type: ignore[type-arg]
    def __init__(self, db: TenantConnection) -> None:
        super().__init__()
        self._db = db

    async def batch_load_fn(self, ids: list[str]) -> list[Customer | None]:
        return await customers_by_ids(self._db, ids)


class EventByIdLoader(DataLoader):  # type: ignore[type-arg]
    def __init__(self, db: TenantConnection) -> None:
        super().__init__()
        self._db = db

    async def batch_load_fn(self, ids: list[str]) -> list[Event | None]:
        return await events_by_ids(self._db, ids)


class RecentEventsByObjectLoader(DataLoader):  # type: ignore[type-arg]
    def __init__(self, db: TenantConnection, types: list[str]) -> None:
        super().__init__()
        self._db = db
        self._types = types

    async def batch_load_fn(self, object_ids: list[str]) -> list[list[Event]]:
        return await recent_events_by_objects(
            self._db, object_ids, RECENT_EVENTS_LIMIT, self._types
        )


class Loaders:
    def __init__(self, db: TenantConnection, principal: Principal) -> None:
        self.customer_by_id = CustomerByIdLoader(db)
        self.event_by_id = EventByIdLoader(db)
        self.recent_events_by_object = RecentEventsByObjectLoader(
            db, readable_event_types(EVENT_TYPES, principal.scopes)
        )
