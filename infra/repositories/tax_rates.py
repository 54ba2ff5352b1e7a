"""Tax rates in PostgreSQL: the default tax provider's table (domain.taxes.RateTable), and
the read path's lists of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, insert, select

from domain.queries import PageRequest, TaxRateFilter
from domain.taxes import TaxRate, TaxRateDraft
from infra.db import TenantConnection
from infra.pagination import paginate
from infra.tables import tax_rates


def tax_rate_from_row(row: Any) -> TaxRate:
    values = row._mapping if hasattr(row, "_mapping") else row
    return TaxRate(
        id=values["id"],
        display_name=values["display_name"],
        percentage=values["percentage"].normalize(),
        inclusive=values["inclusive"],
        country=values["country"],
        region=values["region"],
        active=values["active"],
        description=values["description"],
        created_at=values["created_at"],
    )


class SqlTaxRateRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def add(self, rate_id: str, draft: TaxRateDraft) -> TaxRate:
        statement = (
            insert(tax_rates)
            .values(
                tenant_id=self._db.tenant_id,
                id=rate_id,
                display_name=draft.display_name,
                description=draft.description,
                percentage=draft.percentage,
                inclusive=draft.inclusive,
                country=draft.country,
                region=draft.region,
                active=draft.active,
            )
            .returning(*tax_rates.c)
        )
        return tax_rate_from_row((await self._db.execute(statement)).one())

    async def active_rates(self, country: str) -> list[TaxRate]:
        statement = (
            select(tax_rates)
            .where(
                tax_rates.c.tenant_id == self._db.tenant_id,
                tax_rates.c.country == country,
                tax_rates.c.active.is_(True),
            )
            .order_by(tax_rates.c.created_at, tax_rates.c.id)
        )
        return [tax_rate_from_row(row) for row in await self._db.execute(statement)]


def _filtered(db: TenantConnection, where: TaxRateFilter, columns: Sequence[Any]) -> Select[Any]:
    # Plain comparisons of columns: leakproof, so row-level security lets an index serve them.
    statement = select(*columns).where(tax_rates.c.tenant_id == db.tenant_id)
    if where.country is not None:
        statement = statement.where(tax_rates.c.country == where.country)
    if where.active is not None:
        statement = statement.where(tax_rates.c.active.is_(where.active))
    return statement


class SqlTaxRateReads:
    """The read path's tax rates (domain.ports.TaxRateReads), in the request's tenant: one
    statement per call."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[TaxRate | None]:
        statement = select(tax_rates).where(
            tax_rates.c.tenant_id == self._db.tenant_id, tax_rates.c.id.in_(list(ids))
        )
        found = {row.id: tax_rate_from_row(row) for row in await self._db.execute(statement)}
        return [found.get(rate_id) for rate_id in ids]

    async def page(
        self, where: TaxRateFilter, descending: bool, page: PageRequest
    ) -> list[TaxRate]:
        statement = paginate(
            _filtered(self._db, where, list(tax_rates.c)),
            tax_rates.c.created_at,
            tax_rates.c.id,
            descending=descending,
            page=page,
        )
        return [tax_rate_from_row(row) for row in await self._db.execute(statement)]

    async def count(self, where: TaxRateFilter) -> int:
        statement = _filtered(self._db, where, [func.count()])
        return int((await self._db.execute(statement)).scalar_one())
