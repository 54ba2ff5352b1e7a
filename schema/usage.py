"""Billable metrics and usage: what is counted, and what a customer used and owes for it.
Types, inputs and enums of the concept."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.types import get_object_definition

import domain.metrics as metrics_domain
from domain.usage import UsageBatchResult, UsageRejection
from resolvers import usage as usage_resolvers
from resolvers.errors import Outcome
from resolvers.usage import ChargedUsage, MeasuredUsage
from schema.connections import SortDirection
from schema.errors import UserError, UserErrorCode, user_errors_from
from schema.nodes import Node
from schema.plans import Price, PriceBreakdown
from schema.scalars import JSON

# The domain's enum class itself, registered as a GraphQL enum (see schema/errors.py).
strawberry.enum(
    metrics_domain.Aggregation,
    name="Aggregation",
    description="How a period's usage events become one quantity.",
)
Aggregation = metrics_domain.Aggregation


@strawberry.type(description="What usage is counted for billing, and how it is aggregated.")
class BillableMetric(Node):
    code: str = strawberry.field(
        description="Unique in your account; usage events and metered prices name it."
    )
    name: str = strawberry.field(description="For people: shown on dashboards and invoices.")
    aggregation: Aggregation = strawberry.field(description="How events become a quantity.")
    property: str | None = strawberry.field(
        description="The event property aggregated (null for COUNT)."
    )
    filters: JSON = strawberry.field(
        description="Only events whose properties have one of these values count, "
        'e.g. `{"region": ["eu"]}`.'
    )
    created_at: datetime = strawberry.field(description="When the metric was created.")

    @classmethod
    def from_domain(cls, metric: metrics_domain.BillableMetric) -> BillableMetric:
        return cls(
            id=strawberry.ID(metric.id),
            code=metric.code,
            name=metric.name,
            aggregation=metric.aggregation,
            property=metric.property,
            filters=JSON(metric.filters),
            created_at=metric.created_at,
        )


@strawberry.type(description="A customer's usage of one metric over a time window.")
class Usage:
    metric: BillableMetric = strawberry.field(description="The metric measured.")
    quantity: Decimal = strawberry.field(
        description="The window's events aggregated as the metric says (0 with no events)."
    )
    event_count: int = strawberry.field(description="Events counted in the window.")
    start: datetime = strawberry.field(name="from", description="Start of the window, inclusive.")
    end: datetime = strawberry.field(name="to", description="End of the window, exclusive.")

    @classmethod
    def from_domain(cls, usage: MeasuredUsage) -> Usage:
        return cls(
            metric=BillableMetric.from_domain(usage.metric),
            quantity=usage.quantity,
            event_count=usage.event_count,
            start=usage.start,
            end=usage.end,
        )


@strawberry.type(
    description="What a customer's usage in [from, to) costs under a metered price, before "
    "discounts and taxes."
)
class UsageCharge:
    price: Price = strawberry.field(description="The metered price.")
    metric: BillableMetric = strawberry.field(description="The metric the price charges.")
    quantity: Decimal = strawberry.field(description="The window's usage, aggregated.")
    event_count: int = strawberry.field(description="Events counted in the window.")
    breakdown: PriceBreakdown = strawberry.field(
        description="The amount line by line. A PERCENTAGE price has at most three lines, "
        "however many transactions: those charged the rate, those held at the minimum, those "
        "held at the maximum (`count` transactions, `quantity` their volume); each fee is "
        "rounded once on its own transaction."
    )
    start: datetime = strawberry.field(name="from", description="Start of the window, inclusive.")
    end: datetime = strawberry.field(name="to", description="End of the window, exclusive.")

    @classmethod
    def from_domain(cls, charged: ChargedUsage) -> UsageCharge:
        return cls(
            price=Price.from_domain(charged.price),
            metric=BillableMetric.from_domain(charged.charge.metric),
            quantity=charged.charge.quantity,
            event_count=charged.charge.event_count,
            breakdown=PriceBreakdown.from_domain(charged.charge.breakdown),
            start=charged.start,
            end=charged.end,
        )


@strawberry.type(description="Result of `createBillableMetric`.")
class CreateBillableMetricPayload:
    billable_metric: BillableMetric | None = strawberry.field(
        description="The new metric; null on errors."
    )
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(
        cls, outcome: Outcome[metrics_domain.BillableMetric]
    ) -> CreateBillableMetricPayload:
        return cls(
            billable_metric=None
            if outcome.value is None
            else BillableMetric.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.type(description="An event of a `recordUsage` batch that was not recorded.")
class UsageEventError:
    index: int = strawberry.field(description="Position of the event in `input.events`.")
    code: UserErrorCode = strawberry.field(description="Machine-readable reason.")
    field: list[str] | None = strawberry.field(
        description='Path to the field at fault, e.g. `["input", "events", "3", "timestamp"]`.'
    )
    message: str = strawberry.field(description="Explanation for humans; may change.")

    @classmethod
    def from_domain(cls, rejection: UsageRejection) -> UsageEventError:
        return cls(
            index=rejection.index,
            code=rejection.error.code,
            field=list(rejection.error.field) if rejection.error.field else None,
            message=rejection.error.message,
        )


@strawberry.type(
    description="Result of `recordUsage`: valid events are kept even when others are not."
)
class RecordUsagePayload:
    accepted: int = strawberry.field(description="Events recorded by this call.")
    duplicates: int = strawberry.field(
        description="Valid events whose idempotency key was already recorded: counted once."
    )
    rejected: list[UsageEventError] = strawberry.field(
        description="Events not recorded, by index, with the reason."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Errors of the whole batch (such as more than 1,000 events): "
        "then nothing was recorded."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[UsageBatchResult]) -> RecordUsagePayload:
        result = outcome.value
        if result is None:
            return cls(
                accepted=0,
                duplicates=0,
                rejected=[],
                user_errors=user_errors_from(outcome.errors),
            )
        return cls(
            accepted=result.accepted,
            duplicates=result.duplicates,
            rejected=[UsageEventError.from_domain(rejection) for rejection in result.rejected],
            user_errors=[],
        )


@strawberry.input(description="A new billable metric.")
class CreateBillableMetricInput:
    code: str = strawberry.field(
        description="1 to 64 lowercase letters, digits, `_`, `.` or `-`; unique in your account."
    )
    name: str = strawberry.field(description="1 to 200 characters.")
    aggregation: Aggregation = strawberry.field(description="How events become a quantity.")
    property: str | None = strawberry.field(
        default=None, description="The event property aggregated; required except for COUNT."
    )
    filters: JSON | None = strawberry.field(
        default=None,
        description='Only events with these property values count, e.g. `{"region": ["eu"]}`.',
    )


@strawberry.input(description="One usage event. Name the customer by id or by external id.")
class UsageEventInput:
    idempotency_key: str = strawberry.field(
        description="Your unique id for this event: a replay of it is counted once."
    )
    metric_code: str = strawberry.field(description="The billable metric's code.")
    timestamp: datetime = strawberry.field(
        description="When it happened: at most 5 minutes ahead, at most 31 days back."
    )
    customer_id: strawberry.ID | None = strawberry.field(default=None, description="`cus_…`.")
    external_customer_id: str | None = strawberry.field(
        default=None, description="The customer's `externalId`."
    )
    properties: JSON | None = strawberry.field(
        default=None, description="Up to 50 string, number or boolean values."
    )


@strawberry.input(description="A batch of up to 1,000 usage events.")
class RecordUsageInput:
    events: list[UsageEventInput] = strawberry.field(description="1 to 1,000 events.")


# A usage batch is built by its resolver module from graphql-core's checked values.
get_object_definition(
    RecordUsageInput, strict=True
).from_input = usage_resolvers.usage_batch_from_input


@strawberry.input(description="Narrows the billable metrics list.")
class BillableMetricFilter:
    codes: list[str] | None = strawberry.field(default=None, description="Only these codes.")


@strawberry.input(description="Sort order of the billable metrics list (by creation time).")
class BillableMetricOrder:
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="DESC lists the newest first."
    )
