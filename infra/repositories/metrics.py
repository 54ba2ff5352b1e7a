"""Billable metrics in PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Text, any_, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError

from domain.errors import DomainError, ErrorCode, FieldError
from domain.metrics import Aggregation, BillableMetric, MetricDraft
from domain.queries import PageRequest
from infra.db import TenantConnection
from infra.pagination import paginate
from infra.repositories.customers import UNIQUE_VIOLATION
from infra.tables import billable_metrics


def metric_from_row(row: Any) -> BillableMetric:
    """A metric from its row: a SQLAlchemy row, or the driver's record (planned reads)."""
    values = row._mapping if hasattr(row, "_mapping") else row
    return BillableMetric(
        id=values["id"],
        code=values["code"],
        name=values["name"],
        aggregation=Aggregation(values["aggregation"]),
        property=values["property"],
        filters=values["filters"],
        created_at=values["created_at"],
    )


# Active metrics by code, in the tenant: the repository's statement and the planned path's.
METRICS_BY_CODES = select(billable_metrics).where(
    billable_metrics.c.tenant_id == bindparam("tenant"),
    billable_metrics.c.code == any_(bindparam("codes", type_=ARRAY(Text))),
    billable_metrics.c.archived_at.is_(None),
)


class SqlMetricRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def add(self, metric_id: str, draft: MetricDraft) -> BillableMetric:
        statement = (
            insert(billable_metrics)
            .values(
                tenant_id=self._db.tenant_id,
                id=metric_id,
                code=draft.code,
                name=draft.name,
                aggregation=draft.aggregation.value,
                property=draft.property,
                filters=draft.filters,
            )
            .returning(*billable_metrics.c)
        )
        try:
            return metric_from_row((await self._db.execute(statement)).one())
        except IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) == UNIQUE_VIOLATION:
                raise DomainError(
                    [
                        FieldError(
                            ErrorCode.DUPLICATE,
                            ("input", "code"),
                            "Another billable metric has this code.",
                        )
                    ]
                ) from None
            raise

    async def by_codes(self, codes: set[str]) -> dict[str, BillableMetric]:
        if not codes:
            return {}
        rows = await self._db.execute(
            METRICS_BY_CODES, {"tenant": self._db.tenant_id, "codes": sorted(codes)}
        )
        return {row.code: metric_from_row(row) for row in rows}


def _filtered(db: TenantConnection, codes: Sequence[str] | None, columns: Any) -> Any:
    statement = select(columns).where(billable_metrics.c.tenant_id == db.tenant_id)
    if codes:
        statement = statement.where(billable_metrics.c.code.in_(list(codes)))
    return statement


class SqlMetricReads:
    """The read path's billable metrics (domain.ports.MetricReads), in the request's tenant."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[BillableMetric | None]:
        statement = select(billable_metrics).where(
            billable_metrics.c.tenant_id == self._db.tenant_id,
            billable_metrics.c.id.in_(list(ids)),
        )
        found = {row.id: metric_from_row(row) for row in await self._db.execute(statement)}
        return [found.get(metric_id) for metric_id in ids]

    async def by_codes(self, codes: set[str]) -> dict[str, BillableMetric]:
        return await SqlMetricRepository(self._db).by_codes(codes)

    async def page(
        self, codes: Sequence[str] | None, descending: bool, page: PageRequest
    ) -> list[BillableMetric]:
        statement = paginate(
            _filtered(self._db, codes, billable_metrics),
            billable_metrics.c.created_at,
            billable_metrics.c.id,
            descending=descending,
            page=page,
        )
        return [metric_from_row(row) for row in await self._db.execute(statement)]

    async def count(self, codes: Sequence[str] | None) -> int:
        statement = _filtered(self._db, codes, func.count())
        return int((await self._db.execute(statement)).scalar_one())
