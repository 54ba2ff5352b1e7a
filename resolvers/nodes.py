"""`node` and `nodes`: any object by its prefixed id, within the caller's tenant."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import strawberry

from auth.scopes import may_read, readable_event_types
from domain.ids import PREFIXES, prefix_of

if TYPE_CHECKING:
    from resolvers.context import Context


async def load_node(info: strawberry.Info[Context], node_id: str) -> Any:
    """The object, or None when unknown, foreign, or not readable with this token."""
    from schema.types import BillableMetric, Customer, Event, Plan, Price

    prefix = prefix_of(node_id)
    context = info.context
    scopes = context.principal.scopes
    if prefix == "cus" and may_read(PREFIXES[prefix], scopes):
        found = await context.loaders.customer_by_id.load(node_id)
        return Customer.from_domain(found) if found else None
    if prefix == "bm" and may_read(PREFIXES[prefix], scopes):
        metric = await context.loaders.metric_by_id.load(node_id)
        return BillableMetric.from_domain(metric) if metric else None
    if prefix == "plan" and may_read(PREFIXES[prefix], scopes):
        plan = await context.loaders.plan_by_id.load(node_id)
        return Plan.from_domain(plan) if plan else None
    if prefix == "price" and may_read(PREFIXES[prefix], scopes):
        price = await context.loaders.price_by_id.load(node_id)
        return Price.from_domain(price) if price else None
    if prefix == "evt":
        event = await context.loaders.event_by_id.load(node_id)
        if event is None or not readable_event_types((event.type,), scopes):
            return None
        return Event.from_domain(event)
    return None


async def node(info: strawberry.Info[Context], id: strawberry.ID) -> Any:
    return await load_node(info, str(id))


async def nodes(info: strawberry.Info[Context], ids: list[strawberry.ID]) -> Any:
    from resolvers.errors import bad_user_input

    if len(ids) > 100:
        raise bad_user_input("At most 100 ids at once.")
    return await asyncio.gather(*(load_node(info, str(node_id)) for node_id in ids))
