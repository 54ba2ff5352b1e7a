"""Request JSON is read exactly: numbers as their values, never through a float."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.jsoncodec import InvalidJson, dumps, loads


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", 2),
        ("2.0", 2),  # a whole number, whatever its spelling: Int variables take it
        ("2e0", 2),
        ("-0.0", 0),
        ("1e3", 1000),
        ("1.50", Decimal("1.5")),
        ("1234567890.123456789", Decimal("1234567890.123456789")),
        ("10000000000000000000000000.5", Decimal("10000000000000000000000000.5")),
        ("100000000000000000000", Decimal("100000000000000000000")),
        ("9223372036854775807", 9223372036854775807),
    ],
)
def test_numbers_are_read_as_their_exact_values(text: str, value: object) -> None:
    read = loads(text)
    assert read == value and type(read) is type(value)


@pytest.mark.parametrize(
    "text",
    ["NaN", "Infinity", "-Infinity", "1e1001", "1e-1001", "1" * 1100, "[" * 5000, "{'a': 1}"],
)
def test_what_is_not_json_or_out_of_range_is_refused(text: str) -> None:
    with pytest.raises(InvalidJson):
        loads(text)


def test_text_is_utf8_only() -> None:
    with pytest.raises(InvalidJson):
        loads('"caf\xe9"'.encode("latin-1"))
    assert loads('"café"'.encode()) == "café"


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**30), max_value=10**30))
def test_a_number_written_and_read_again_keeps_its_value(number: Decimal) -> None:
    written = dumps({"n": number})
    assert loads(written)["n"] == number
    assert loads(format(number, "f")) == number


def test_big_integers_are_written_back_exactly() -> None:
    value = loads('{"a": 123456789012345678901234567890, "b": [1e20, 0.000001]}')
    assert (
        dumps(value) == b'{"a":123456789012345678901234567890,"b":[100000000000000000000,0.000001]}'
    )
