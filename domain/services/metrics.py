"""Creating billable metrics."""

from __future__ import annotations

from domain.ids import new_id
from domain.metrics import BillableMetric, MetricDraft, validate_metric
from domain.ports import UnitOfWork


async def create_billable_metric(uow: UnitOfWork, draft: MetricDraft) -> BillableMetric:
    clean = validate_metric(draft)
    async with uow:
        metric = await uow.metrics.add(new_id("bm"), clean)
        await uow.commit()
    return metric
