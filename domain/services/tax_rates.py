"""Creating the merchant's tax rates (domain.taxes: which one a customer's lines bear)."""

from __future__ import annotations

from domain.ids import new_id
from domain.ports import UnitOfWork
from domain.taxes import TaxRate, TaxRateDraft, validate_tax_rate


async def create_tax_rate(uow: UnitOfWork, draft: TaxRateDraft) -> TaxRate:
    clean = validate_tax_rate(draft)
    async with uow:
        rate = await uow.tax_rates.add(new_id("txr"), clean)
        await uow.commit()
    return rate
