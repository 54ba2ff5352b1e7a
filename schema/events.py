"""Events: state changes, recorded in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.events import Event as DomainEvent
from resolvers import events as event_resolvers
from schema.connections import SortDirection
from schema.fields import returning
from schema.nodes import Node, node_from_domain
from schema.scalars import JSON


@strawberry.type(description="A state change, recorded in the same transaction as the change.")
class Event(Node):
    type: str = strawberry.field(description="`customer.created`, `customer.updated`, ...")
    object_id: strawberry.ID = strawberry.field(description="Id of the object that changed.")
    data: JSON = strawberry.field(description="The object as it was right after the change.")
    created_at: datetime = strawberry.field(
        description=(
            "When the change was written (the clock at insert). Lists are ordered by "
            "`position`, not by this time."
        )
    )
    position: str = strawberry.field(
        description=(
            "Where the event stands in the events list: it only grows, and an event appears "
            "in the list only once every event that could stand before it has committed, so "
            "polling `events(orderBy: {direction: ASC}, after: <last cursor>)` sees each "
            "event exactly once. Positions have a fixed width: compare them as strings."
        )
    )
    subject: Node | None = strawberry.field(
        resolver=returning(node_from_domain, event_resolvers.subject),
        description="The object that changed, as it is now (null if you may not read it).",
    )

    @classmethod
    def from_domain(cls, event: DomainEvent) -> Event:
        return cls(
            id=strawberry.ID(event.id),
            type=event.type,
            object_id=strawberry.ID(event.object_id),
            data=JSON(event.data),
            created_at=event.created_at,
            position=str(event.position),
        )


@strawberry.input(description="Narrows the events list.")
class EventFilter:
    types: list[str] | None = strawberry.field(
        default=None, description='Event types, e.g. `["customer.created"]`.'
    )
    object_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only events about this object."
    )
    created_after: datetime | None = strawberry.field(default=None, description="Inclusive.")
    created_before: datetime | None = strawberry.field(default=None, description="Exclusive.")


@strawberry.input(description="Sort order of the events list (by `position`).")
class EventOrder:
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC,
        description="DESC lists the newest first; ASC the oldest first, as a poller reads.",
    )
