"""The events outbox: written in the transaction of the change it records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select

from domain.events import Event
from domain.ids import new_id
from domain.queries import EventFilter, PageRequest
from infra.bulk import insert_rows
from infra.db import TenantConnection
from infra.pagination import paginate
from infra.tables import events


def event_from_row(row: Any) -> Event:
    return Event(
        id=row.id, type=row.type, object_id=row.object_id, data=row.data, created_at=row.created_at
    )


class SqlEventRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def add(self, event_type: str, object_id: str, data: dict[str, Any]) -> Event:
        statement = (
            insert(events)
            .values(
                tenant_id=self._db.tenant_id,
                id=new_id("evt"),
                type=event_type,
                object_id=object_id,
                data=data,
            )
            .returning(*events.c)
        )
        return event_from_row((await self._db.execute(statement)).one())

    async def add_many(self, items: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        await insert_rows(
            self._db,
            events,
            [
                {"id": new_id("evt"), "type": event_type, "object_id": object_id, "data": data}
                for event_type, object_id, data in items
            ],
        )


def _filtered(db: TenantConnection, where: EventFilter, columns: Any) -> Any:
    statement = select(columns).where(events.c.tenant_id == db.tenant_id)
    if where.types:
        statement = statement.where(events.c.type.in_(list(where.types)))
    if where.object_id is not None:
        statement = statement.where(events.c.object_id == where.object_id)
    if where.created_after is not None:
        statement = statement.where(events.c.created_at >= where.created_after)
    if where.created_before is not None:
        statement = statement.where(events.c.created_at < where.created_before)
    return statement


class SqlEventReads:
    """The read path's events (domain.ports.EventReads), in the request's tenant."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[Event | None]:
        statement = select(events).where(
            events.c.tenant_id == self._db.tenant_id, events.c.id.in_(list(ids))
        )
        found = {row.id: event_from_row(row) for row in await self._db.execute(statement)}
        return [found.get(event_id) for event_id in ids]

    async def page(self, where: EventFilter, descending: bool, page: PageRequest) -> list[Event]:
        statement = paginate(
            _filtered(self._db, where, events),
            events.c.created_at,
            events.c.id,
            descending=descending,
            page=page,
        )
        return [event_from_row(row) for row in await self._db.execute(statement)]

    async def count(self, where: EventFilter) -> int:
        statement = _filtered(self._db, where, func.count())
        return int((await self._db.execute(statement)).scalar_one())

    async def recent_by_objects(
        self, object_ids: Sequence[str], limit: int, types: Sequence[str]
    ) -> list[list[Event]]:
        """The newest `limit` events of each object, in one statement, answered in key order."""
        ranked = (
            select(
                events,
                func.row_number()
                .over(
                    partition_by=events.c.object_id,
                    order_by=(events.c.created_at.desc(), events.c.id.desc()),
                )
                .label("position"),
            )
            .where(
                events.c.tenant_id == self._db.tenant_id,
                events.c.object_id.in_(list(object_ids)),
                events.c.type.in_(list(types)),
            )
            .subquery()
        )
        statement = (
            select(ranked)
            .where(ranked.c.position <= limit)
            .order_by(ranked.c.object_id, ranked.c.position)
        )
        grouped: dict[str, list[Event]] = {object_id: [] for object_id in object_ids}
        for row in await self._db.execute(statement):
            grouped[row.object_id].append(event_from_row(row))
        return [grouped[object_id] for object_id in object_ids]
