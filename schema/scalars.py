"""Scalars of the public contract (API.md): Decimal, DateTime, CurrencyCode, JSON.

Registered through `StrawberryConfig.scalar_map` in `schema/schema.py`.
"""

from __future__ import annotations

import decimal
from datetime import UTC, datetime
from typing import Any, NewType

import strawberry
from graphql import GraphQLError
from strawberry.types.scalar import ScalarDefinition

from domain.money import InvalidAmount, format_decimal, parse_decimal

CurrencyCode = NewType("CurrencyCode", str)
JSON = NewType("JSON", object)


def _parse_currency(value: Any) -> str:
    if not isinstance(value, str):
        raise GraphQLError('CurrencyCode is a string such as "USD"')
    return value.strip().upper()


def _parse_decimal(value: Any) -> decimal.Decimal:
    # Strings only (and integers, which are exact): a JSON float has already lost precision.
    if isinstance(value, bool):
        raise GraphQLError('Decimal is a string such as "12.50"')
    if isinstance(value, int):
        return decimal.Decimal(value)
    try:
        return parse_decimal(value)
    except InvalidAmount as exc:
        raise GraphQLError(f'Decimal is a string such as "12.50": {exc}') from None


def _parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise GraphQLError("DateTime is an ISO 8601 string with an offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise GraphQLError(f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise GraphQLError("DateTime needs an offset, such as 2026-01-31T12:00:00Z")
    try:
        parsed.astimezone(UTC)  # the instant must exist in UTC for PostgreSQL to compare it
    except OverflowError:
        raise GraphQLError(f"{value!r} is out of the supported range") from None
    return parsed


SCALAR_MAP: dict[object, ScalarDefinition] = {
    CurrencyCode: strawberry.scalar(
        name="CurrencyCode",
        description=(
            "An ISO 4217 currency code such as USD, EUR, JPY or KWD. Amounts in a currency "
            "carry exactly its minor-unit digits (JPY 0, USD 2, KWD 3). Mutations check the "
            "codes they are given and report an unknown one in `userErrors`."
        ),
        serialize=str,
        parse_value=_parse_currency,
    ),
    JSON: strawberry.scalar(
        name="JSON",
        description=(
            "A JSON value. `metadata` is an object of up to 50 string keys (at most 40 "
            "characters each) with string values (at most 500 characters each)."
        ),
        serialize=lambda value: value,
        parse_value=lambda value: value,
    ),
    decimal.Decimal: strawberry.scalar(
        name="Decimal",
        description=(
            'An exact decimal number as a string: "12.50", "1000", "0.125". Never a JSON '
            "number, which would lose precision; no exponent notation."
        ),
        serialize=format_decimal,
        parse_value=_parse_decimal,
    ),
    datetime: strawberry.scalar(
        name="DateTime",
        description="An ISO 8601 date-time with an offset, such as 2026-11-26T14:30:00+00:00.",
        serialize=lambda value: value.isoformat(),
        parse_value=_parse_datetime,
    ),
}
