"""`node` and `nodes`: any object by its prefixed id, within the caller's tenant, through
the node registry (`domain.ids.KINDS`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import strawberry

from auth.scopes import readable_event_types
from domain.balances import BalanceTransaction
from domain.coupons import Coupon, Discount
from domain.credit_notes import CreditNote
from domain.customers import Customer
from domain.events import Event
from domain.ids import kind_of, prefix_of
from domain.invoices import Invoice
from domain.metrics import BillableMetric
from domain.payment_methods import PaymentMethod
from domain.plans import Plan, PlanPrice
from domain.subscriptions import Subscription
from domain.taxes import TaxRate
from domain.webhook_deliveries import WebhookDelivery
from domain.webhooks import WebhookEndpoint
from resolvers.errors import bad_user_input

if TYPE_CHECKING:
    from resolvers.context import Context

# What `node` answers: the domain object, which the schema builds into its API type.
DomainNode = (
    Customer
    | Event
    | BillableMetric
    | Plan
    | PlanPrice
    | Coupon
    | Discount
    | TaxRate
    | Subscription
    | Invoice
    | PaymentMethod
    | WebhookEndpoint
    | CreditNote
    | BalanceTransaction
    | WebhookDelivery
)


async def load_node(info: strawberry.Info[Context], node_id: str) -> DomainNode | None:
    """The object, or None when unknown, foreign, or not readable with this token."""
    kind = kind_of(node_id)
    if kind is None or kind.by_ids is None:
        return None
    scopes = info.context.principal.scopes
    if kind.read_scope is not None and kind.read_scope not in scopes:
        return None  # refused before any SQL
    found: DomainNode | None = await info.context.loaders.by_id(kind.prefix).load(node_id)
    if isinstance(found, Event) and not readable_event_types((found.type,), scopes):
        return None  # an event is read with the scope of the object it is about
    return found


async def load_by_id(info: strawberry.Info[Context], prefix: str, identifier: str) -> Any:
    """The object of the kind `prefix` names with that id, or None (an id of another kind
    too). The field asking declares the scope it needs."""
    if prefix_of(identifier) != prefix:
        return None
    return await info.context.loaders.by_id(prefix).load(identifier)


async def node(info: strawberry.Info[Context], id: strawberry.ID) -> DomainNode | None:
    return await load_node(info, str(id))


async def nodes(
    info: strawberry.Info[Context], ids: list[strawberry.ID]
) -> list[DomainNode | None]:
    if len(ids) > 100:
        raise bad_user_input("At most 100 ids at once.")
    return await asyncio.gather(*(load_node(info, str(node_id)) for node_id in ids))
