"""The events list and an event's subject."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import strawberry

from auth.scopes import readable_event_types
from domain.events import EVENT_TYPES
from domain.queries import EventFilter
from resolvers.nodes import load_node
from resolvers.pagination import build_connection, encode_cursor, page_request
from schema import inputs
from schema.enums import SortDirection

if TYPE_CHECKING:
    from resolvers.context import Context


async def events(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: inputs.EventFilter | None = None,
    order_by: inputs.EventOrder | None = None,
) -> Any:
    from schema.types import Event

    descending = (order_by.direction if order_by else SortDirection.DESC) == SortDirection.DESC
    page = page_request(
        first=first, after=after, last=last, before=before, sort="created_at", is_datetime=True
    )
    # Only the event types whose objects this token may read.
    readable = readable_event_types(EVENT_TYPES, info.context.principal.scopes)
    asked = set(filter.types) if filter and filter.types else None
    where = EventFilter(
        types=[t for t in readable if asked is None or t in asked],
        object_id=str(filter.object_id) if filter and filter.object_id else None,
        created_after=filter.created_after if filter else None,
        created_before=filter.created_before if filter else None,
    )
    reads = info.context.reads
    rows = await reads.page_of_events(where, descending, page) if where.types else []
    return build_connection(
        rows,
        page,
        cursor_of=lambda e: encode_cursor("created_at", e.created_at, e.id),
        to_node=Event.from_domain,
        count_total=(lambda: reads.count_events(where)) if where.types else _zero,
    )


async def _zero() -> int:
    return 0


async def subject(root: Any, info: strawberry.Info[Context]) -> Any:
    return await load_node(info, str(root.object_id))
