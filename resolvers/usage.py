"""Billable metrics and usage: creating metrics, recording events, reading usage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from aiodataloader import DataLoader

from domain.errors import DomainError
from domain.metrics import BillableMetric, MetricDraft
from domain.plans import PlanPrice
from domain.ports import Reads
from domain.pricing import charges_each_transaction
from domain.queries import SortDirection
from domain.services.metrics import create_billable_metric as create_metric
from domain.services.usage import record_usage as record
from domain.usage import UsageBatchResult, UsageEventIn
from domain.usage_charges import UsageCharge, charge_usage, check_currency, check_metered
from resolvers.errors import Outcome, bad_user_input, done, refused
from resolvers.nodes import load_by_id
from resolvers.pagination import Page, build_page, encode_cursor, page_request

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.customers import Customer
    from schema.usage import (
        BillableMetricFilter,
        BillableMetricOrder,
        CreateBillableMetricInput,
        RecordUsageInput,
    )
else:
    # The schema's types its arguments take, by name: the schema imports resolvers, not
    # the reverse.
    BillableMetricFilter = strawberry.LazyType("BillableMetricFilter", "schema.usage")
    BillableMetricOrder = strawberry.LazyType("BillableMetricOrder", "schema.usage")
    CreateBillableMetricInput = strawberry.LazyType("CreateBillableMetricInput", "schema.usage")
    RecordUsageInput = strawberry.LazyType("RecordUsageInput", "schema.usage")


UsageKey = tuple[str, str, datetime, datetime]  # customer id, metric code, from, to


class UsageByCustomerLoader(DataLoader):  # type: ignore[type-arg]
    """A customer's usage of a metric in a window; customers asking the same metric and
    window share one statement (a dashboard's list asks the same of every row)."""

    def __init__(self, reads: Reads) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(
        self, keys: list[UsageKey]
    ) -> list[tuple[BillableMetric, Decimal, int] | None]:
        metrics = await self._reads.metrics.by_codes({code for _, code, _, _ in keys})
        windows: dict[tuple[str, datetime, datetime], list[str]] = {}
        for customer_id, code, start, end in keys:
            windows.setdefault((code, start, end), []).append(customer_id)
        found: dict[UsageKey, tuple[Decimal, int]] = {}
        for (code, start, end), customer_ids in windows.items():
            if code in metrics:
                usage = await self._reads.usage.by_customers(
                    customer_ids, metrics[code], start, end
                )
                for customer_id, measured in usage.items():
                    found[(customer_id, code, start, end)] = measured
        answers: list[tuple[BillableMetric, Decimal, int] | None] = []
        for key in keys:
            metric = metrics.get(key[1])
            quantity, count = found.get(key, (Decimal(0), 0))
            answers.append(None if metric is None else (metric, quantity, count))
        return answers


ChargeKey = tuple[str, PlanPrice, datetime, datetime]  # customer id, metered price, from, to


class UsageChargeLoader(DataLoader):  # type: ignore[type-arg]
    """What a customer's usage in a window costs under a metered price. Customers asking
    the same metric and window share the statements (two when a price charges per
    transaction), so a dashboard's list costs the same for 5 rows and 50."""

    def __init__(self, reads: Reads) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, keys: list[ChargeKey]) -> list[UsageCharge | DomainError | None]:
        metrics = await self._reads.metrics.by_codes({p.metric_code or "" for _, p, _, _ in keys})
        windows: dict[tuple[str, datetime, datetime], list[ChargeKey]] = {}
        for key in keys:
            _, price, start, end = key
            if price.metric_code in metrics:
                windows.setdefault((price.metric_code, start, end), []).append(key)
        charges: dict[ChargeKey, UsageCharge | DomainError] = {}
        for (code, start, end), asking in windows.items():
            metric = metrics[code]
            customer_ids = sorted({customer_id for customer_id, _, _, _ in asking})
            quantities = await self._reads.usage.by_customers(customer_ids, metric, start, end)
            value_counts = (
                await self._reads.usage.value_counts_by_customers(customer_ids, metric, start, end)
                if any(charges_each_transaction(price.model) for _, price, _, _ in asking)
                else {}
            )
            for key in asking:
                customer_id, price = key[0], key[1]
                quantity, count = quantities.get(customer_id, (Decimal(0), 0))
                try:
                    charges[key] = charge_usage(
                        price, metric, quantity, count, value_counts.get(customer_id, ())
                    )
                except DomainError as error:
                    # this customer's field fails alone, not the whole list's
                    charges[key] = error
        return [charges.get(key) for key in keys]


