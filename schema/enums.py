"""Enums of the contract."""

from __future__ import annotations

from enum import Enum

import strawberry

import domain.customers as customers_domain
import domain.metrics as metrics_domain
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
