"""Tax rates: the percentages a merchant charges by place. Types and inputs of the concept."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

import domain.taxes as taxes_domain
from resolvers.errors import Outcome
from schema.connections import SortDirection
from schema.errors import UserError, user_errors_from
from schema.nodes import Node


@strawberry.type(
    description="A tax rate of yours. An invoice line bears the active rate of the "
    "customer's country and region (a regional rate beats a country-wide one; among equals "
    "the oldest wins), unless the customer is exempt."
)
class TaxRate(Node):
    display_name: str = strawberry.field(
        description='Printed on invoices beside the tax amount, e.g. "VAT" or "Sales tax".'
    )
    description: str | None = strawberry.field(description="For you; not printed.")
    percentage: Decimal = strawberry.field(description='Percent, up to 4 decimals ("19", "8.875").')
    inclusive: bool = strawberry.field(
        description="true: prices already include the tax (EU consumer prices); false: the "
        "tax is added on top (US sales tax)."
    )
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 country code, e.g. `DE`.")
    region: str | None = strawberry.field(
        description="A state or province code (`CA`, `QC`); null for the whole country."
    )
    active: bool = strawberry.field(description="Only active rates are applied to invoices.")
    created_at: datetime = strawberry.field(description="When the rate was created.")

    @classmethod
    def from_domain(cls, rate: taxes_domain.TaxRate) -> TaxRate:
        return cls(
            id=strawberry.ID(rate.id),
            display_name=rate.display_name,
            description=rate.description,
            percentage=rate.percentage,
            inclusive=rate.inclusive,
            country=rate.country,
            region=rate.region,
            active=rate.active,
            created_at=rate.created_at,
        )


@strawberry.type(description="Result of `createTaxRate`.")
class CreateTaxRatePayload:
    tax_rate: TaxRate | None = strawberry.field(description="The new rate; null on errors.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[taxes_domain.TaxRate]) -> CreateTaxRatePayload:
        return cls(
            tax_rate=None if outcome.value is None else TaxRate.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.input(description="A new tax rate. It cannot be changed afterwards.")
class CreateTaxRateInput:
    display_name: str = strawberry.field(description="1 to 100 characters, e.g. `VAT`.")
    percentage: Decimal = strawberry.field(description='0 to 100, up to 4 decimals ("19").')
    inclusive: bool = strawberry.field(
        description="Whether prices include the tax (true) or it is added on top (false)."
    )
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 country code, e.g. `DE`.")
    region: str | None = strawberry.field(
        default=None, description="A state or province code, up to 64 characters."
    )
    active: bool = strawberry.field(default=True, description="Applied to invoices when true.")
    description: str | None = strawberry.field(
        default=None, description="For you, up to 500 characters."
    )


@strawberry.input(description="Narrows the tax rates list; all given conditions must hold.")
class TaxRateFilter:
    country: str | None = strawberry.field(
        default=None, description="ISO 3166-1 alpha-2 code, any case."
    )
    active: bool | None = strawberry.field(
        default=None, description="true: only active; false: only inactive; null: both."
    )


@strawberry.input(description="Sort order of the tax rates list (by creation time).")
class TaxRateOrder:
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="DESC lists the newest first."
    )
