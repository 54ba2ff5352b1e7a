"""Subscriptions: lists, links, the upcoming invoice and the mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from aiodataloader import DataLoader

from domain.customers import Customer
from domain.errors import DomainError
from domain.invoices import Invoice
from domain.plans import Plan
from domain.ports import SubscriptionReads
from domain.queries import SortDirection, SubscriptionFilter
from domain.services import subscriptions as services
from domain.subscriptions import Subscription, SubscriptionDraft
from resolvers.errors import Outcome, done, refused
from resolvers.nodes import load_by_id
from resolvers.pagination import Page, build_page, encode_cursor, page_request

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.customers import Customer as CustomerType
    from schema.subscriptions import (
        CancelSubscriptionInput,
        ChangeSubscriptionPlanInput,
        CreateSubscriptionInput,
        ReactivateSubscriptionInput,
        SubscriptionFilterInput,
        SubscriptionOrder,
    )
    from schema.subscriptions import Subscription as SubscriptionType
else:
    CancelSubscriptionInput = strawberry.LazyType("CancelSubscriptionInput", "schema.subscriptions")
    ChangeSubscriptionPlanInput = strawberry.LazyType(
        "ChangeSubscriptionPlanInput", "schema.subscriptions"
    )
    CreateSubscriptionInput = strawberry.LazyType("CreateSubscriptionInput", "schema.subscriptions")
    ReactivateSubscriptionInput = strawberry.LazyType(
        "ReactivateSubscriptionInput", "schema.subscriptions"
    )
    SubscriptionFilterInput = strawberry.LazyType("SubscriptionFilterInput", "schema.subscriptions")
    SubscriptionOrder = strawberry.LazyType("SubscriptionOrder", "schema.subscriptions")


class SubscriptionsByCustomerLoader(DataLoader):  # type: ignore[type-arg]
    """Each customer's subscriptions, newest first: one statement per batch."""

    def __init__(self, reads: SubscriptionReads) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, customer_ids: list[str]) -> list[list[Subscription]]:
        return await self._reads.by_customers(customer_ids)


def _filter(where: SubscriptionFilterInput | None) -> SubscriptionFilter:
    if where is None:
        return SubscriptionFilter()
    return SubscriptionFilter(
        statuses=[status.value for status in where.status or ()],
        customer_id=None if where.customer_id is None else str(where.customer_id),
        plan_id=None if where.plan_id is None else str(where.plan_id),
    )


async def subscriptions(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: SubscriptionFilterInput | None = None,
    order_by: SubscriptionOrder | None = None,
) -> Page[Subscription]:
    descending = (order_by.direction if order_by else SortDirection.DESC) == SortDirection.DESC
    page = page_request(
        first=first, after=after, last=last, before=before, sort="created_at", is_datetime=True
    )
    where = _filter(filter)
    reads = info.context.reads
    rows = await reads.subscriptions.page(where, descending, page)
    loader = info.context.loaders.by_id("sub")
    for row in rows:
        loader.prime(row.id, row)
    return build_page(
        rows,
        page,
        cursor_of=lambda s: encode_cursor("created_at", s.created_at, s.id),
        count_total=lambda: reads.subscriptions.count(where),
    )


async def subscription(info: strawberry.Info[Context], id: strawberry.ID) -> Subscription | None:
    found: Subscription | None = await load_by_id(info, "sub", str(id))
    return found


async def customer_subscriptions(
    root: CustomerType, info: strawberry.Info[Context]
) -> list[Subscription]:
    found: list[Subscription] = await info.context.loaders.subscriptions_by_customer.load(
        str(root.id)
    )
    return found


async def subscription_customer(
    root: SubscriptionType, info: strawberry.Info[Context]
) -> Customer | None:
    found: Customer | None = await info.context.loaders.by_id("cus").load(root.customer_id)
    return found


async def subscription_plan(root: SubscriptionType, info: strawberry.Info[Context]) -> Plan | None:
    found: Plan | None = await info.context.loaders.by_id("plan").load(root.plan_id)
    return found


async def upcoming_invoice(
    root: SubscriptionType, info: strawberry.Info[Context]
) -> Invoice | None:
    # The preview runs in a unit of work that is never committed: nothing is written. Its
    # savepoint shares the request's connection, so sibling previews take turns.
    async with info.context.unit_of_work_turn:
        return await services.upcoming_invoice(
            info.context.uow(), str(root.id), info.context.clock.now()
        )


def _remember(info: strawberry.Info[Context], subscription: Subscription) -> None:
    info.context.loaders.by_id("sub").clear(subscription.id).prime(subscription.id, subscription)


async def create_subscription(
    info: strawberry.Info[Context], input: CreateSubscriptionInput
) -> Outcome[tuple[Subscription, Invoice | None]]:
    draft = SubscriptionDraft(
        customer_id=str(input.customer_id),
        plan_id=str(input.plan_id),
        quantity=input.quantity,
        start=input.start_date,
        trial_end=input.trial_end,
        trial_days=input.trial_days,
        billing_cycle_anchor=input.billing_cycle_anchor,
        coupon_id=None if input.coupon_id is None else str(input.coupon_id),
        collection_method=input.collection_method,
    )
    try:
        created = await services.create_subscription(
            info.context.uow(), draft, info.context.clock.now()
        )
    except DomainError as error:
        return refused(error)
    _remember(info, created[0])
    return done(created)


async def cancel_subscription(
    info: strawberry.Info[Context], input: CancelSubscriptionInput
) -> Outcome[tuple[Subscription, Invoice | None]]:
    try:
        canceled = await services.cancel_subscription(
            info.context.uow(),
            str(input.id),
            info.context.clock.now(),
            at_period_end=input.at_period_end,
            prorate=input.prorate,
        )
    except DomainError as error:
        return refused(error)
    _remember(info, canceled[0])
    return done(canceled)


async def reactivate_subscription(
    info: strawberry.Info[Context], input: ReactivateSubscriptionInput
) -> Outcome[tuple[Subscription, Invoice | None]]:
    try:
        resumed = await services.reactivate_subscription(
            info.context.uow(), str(input.id), info.context.clock.now()
        )
    except DomainError as error:
        return refused(error)
    _remember(info, resumed)
    return done((resumed, None))


async def change_subscription_plan(
    info: strawberry.Info[Context], input: ChangeSubscriptionPlanInput
) -> Outcome[tuple[Subscription, Invoice | None]]:
    try:
        changed = await services.change_subscription_plan(
            info.context.uow(),
            str(input.id),
            str(input.plan_id),
            input.quantity,
            info.context.clock.now(),
            prorate=input.prorate,
        )
    except DomainError as error:
        return refused(error)
    _remember(info, changed[0])
    return done(changed)
