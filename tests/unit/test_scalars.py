"""The contract's scalars (Decimal, DateTime, CurrencyCode, JSON) parse and serialize exactly.

The functions are taken from SCALAR_MAP and, where the schema's own type matters (literals
written in a document), from the built schema, so a scalar left out of the schema fails here.
"""

from __future__ import annotations

import decimal
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from graphql import GraphQLError, GraphQLScalarType
from graphql import parse_value as parse_value_literal
from hypothesis import given
from hypothesis import strategies as st

from schema.scalars import JSON, SCALAR_MAP, CurrencyCode
from schema.schema import schema

DECIMAL = SCALAR_MAP[decimal.Decimal]
DATETIME = SCALAR_MAP[datetime]
CURRENCY_CODE = SCALAR_MAP[CurrencyCode]
JSON_SCALAR = SCALAR_MAP[JSON]

plain_decimals = st.builds(
    lambda digits, places: Decimal(f"{digits}E-{places}"),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=0, max_value=30),
)
offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_datetimes = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets
)


def schema_scalar(name: str) -> GraphQLScalarType:
    scalar = schema._schema.type_map[name]
    assert isinstance(scalar, GraphQLScalarType)
    return scalar


def test_schema_exposes_the_contract_scalars_with_their_names() -> None:
    # when
    names = {definition.name for definition in SCALAR_MAP.values()}
    # then
    assert names == {"Decimal", "DateTime", "CurrencyCode", "JSON"}
    for name in names:
        assert schema_scalar(name).name == name


# --- Decimal ----------------------------------------------------------------------------


@given(value=plain_decimals)
def test_decimal_scalar_parses_what_it_serializes(value: Decimal) -> None:
    # when
    text = DECIMAL.serialize(value)
    # then
    assert isinstance(text, str)
    assert "E" not in text.upper()
    assert DECIMAL.parse_value(text) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("12.50"), "12.50"),
        (Decimal("1E+3"), "1000"),
        (Decimal("0.125"), "0.125"),
        (Decimal("-0.00"), "0.00"),
    ],
)
def test_decimal_scalar_serializes_a_plain_string_keeping_trailing_zeros(
    value: Decimal, text: str
) -> None:
    # when / then
    assert DECIMAL.serialize(value) == text


@pytest.mark.parametrize(("value", "expected"), [("12.50", "12.50"), (12, "12"), (0, "0")])
def test_decimal_scalar_accepts_strings_and_exact_integers(value: Any, expected: str) -> None:
    # when
    parsed = DECIMAL.parse_value(value)
    # then
    assert isinstance(parsed, Decimal)
    assert str(parsed) == expected


@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_decimal_scalar_refuses_json_floats(value: float) -> None:
    # when / then
    with pytest.raises(GraphQLError):
        DECIMAL.parse_value(value)


@pytest.mark.parametrize(
    "value",
    [True, False, None, "1e3", "NaN", "Infinity", "1,000", " 1", "12.50\n", "", [], {}],
    ids=repr,
)
def test_decimal_scalar_refuses_booleans_and_non_numerals(value: Any) -> None:
    # when / then
    with pytest.raises(GraphQLError):
        DECIMAL.parse_value(value)


def test_decimal_literal_in_a_document_must_be_a_string_or_integer() -> None:
    # given
    scalar = schema_scalar("Decimal")
    # when / then
    assert scalar.parse_literal(parse_value_literal('"12.50"')) == Decimal("12.50")
    assert scalar.parse_literal(parse_value_literal("12")) == Decimal(12)
    with pytest.raises(GraphQLError):
        scalar.parse_literal(parse_value_literal("12.5"))


def test_decimal_scalar_refuses_to_serialize_non_finite_values() -> None:
    # when / then
    with pytest.raises(Exception, match="finite"):
        DECIMAL.serialize(Decimal("NaN"))


# --- DateTime ---------------------------------------------------------------------------


@given(value=aware_datetimes)
def test_datetime_scalar_parses_what_it_serializes(value: datetime) -> None:
    # when
    text = DATETIME.serialize(value)
    parsed = DATETIME.parse_value(text)
    # then
    assert parsed == value
    assert parsed.utcoffset() == value.utcoffset()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31T12:00:00Z", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T12:00:00+00:00", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        (
            "2026-11-26T14:30:00.123456+05:30",
            datetime(2026, 11, 26, 9, 0, 0, 123456, tzinfo=UTC),
        ),
    ],
)
def test_datetime_scalar_accepts_iso_8601_with_an_offset(text: str, expected: datetime) -> None:
    # when
    parsed = DATETIME.parse_value(text)
    # then
    assert parsed == expected
    assert parsed.tzinfo is not None


@pytest.mark.parametrize("text", ["2026-01-31T12:00:00", "2026-01-31", "2026-01-31 12:00"])
def test_datetime_scalar_refuses_a_naive_date_time(text: str) -> None:
    # when / then
    with pytest.raises(GraphQLError, match="offset"):
        DATETIME.parse_value(text)


@pytest.mark.parametrize("text", ["yesterday", "", "2026-13-01T00:00:00Z", "31/01/2026"])
def test_datetime_scalar_refuses_text_that_is_not_iso_8601(text: str) -> None:
    # when / then
    with pytest.raises(GraphQLError):
        DATETIME.parse_value(text)


@pytest.mark.parametrize("value", [1769860800, 1769860800.0, None, True, ["2026-01-31"]])
def test_datetime_scalar_refuses_non_strings(value: Any) -> None:
    # when / then
    with pytest.raises(GraphQLError):
        DATETIME.parse_value(value)


def test_datetime_literal_in_a_document_is_parsed_with_its_offset() -> None:
    # given
    scalar = schema_scalar("DateTime")
    # when
    parsed = scalar.parse_literal(parse_value_literal('"2026-01-31T12:00:00+01:00"'))
    # then
    assert parsed == datetime(2026, 1, 31, 11, tzinfo=UTC)
    with pytest.raises(GraphQLError):
        scalar.parse_literal(parse_value_literal('"2026-01-31T12:00:00"'))


# --- CurrencyCode -----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "code"), [("usd", "USD"), (" eur ", "EUR"), ("JPY", "JPY")])
def test_currency_code_scalar_upper_cases_and_trims(value: str, code: str) -> None:
    # when / then
    assert CURRENCY_CODE.parse_value(value) == code
    assert CURRENCY_CODE.serialize(code) == code


@pytest.mark.parametrize("value", [840, None, True, ["USD"]])
def test_currency_code_scalar_refuses_non_strings(value: Any) -> None:
    # when / then
    with pytest.raises(GraphQLError):
        CURRENCY_CODE.parse_value(value)


# --- JSON -------------------------------------------------------------------------------


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(value=json_values)
def test_json_scalar_passes_values_through_unchanged(value: Any) -> None:
    # when / then
    assert JSON_SCALAR.parse_value(value) == value
    assert JSON_SCALAR.serialize(value) == value
