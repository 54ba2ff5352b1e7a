"""Relay cursor connections, shared by every list, and the sort direction of lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from domain import queries
from resolvers.pagination import Page

# The domain's enum class itself, registered as a GraphQL enum (see schema/errors.py).
strawberry.enum(
    queries.SortDirection, name="SortDirection", description="Sort direction of a list."
)
SortDirection = queries.SortDirection


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow `endCursor`.")
    has_previous_page: bool = strawberry.field(description="More items precede `startCursor`.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge: pass it as `after` for the next page."
    )


T = TypeVar("T")


@strawberry.type(description="One item of a list, with the cursor that points at it.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position of this item in the list.")
    node: T = strawberry.field(description="The item.")


async def _count_total(root: Any) -> int:
    # A coroutine function, not a lambda handing back an awaitable: the planned path's
    # walker tells from that alone that the field waits.
    return int(await root.count_total())


@strawberry.type(description="A page of a list (Relay cursor connection).")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages exist.")
    total_count: int = strawberry.field(
        resolver=_count_total,
        description="Items matching the filter across all pages (counted only when asked).",
    )
    count_total: strawberry.Private[object]

    @classmethod
    def from_page(cls, page: Page[Any], node_from_domain: Callable[[Any], T]) -> Connection[T]:
        edges = [Edge(cursor=cursor, node=node_from_domain(item)) for cursor, item in page.items]
        page_info = PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        )
        return cls(edges=edges, page_info=page_info, count_total=page.count_total)


def connection_of(node_from_domain: Callable[[Any], T]) -> Callable[[Page[Any]], Connection[T]]:
    """Builds a list field's connection from the page its resolver answers."""
    return lambda page: Connection.from_page(page, node_from_domain)
