"""Recording usage: a batch keeps its valid events and reports the others by index."""

from __future__ import annotations

from datetime import datetime

from domain.errors import DomainError, ErrorCode, FieldError
from domain.ports import UnitOfWork
from domain.usage import (
    MAX_EVENTS_PER_BATCH,
    UsageBatchResult,
    UsageEvent,
    UsageEventIn,
    UsageRejection,
    measure,
    screen,
)


async def record_usage(
    uow: UnitOfWork, events: list[UsageEventIn], now: datetime
) -> UsageBatchResult:
    if not 1 <= len(events) <= MAX_EVENTS_PER_BATCH:
        raise DomainError(
            [
                FieldError(
                    ErrorCode.TOO_MANY if events else ErrorCode.REQUIRED,
                    ("input", "events"),
                    f"Send 1 to {MAX_EVENTS_PER_BATCH} events per call.",
                )
            ]
        )
    rejected: list[UsageRejection] = []
    screened = []
    for event in events:
        error = screen(event, now)
        if error is None:
            screened.append(event)
        else:
            rejected.append(UsageRejection(event.index, error))
    async with uow:
        # Two statements resolve the whole batch's customers and metrics.
        customers = await uow.usage.customer_ids(
            {e.customer_id for e in screened if e.customer_id},
            {e.external_customer_id for e in screened if e.external_customer_id},
        )
        metrics = await uow.metrics.by_codes({e.metric_code for e in screened})
        valid: list[UsageEvent] = []
        for event in screened:
            customer_id = (
                customers.by_id.get(event.customer_id)
                if event.customer_id
                else customers.by_external_id.get(event.external_customer_id or "")
            )
            if customer_id is None:
                field = "customerId" if event.customer_id else "externalCustomerId"
                rejected.append(
                    UsageRejection(
                        event.index,
                        FieldError(
                            ErrorCode.NOT_FOUND,
                            ("input", "events", str(event.index), field),
                            "Customer not found.",
                        ),
                    )
                )
                continue
            metric = metrics.get(event.metric_code)
            if metric is None:
                rejected.append(
                    UsageRejection(
                        event.index,
                        FieldError(
                            ErrorCode.NOT_FOUND,
                            ("input", "events", str(event.index), "metricCode"),
                            "Billable metric not found.",
                        ),
                    )
                )
                continue
            value = measure(event, metric)
            if isinstance(value, FieldError):
                rejected.append(UsageRejection(event.index, value))
                continue
            valid.append(
                UsageEvent(
                    position=event.index,
                    idempotency_key=event.idempotency_key,
                    customer_id=customer_id,
                    metric_code=metric.code,
                    timestamp=event.timestamp,
                    properties=event.properties,
                    value=value,
                )
            )
        inserted = await uow.usage.add_new(valid) if valid else 0
        await uow.commit()
    rejected.sort(key=lambda rejection: rejection.index)
    return UsageBatchResult(accepted=inserted, duplicates=len(valid) - inserted, rejected=rejected)