@dataclass(frozen=True, slots=True)
class MeasuredUsage:
    """A customer's usage of a metric in [start, end)."""

    metric: BillableMetric
    quantity: Decimal
    event_count: int
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class ChargedUsage:
    """What a customer's usage in [start, end) costs under a metered price."""

    price: PlanPrice
    charge: UsageCharge
    start: datetime
    end: datetime


async def billable_metrics(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: BillableMetricFilter | None = None,
    order_by: BillableMetricOrder | None = None,
) -> Page[BillableMetric]:
    descending = (order_by.direction if order_by else SortDirection.DESC) == SortDirection.DESC
    page = page_request(
        first=first, after=after, last=last, before=before, sort="created_at", is_datetime=True
    )
    codes = filter.codes if filter and filter.codes else None
    # A GraphQL string escape (\u0000) passes the request screening as plain text.
    if codes and any("\x00" in code for code in codes):
        raise bad_user_input("`codes` cannot contain NUL characters.")
    reads = info.context.reads
    rows = await reads.metrics.page(codes, descending, page)
    return build_page(
        rows,
        page,
        cursor_of=lambda m: encode_cursor("created_at", m.created_at, m.id),
        count_total=lambda: reads.metrics.count(codes),
    )


async def customer_usage(
    root: Customer,
    info: strawberry.Info[Context],
    metric_code: str,
    start: Annotated[datetime, strawberry.argument(name="from")],
    end: Annotated[datetime, strawberry.argument(name="to")],
) -> MeasuredUsage | None:
    if end <= start:
        raise bad_user_input("`to` must be after `from`.")
    found = await info.context.loaders.usage_by_customer.load(
        (str(root.id), metric_code, start, end)
    )
    if found is None:
        return None
    metric, quantity, event_count = found
    return MeasuredUsage(metric, quantity, event_count, start, end)


async def customer_usage_charge(
    root: Customer,
    info: strawberry.Info[Context],
    price_id: strawberry.ID,
    start: Annotated[datetime, strawberry.argument(name="from")],
    end: Annotated[datetime, strawberry.argument(name="to")],
) -> ChargedUsage | None:
    if end <= start:
        raise bad_user_input("`to` must be after `from`.")
    price: PlanPrice | None = await load_by_id(info, "price", str(price_id))
    if price is None:
        return None
    try:
        check_metered(price)
        check_currency(price, str(root.currency))
        charge: UsageCharge | None = await info.context.loaders.usage_charge.load(
            (str(root.id), price, start, end)
        )
    except DomainError as error:
        raise bad_user_input("; ".join(e.message for e in error.errors)) from None
    if charge is None:
        return None
    return ChargedUsage(price, charge, start, end)


async def create_billable_metric(
    info: strawberry.Info[Context],
    input: CreateBillableMetricInput,
) -> Outcome[BillableMetric]:
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
        return refused(error)
    return done(metric)


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


async def record_usage(
    info: strawberry.Info[Context], input: RecordUsageInput
) -> Outcome[UsageBatchResult]:
    """`input` arrives as a list of UsageEventIn (see usage_batch_from_input)."""
    events: list[UsageEventIn] = input  # type: ignore[assignment]
    try:
        result = await record(info.context.uow(), events, info.context.clock.now())
    except DomainError as error:
        return refused(error)
    return done(result)
