"""Tax rates in PostgreSQL: the default tax provider's table (domain.taxes.RateTable)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from domain.taxes import TaxRate
from infra.db import TenantConnection
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

    async def add(self, rate: TaxRate) -> TaxRate:
        statement = (
            insert(tax_rates)
            .values(
                tenant_id=self._db.tenant_id,
                id=rate.id,
                display_name=rate.display_name,
                description=rate.description,
                percentage=rate.percentage,
                inclusive=rate.inclusive,
                country=rate.country,
                region=rate.region,
                active=rate.active,
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
