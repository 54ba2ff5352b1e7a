"""Enums of the contract."""

from __future__ import annotations

from enum import Enum

import strawberry

import domain.customers as customers_domain
import domain.metrics as metrics_domain
import domain.plans as plans_domain
from domain.errors import ErrorCode

UserErrorCode = strawberry.enum(
    ErrorCode, name="UserErrorCode", description="Why a mutation refused its input."
)
TaxIdType = strawberry.enum(
    customers_domain.TaxIdType, name="TaxIdType", description="The kind of a tax id."
)


@strawberry.enum(description="Sort direction of a list.")
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


Aggregation = strawberry.enum(
    metrics_domain.Aggregation,
    name="Aggregation",
    description="How a period's usage events become one quantity.",
)

Interval = strawberry.enum(
    plans_domain.Interval, name="Interval", description="The unit of a plan's billing period."
)
BillingMode = strawberry.enum(
    plans_domain.BillingMode,
    name="BillingMode",
    description="LICENSED: a quantity set on the subscription (seats). METERED: the period's "
    "usage of a billable metric.",
)


@strawberry.enum(description="How a price turns a quantity into an amount.")
class PriceModelKind(Enum):
    FLAT_FEE = "FLAT_FEE"
    PER_UNIT = "PER_UNIT"
    GRADUATED = "GRADUATED"
    VOLUME = "VOLUME"
    PACKAGE = "PACKAGE"
    PERCENTAGE = "PERCENTAGE"
