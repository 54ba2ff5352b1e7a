"""Billable metrics and usage: creating metrics, recording events, reading usage."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from domain.errors import DomainError
from domain.ids import prefix_of
from domain.metrics import MetricDraft
from domain.plans import BillingMode
from domain.services.metrics import create_billable_metric as create_metric
from domain.services.usage import record_usage as record
from domain.usage import UsageEventIn
from resolvers.errors import bad_user_input, user_errors
from resolvers.pagination import build_connection, encode_cursor, page_request
from schema import inputs
from schema.enums import SortDirection

if TYPE_CHECKING:
    from resolvers.context import Context


async def billable_metrics(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: inputs.BillableMetricFilter | None = None,
    order_by: inputs.BillableMetricOrder | None = None,
) -> Any:
    from schema.types import BillableMetric

    descending = (order_by.direction if order_by else SortDirection.DESC) == SortDirection.DESC
    page = page_request(
        first=first, after=after, last=last, before=before, sort="created_at", is_datetime=True
    )
    codes = filter.codes if filter and filter.codes else None
    reads = info.context.reads
    rows = await reads.page_of_metrics(codes, descending, page)
    return build_connection(
        rows,
        page,
        cursor_of=lambda m: encode_cursor("created_at", m.created_at, m.id),
        to_node=BillableMetric.from_domain,
        count_total=lambda: reads.count_metrics(codes),
    )


async def customer_usage(
    root: Any,
    info: strawberry.Info[Context],
    metric_code: str,
    start: Annotated[datetime, strawberry.argument(name="from")],
    end: Annotated[datetime, strawberry.argument(name="to")],
) -> Any:
    from schema.types import BillableMetric, Usage

    if end <= start:
        raise bad_user_input("`to` must be after `from`.")
    found = await info.context.loaders.usage_by_customer.load(
        (str(root.id), metric_code, start, end)
    )
    if found is None:
        return None
    metric, quantity, event_count = found
    return Usage(
        metric=BillableMetric.from_domain(metric),
        quantity=quantity,
        event_count=event_count,
        start=start,
        end=end,
    )


async def customer_usage_charge(
    root: Any,
    info: strawberry.Info[Context],
    price_id: strawberry.ID,
    start: Annotated[datetime, strawberry.argument(name="from")],
    end: Annotated[datetime, strawberry.argument(name="to")],
) -> Any:
    from schema.types import BillableMetric, Price, PriceBreakdown, UsageCharge

    if end <= start:
        raise bad_user_input("`to` must be after `from`.")
    price = None
    if prefix_of(str(price_id)) == "price":
        price = await info.context.loaders.price_by_id.load(str(price_id))
    if price is None:
        return None
    if price.billing_mode is not BillingMode.METERED:
        raise bad_user_input("This price is licensed: its quantity is set, not metered.")
    try:
        charge = await info.context.loaders.usage_charge.load((str(root.id), price, start, end))
    except DomainError as error:
        raise bad_user_input("; ".join(e.message for e in error.errors)) from None
    if charge is None:
        return None
    return UsageCharge(
        price=Price.from_domain(price),
        metric=BillableMetric.from_domain(charge.metric),
        quantity=charge.quantity,
        event_count=charge.event_count,
        breakdown=PriceBreakdown.from_domain(charge.breakdown),
        start=start,
        end=end,
    )


async def create_billable_metric(
    info: strawberry.Info[Context], input: inputs.CreateBillableMetricInput
) -> Any:
    from schema.types import BillableMetric, CreateBillableMetricPayload

    draft = MetricDraft(
        code=input.code,
        name=input.name,
        aggregation=input.aggregation,
        property=input.property,
        filters=input.filters if input.filters is not None else {},  # type: ignore[arg-type]
    )
    try:
        metric = await create_metric(info.context.uow(), draft)
    except DomainError as error:
        return CreateBillableMetricPayload(billable_metric=None, user_errors=user_errors(error))
    return CreateBillableMetricPayload(
        billable_metric=BillableMetric.from_domain(metric), user_errors=[]
    )


def usage_batch_from_input(_type: type, value: Mapping[str, Any], _context: Any) -> Any:
    """Builds `RecordUsageInput` straight from the values graphql-core has already checked
    against the schema: strawberry's field-by-field conversion of a 1,000-event batch costs
    more than storing it."""
    return [
        UsageEventIn(
            index=index,
            idempotency_key=event["idempotencyKey"],
            metric_code=event["metricCode"],
            timestamp=event["timestamp"],
            properties={} if event.get("properties") is None else event["properties"],
            customer_id=event.get("customerId"),
            external_customer_id=event.get("externalCustomerId"),
        )
        for index, event in enumerate(value["events"])
    ]


async def record_usage(info: strawberry.Info[Context], input: inputs.RecordUsageInput) -> Any:
    """`input` arrives as a list of UsageEventIn (see usage_batch_from_input)."""
    from schema.types import RecordUsagePayload, UsageEventError

    events: list[UsageEventIn] = input  # type: ignore[assignment]
    try:
        result = await record(info.context.uow(), events, datetime.now(UTC))
    except DomainError as error:
        return RecordUsagePayload(
            accepted=0, duplicates=0, rejected=[], user_errors=user_errors(error)
        )
    return RecordUsagePayload(
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=[
            UsageEventError(
                index=r.index,
                code=r.error.code,
                field=list(r.error.field) if r.error.field else None,
                message=r.error.message,
            )
            for r in result.rejected
        ],
        user_errors=[],
    )
