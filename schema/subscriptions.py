"""Subscriptions: a customer on a plan, billed period after period. Types, inputs, enums."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

import domain.subscriptions as subscriptions_domain
from auth.scopes import CATALOG_READ, CUSTOMERS_READ, INVOICES_READ, requires
from domain.invoices import Invoice as DomainInvoice
from resolvers import invoices as invoice_resolvers
from resolvers import subscriptions as subscription_resolvers
from resolvers.errors import Outcome
from schema.connections import SortDirection
from schema.errors import UserError, user_errors_from
from schema.fields import each, returning
from schema.invoices import Invoice, invoice_or_none
from schema.nodes import Node, node_from_domain
from schema.scalars import CurrencyCode

if TYPE_CHECKING:
    from schema.customers import Customer
    from schema.plans import Plan

strawberry.enum(
    subscriptions_domain.CollectionMethod,
    name="CollectionMethod",
    description="CHARGE_AUTOMATICALLY: the worker charges the customer's default payment "
    "method when an invoice is finalized, retrying failures (dunning). SEND_INVOICE: the "
    "customer pays by other means (`payInvoice`).",
)
CollectionMethod = subscriptions_domain.CollectionMethod

strawberry.enum(
    subscriptions_domain.SubscriptionStatus,
    name="SubscriptionStatus",
    description="TRIALING (free until `trialEnd`), ACTIVE, PAST_DUE (an invoice failed to be "
    "paid), CANCELED (ended: nothing more is billed).",
)
SubscriptionStatus = subscriptions_domain.SubscriptionStatus

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]
PlanRef = Annotated["Plan", strawberry.lazy("schema.plans")]


@strawberry.type(description="A customer on a plan, billed every period of the plan.")
class Subscription(Node):
    status: SubscriptionStatus = strawberry.field(description="Where it is in its life.")
    customer_id: strawberry.ID = strawberry.field(description="The customer (`cus_…`).")
    plan_id: strawberry.ID = strawberry.field(description="The plan (`plan_…`).")
    price_ids: list[strawberry.ID] = strawberry.field(
        description="The plan's prices it is billed on: those in the customer's currency."
    )
    currency: CurrencyCode = strawberry.field(description="The customer's currency.")
    quantity: int = strawberry.field(description="Units of each licensed price (seats).")
    collection_method: CollectionMethod = strawberry.field(description="How its invoices are paid.")
    start_date: datetime = strawberry.field(description="When it started.")
    billing_cycle_anchor: datetime = strawberry.field(
        description="Periods start at this instant plus whole intervals (UTC; the day of the "
        "month is kept, or the month's last day)."
    )
    trial_end: datetime | None = strawberry.field(description="When the free trial ends.")
    current_period_start: datetime = strawberry.field(description="The period being billed.")
    current_period_end: datetime = strawberry.field(
        description="Its end: the next renewal bills its usage and the next period."
    )
    cancel_at_period_end: bool = strawberry.field(
        description="Ends at `currentPeriodEnd`; `reactivateSubscription` undoes it until then."
    )
    canceled_at: datetime | None = strawberry.field(description="When cancellation was asked.")
    ended_at: datetime | None = strawberry.field(description="When it ended.")
    created_at: datetime = strawberry.field(description="When it was created.")
    customer: CustomerRef | None = strawberry.field(
        resolver=returning(node_from_domain, subscription_resolvers.subscription_customer),
        description="The customer.",
        permission_classes=[requires(CUSTOMERS_READ)],
    )
    plan: PlanRef | None = strawberry.field(
        resolver=returning(node_from_domain, subscription_resolvers.subscription_plan),
        description="The plan.",
        permission_classes=[requires(CATALOG_READ)],
    )
    invoices: list[Invoice] = strawberry.field(
        resolver=returning(each(Invoice.from_domain), invoice_resolvers.subscription_invoices),
        description="Its newest invoices, newest first (`first`: 1 to 100, default 10).",
        permission_classes=[requires(INVOICES_READ)],
    )
    upcoming_invoice: Invoice | None = strawberry.field(
        resolver=returning(Invoice.from_domain, subscription_resolvers.upcoming_invoice),
        description="The invoice the next renewal would make, with the usage so far; nothing "
        "is written. Null once canceled.",
        permission_classes=[requires(INVOICES_READ)],
    )

    @classmethod
    def from_domain(cls, subscription: subscriptions_domain.Subscription) -> Subscription:
        return cls(
            id=strawberry.ID(subscription.id),
            status=subscription.status,
            customer_id=strawberry.ID(subscription.customer_id),
            plan_id=strawberry.ID(subscription.plan_id),
            price_ids=[strawberry.ID(p) for p in subscription.price_ids],
            currency=CurrencyCode(subscription.currency),
            quantity=subscription.quantity,
            collection_method=subscription.collection_method,
            start_date=subscription.start,
            billing_cycle_anchor=subscription.billing_cycle_anchor,
            trial_end=subscription.trial_end,
            current_period_start=subscription.current_period_start,
            current_period_end=subscription.current_period_end,
            cancel_at_period_end=subscription.cancel_at_period_end,
            canceled_at=subscription.canceled_at,
            ended_at=subscription.ended_at,
            created_at=subscription.created_at,
        )


@strawberry.type(description="Result of a subscription mutation.")
class SubscriptionPayload:
    subscription: Subscription | None = strawberry.field(
        description="The subscription; null on errors."
    )
    invoice: Invoice | None = strawberry.field(
        description="The invoice the change made (the first period, a proration, the usage "
        "at cancellation), if any."
    )
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(
        cls,
        outcome: Outcome[tuple[subscriptions_domain.Subscription, DomainInvoice | None]],
    ) -> SubscriptionPayload:
        subscription, invoice = outcome.value if outcome.value is not None else (None, None)
        return cls(
            subscription=None if subscription is None else Subscription.from_domain(subscription),
            invoice=invoice_or_none(invoice),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.input(description="Subscribes a customer to a plan.")
class CreateSubscriptionInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer (`cus_…`).")
    plan_id: strawberry.ID = strawberry.field(
        description="The plan (`plan_…`); it needs a price in the customer's currency."
    )
    quantity: int = strawberry.field(default=1, description="Units of each licensed price.")
    start_date: datetime | None = strawberry.field(
        default=None, description="Now (default) or up to a year back."
    )
    trial_end: datetime | None = strawberry.field(default=None, description="End of a trial.")
    trial_days: int | None = strawberry.field(
        default=None, description="A trial of so many days (default: the plan's)."
    )
    billing_cycle_anchor: datetime | None = strawberry.field(
        default=None,
        description="When periods start (default: the trial's end or the start); a first "
        "period up to it is charged in proportion.",
    )
    coupon_id: strawberry.ID | None = strawberry.field(
        default=None, description="A coupon (`cpn_…`) to redeem on the subscription."
    )
    collection_method: CollectionMethod = strawberry.field(
        default=CollectionMethod.CHARGE_AUTOMATICALLY,
        description="How its invoices are paid (default: charged automatically).",
    )


@strawberry.input(description="Cancels a subscription, now or at the end of its period.")
class CancelSubscriptionInput:
    id: strawberry.ID = strawberry.field(description="The subscription (`sub_…`).")
    at_period_end: bool = strawberry.field(
        default=True, description="true (default): at the end of the period, undoable."
    )
    prorate: bool = strawberry.field(
        default=False, description="Canceling now: credit the unused time of the period."
    )


@strawberry.input(description="Undoes a cancellation at period end.")
class ReactivateSubscriptionInput:
    id: strawberry.ID = strawberry.field(description="The subscription (`sub_…`).")


@strawberry.input(description="Moves a subscription to another plan or quantity, now.")
class ChangeSubscriptionPlanInput:
    id: strawberry.ID = strawberry.field(description="The subscription (`sub_…`).")
    plan_id: strawberry.ID = strawberry.field(
        description="The new plan (the same one to change only the quantity)."
    )
    quantity: int | None = strawberry.field(default=None, description="A new quantity.")
    prorate: bool = strawberry.field(
        default=True,
        description="true (default): invoice a credit for the unused time on the old price "
        "and a charge for the rest of the period on the new one.",
    )


@strawberry.input(description="Narrows the subscriptions list.")
class SubscriptionFilterInput:
    status: list[SubscriptionStatus] | None = strawberry.field(
        default=None, description="Any of these statuses."
    )
    customer_id: strawberry.ID | None = strawberry.field(default=None, description="One customer.")
    plan_id: strawberry.ID | None = strawberry.field(default=None, description="One plan.")


@strawberry.input(description="Sort order of the subscriptions list (by creation time).")
class SubscriptionOrder:
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="DESC lists the newest first."
    )
