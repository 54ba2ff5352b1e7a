"""`node` and `nodes`: any object by its prefixed id, within the caller's tenant."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import strawberry

from auth.scopes import may_read, readable_event_types
from domain.customers import Customer
from domain.events import Event
from domain.ids import PREFIXES, prefix_of
from domain.metrics import BillableMetric
from domain.plans import Plan, PlanPrice
from resolvers.errors import bad_user_input

if TYPE_CHECKING:
    from resolvers.context import Context

# What `node` answers: the domain object, which the schema builds into its API type.
DomainNode = Customer | Event | BillableMetric | Plan | PlanPrice


async def load_node(info: strawberry.Info[Context], node_id: str) -> DomainNode | None:
    """The object, or None when unknown, foreign, or not readable with this token."""
    prefix = prefix_of(node_id)
    context = info.context
    scopes = context.principal.scopes
    if prefix == "cus" and may_read(PREFIXES[prefix], scopes):
        customer: Customer | None = await context.loaders.customer_by_id.load(node_id)
        return customer
    if prefix == "bm" and may_read(PREFIXES[prefix], scopes):
        metric: BillableMetric | None = await context.loaders.metric_by_id.load(node_id)
        return metric
    if prefix == "plan" and may_read(PREFIXES[prefix], scopes):
        plan: Plan | None = await context.loaders.plan_by_id.load(node_id)
        return plan
    if prefix == "price" and may_read(PREFIXES[prefix], scopes):
        price: PlanPrice | None = await context.loaders.price_by_id.load(node_id)
        return price
    if prefix == "evt":
        event: Event | None = await context.loaders.event_by_id.load(node_id)
        if event is None or not readable_event_types((event.type,), scopes):
            return None
        return event
    return None


async def node(info: strawberry.Info[Context], id: strawberry.ID) -> DomainNode | None:
    return await load_node(info, str(id))


async def nodes(
    info: strawberry.Info[Context], ids: list[strawberry.ID]
) -> list[DomainNode | None]:
    if len(ids) > 100:
        raise bad_user_input("At most 100 ids at once.")
    return await asyncio.gather(*(load_node(info, str(node_id)) for node_id in ids))
