"""The events outbox: written in the transaction of the change it records, read by position.

An event's position is (xid, seq): its writing transaction, then the order of writing
(migration 0011 says why). The events list only returns `committed()` events, those no
open transaction can still write before, so a cursor never passes an event that commits
later; a webhook dispatcher reading the outbox by position uses the same condition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, func, insert, literal, select, tuple_
from sqlalchemy.sql import ColumnElement

from domain.events import Event, EventPosition
from domain.ids import new_id
from domain.queries import EventFilter, Keyset, PageRequest
from infra.bulk import insert_rows
from infra.db import TenantConnection
from infra.tables import events


def event_from_row(row: Any) -> Event:
    return Event(
        id=row.id,
        type=row.type,
        object_id=row.object_id,
        data=row.data,
        created_at=row.created_at,
        position=EventPosition(row.xid, row.seq),
    )


def committed() -> ColumnElement[bool]:
    """Events written by transactions older than the oldest one still running when the
    statement started: all of them have ended, and every event still to commit stands
    after them. Leakproof (xid8 `<` over a value of no column), so it is an index condition
    under row-level security."""
    return events.c.xid < func.pg_snapshot_xmin(func.pg_current_snapshot())


def _position() -> ColumnElement[Any]:
    return tuple_(events.c.xid, events.c.seq)


def _beyond(key: Keyset, *, forward: bool) -> ColumnElement[bool]:
    position: EventPosition = key.value
    mark = tuple_(
        literal(position.transaction, events.c.xid.type),
        literal(position.sequence, events.c.seq.type),
    )
    return _position() > mark if forward else _position() < mark


def _in_position_order(
    statement: Select[Any], *, descending: bool, page: PageRequest
) -> Select[Any]:
    """The keyset window of infra.pagination over the position (its cursors carry an
    EventPosition): seek conditions, order and one more row than asked."""
    conditions = []
    if page.after is not None:
        conditions.append(_beyond(page.after, forward=not descending))
    if page.before is not None:
        conditions.append(_beyond(page.before, forward=descending))
    if conditions:
        statement = statement.where(and_(*conditions))
    if descending == page.backwards:
        order = (events.c.xid.asc(), events.c.seq.asc())
    else:
        order = (events.c.xid.desc(), events.c.seq.desc())
    return statement.order_by(*order).limit(page.limit + 1)


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
        """Writes `items` in one statement; their positions follow their order here."""
        await insert_rows(
            self._db,
            events,
            [
                {"id": new_id("evt"), "type": event_type, "object_id": object_id, "data": data}
                for event_type, object_id, data in items
            ],
            in_order=True,
        )


def _filtered(db: TenantConnection, where: EventFilter, columns: Any) -> Any:
    statement = select(columns).where(events.c.tenant_id == db.tenant_id, committed())
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
        """A window of the committed events in position order (newest first when
        `descending`); the page's cursors carry EventPosition values."""
        statement = _in_position_order(
            _filtered(self._db, where, events), descending=descending, page=page
        )
        return [event_from_row(row) for row in await self._db.execute(statement)]

    async def count(self, where: EventFilter) -> int:
        statement = _filtered(self._db, where, func.count())
        return int((await self._db.execute(statement)).scalar_one())

    async def recent_by_objects(
        self, object_ids: Sequence[str], limit: int, types: Sequence[str]
    ) -> list[list[Event]]:
        """The newest `limit` events of each object by position, in one statement, answered
        in key order. Not held back to `committed()`: this is no cursor a later commit could
        slip behind, and a mutation's payload shows the event it has just written."""
        ranked = (
            select(
                events,
                func.row_number()
                .over(
                    partition_by=events.c.object_id,
                    order_by=(events.c.xid.desc(), events.c.seq.desc()),
                )
                .label("recency"),
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
            .where(ranked.c.recency <= limit)
            .order_by(ranked.c.object_id, ranked.c.recency)
        )
        grouped: dict[str, list[Event]] = {object_id: [] for object_id in object_ids}
        for row in await self._db.execute(statement):
            grouped[row.object_id].append(event_from_row(row))
        return [grouped[object_id] for object_id in object_ids]
