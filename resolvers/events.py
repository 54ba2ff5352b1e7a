"""The events list and an event's subject."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from aiodataloader import DataLoader

from auth.scopes import readable_event_types
from domain import events as model
from domain import queries
from domain.ports import EventReads
from domain.queries import SortDirection
from resolvers.nodes import DomainNode, load_node
from resolvers.pagination import Page, build_page, encode_cursor, page_request

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.events import Event, EventFilter, EventOrder
else:
    # The schema's types its arguments take, by name: the schema imports resolvers, not
    # the reverse.
    EventFilter = strawberry.LazyType("EventFilter", "schema.events")
    EventOrder = strawberry.LazyType("EventOrder", "schema.events")


RECENT_EVENTS_LIMIT = 5


class RecentEventsByObjectLoader(DataLoader):  # type: ignore[type-arg]
    """The newest events about each object, of the types the caller may read."""

    def __init__(self, events: EventReads, types: list[str]) -> None:
        super().__init__()
        self._events = events
        self._types = types

    async def batch_load_fn(self, object_ids: list[str]) -> list[list[model.Event]]:
        return await self._events.recent_by_objects(object_ids, RECENT_EVENTS_LIMIT, self._types)


async def events(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: EventFilter | None = None,
    order_by: EventOrder | None = None,
) -> Page[model.Event]:
    descending = (order_by.direction if order_by else SortDirection.DESC) == SortDirection.DESC
    page = page_request(
        first=first,
        after=after,
        last=last,
        before=before,
        sort="position",
        is_datetime=False,
        parse=model.EventPosition.parse,
    )
    # Only the event types whose objects this token may read.
    readable = readable_event_types(model.EVENT_TYPES, info.context.principal.scopes)
    asked = set(filter.types) if filter and filter.types else None
    where = queries.EventFilter(
        types=[t for t in readable if asked is None or t in asked],
        object_id=str(filter.object_id) if filter and filter.object_id else None,
        created_after=filter.created_after if filter else None,
        created_before=filter.created_before if filter else None,
    )
    reads = info.context.reads
    rows = await reads.events.page(where, descending, page) if where.types else []
    return build_page(
        rows,
        page,
        cursor_of=lambda e: encode_cursor("position", str(e.position), e.id),
        count_total=(lambda: reads.events.count(where)) if where.types else _zero,
    )


async def _zero() -> int:
    return 0


async def subject(root: Event, info: strawberry.Info[Context]) -> DomainNode | None:
    return await load_node(info, str(root.object_id))
