"""Money is exact: integer minor units of one ISO 4217 currency, never floats."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain.currency import UnknownCurrency, exponent_of, is_known_currency, known_currencies
from domain.money import (
    MAX_MINOR_UNITS,
    CurrencyMismatch,
    InvalidAmount,
    Money,
    format_decimal,
    format_money,
    parse_decimal,
)

CURRENCIES = known_currencies()
BIGINT = 2**63 - 1

currencies = st.sampled_from(CURRENCIES)
minor_units = st.integers(min_value=-BIGINT, max_value=BIGINT)
# Decimals written without exponent, built exactly from their digits (no context rounding).
plain_decimals = st.builds(
    lambda digits, places: Decimal(f"{digits}E-{places}"),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=0, max_value=30),
)


def decimals_of(value: Decimal) -> int:
    """The number of digits after the decimal point of a Decimal as written."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


# --- currencies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("JPY", 0), ("KRW", 0), ("USD", 2), ("EUR", 2), ("KWD", 3), ("BHD", 3), ("CLF", 4)],
)
def test_currency_exponent_is_the_iso_4217_minor_unit(currency: str, exponent: int) -> None:
    # when / then
    assert exponent_of(currency) == exponent


def test_known_currencies_are_sorted_upper_case_codes_without_funds_lacking_a_minor_unit() -> None:
    # then
    assert CURRENCIES == sorted(CURRENCIES)
    assert all(len(code) == 3 and code.isupper() for code in CURRENCIES)
    assert {"USD", "EUR", "JPY", "KWD"} <= set(CURRENCIES)
    # gold and special drawing rights have no minor unit and are not billable
    assert "XAU" not in CURRENCIES
    assert "XDR" not in CURRENCIES


@pytest.mark.parametrize("code", ["usd", "XXX", "", "US", "USDD", "XAU"])
def test_unknown_currency_code_is_refused(code: str) -> None:
    # when / then
    assert not is_known_currency(code)
    with pytest.raises(UnknownCurrency):
        exponent_of(code)
    with pytest.raises(UnknownCurrency):
        Money(100, code)


# --- Money <-> Decimal ------------------------------------------------------------------


@pytest.mark.parametrize("currency", CURRENCIES)
def test_every_currency_amount_has_exactly_its_minor_unit_digits_and_round_trips(
    currency: str,
) -> None:
    exponent = exponent_of(currency)
    for minor in (0, 1, -1, 10**exponent, -(10**exponent) + 1, BIGINT, -BIGINT):
        # given
        money = Money(minor, currency)
        # when
        amount = money.amount
        # then
        assert decimals_of(amount) == exponent, (currency, minor, amount)
        assert amount == Decimal(minor).scaleb(-exponent)
        assert Money.from_decimal(amount, currency) == money


@given(currency=currencies, minor=minor_units)
def test_amount_has_exactly_the_currency_decimals_and_converts_back(
    currency: str, minor: int
) -> None:
    # given
    money = Money(minor, currency)
    # when
    amount = money.amount
    # then
    assert decimals_of(amount) == exponent_of(currency)
    assert Money.from_decimal(amount, currency) == money


@pytest.mark.parametrize(
    ("minor", "currency", "amount"),
    [
        (1250, "USD", "12.50"),
        (-5, "USD", "-0.05"),
        (0, "USD", "0.00"),
        (1000, "JPY", "1000"),
        (1234, "KWD", "1.234"),
        (1, "BHD", "0.001"),
        (12345, "CLF", "1.2345"),
    ],
)
def test_amount_reads_in_major_units(minor: int, currency: str, amount: str) -> None:
    # when / then
    assert str(Money(minor, currency).amount) == amount


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("12.50", "USD", 1250),
        ("12.5", "USD", 1250),
        ("12", "USD", 1200),
        ("12.500000", "USD", 1250),
        ("1E+3", "JPY", 1000),
        ("-0.05", "USD", -5),
        ("1.234", "KWD", 1234),
    ],
)
def test_from_decimal_accepts_amounts_exact_to_the_minor_unit(
    amount: str, currency: str, minor: int
) -> None:
    # when / then
    assert Money.from_decimal(Decimal(amount), currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("12.505", "USD"), ("0.5", "JPY"), ("1.2345", "KWD"), ("0.00001", "CLF"), ("-0.001", "USD")],
)
def test_from_decimal_refuses_an_amount_finer_than_the_minor_unit(
    amount: str, currency: str
) -> None:
    # when / then
    with pytest.raises(InvalidAmount):
        Money.from_decimal(Decimal(amount), currency)


@given(currency=currencies, minor=minor_units, extra_places=st.integers(1, 20))
@example(currency="USD", minor=100, extra_places=26)  # "1.0000000000000000000000000001"
@example(currency="USD", minor=BIGINT, extra_places=10)
def test_from_decimal_refuses_any_fraction_of_a_minor_unit(
    currency: str, minor: int, extra_places: int
) -> None:
    # given: a valid amount with one more non-zero digit below the minor unit, written exactly
    valid = format_decimal(Money(minor, currency).amount)
    finer = Decimal(valid + ("" if "." in valid else ".") + "0" * (extra_places - 1) + "1")
    # when / then
    with pytest.raises(InvalidAmount):
        Money.from_decimal(finer, currency)


@pytest.mark.parametrize("amount", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_from_decimal_refuses_non_finite_amounts(amount: str) -> None:
    # when / then
    with pytest.raises(InvalidAmount):
        Money.from_decimal(Decimal(amount), "USD")


@pytest.mark.parametrize(
    "amount", ["92233720368547758.08", "-92233720368547758.08", "1E+30", "100000000000000000000"]
)
def test_from_decimal_refuses_amounts_beyond_bigint(amount: str) -> None:
    # when / then
    with pytest.raises(InvalidAmount):
        Money.from_decimal(Decimal(amount), "USD")


# --- Money invariants -------------------------------------------------------------------


@pytest.mark.parametrize("minor", [1.0, 12.5, True, False, Decimal("12"), "1250", None])
def test_minor_units_must_be_an_integer_not_a_float_bool_or_string(minor: object) -> None:
    # when / then
    with pytest.raises(InvalidAmount):
        Money(minor, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("minor", [MAX_MINOR_UNITS + 1, -MAX_MINOR_UNITS - 1, 2**64, -(2**70)])
def test_minor_units_beyond_bigint_are_refused(minor: int) -> None:
    # when / then
    with pytest.raises(InvalidAmount):
        Money(minor, "USD")


def test_minor_units_at_bigint_bounds_are_accepted() -> None:
    # when / then
    assert MAX_MINOR_UNITS == BIGINT
    assert Money(BIGINT, "USD").minor_units == BIGINT
    assert Money(-BIGINT, "USD").minor_units == -BIGINT


@given(currency=currencies, a=minor_units, b=minor_units)
def test_adding_and_subtracting_same_currency_is_exact_or_refused_beyond_bigint(
    currency: str, a: int, b: int
) -> None:
    # given
    left, right = Money(a, currency), Money(b, currency)
    # when / then
    for result, exact in ((lambda: left + right, a + b), (lambda: left - right, a - b)):
        if abs(exact) <= BIGINT:
            assert result() == Money(exact, currency)
        else:
            with pytest.raises(InvalidAmount):
                result()


@pytest.mark.parametrize(("left", "right"), [("USD", "EUR"), ("JPY", "USD"), ("KWD", "BHD")])
def test_combining_different_currencies_raises_currency_mismatch(left: str, right: str) -> None:
    # given
    a, b = Money(100, left), Money(100, right)
    # when / then
    with pytest.raises(CurrencyMismatch):
        _ = a + b
    with pytest.raises(CurrencyMismatch):
        _ = a - b


@pytest.mark.parametrize("other", [1, Decimal("1.00"), None])
def test_combining_money_with_a_bare_number_raises_currency_mismatch(other: object) -> None:
    # when / then
    with pytest.raises(CurrencyMismatch):
        _ = Money(100, "USD") + other  # type: ignore[operator]


def test_zero_is_zero_minor_units_of_the_currency() -> None:
    # when / then
    assert Money.zero("KWD") == Money(0, "KWD")
    assert str(Money.zero("KWD").amount) == "0.000"


# --- decimal numerals -------------------------------------------------------------------


@given(value=plain_decimals)
def test_format_then_parse_decimal_gives_the_same_number(value: Decimal) -> None:
    # when
    text = format_decimal(value)
    # then
    assert "E" not in text and "e" not in text
    assert parse_decimal(text) == value
    assert decimals_of(parse_decimal(text)) == decimals_of(value)


@given(text=st.from_regex(r"\A-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?\Z"))
def test_parse_then_format_decimal_gives_the_same_numeral(text: str) -> None:
    # when
    value = parse_decimal(text)
    # then: the numeral comes back as written, except that zero carries no sign
    expected = text.lstrip("-") if value.is_zero() else text
    assert format_decimal(value) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1E+3"), "1000"),
        (Decimal("1.50"), "1.50"),
        (Decimal("-0"), "0"),
        (Decimal("-0.00"), "0.00"),
        (Decimal("1E-7"), "0.0000001"),
    ],
)
def test_format_decimal_never_uses_exponent_notation_or_negative_zero(
    value: Decimal, text: str
) -> None:
    # when / then
    assert format_decimal(value) == text


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_format_decimal_refuses_non_finite_values(value: str) -> None:
    # when / then
    with pytest.raises(InvalidAmount):
        format_decimal(Decimal(value))


@pytest.mark.parametrize(
    "text",
    [
        "1e3",
        "1E3",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        "1,000",
        " 1",
        "1 ",
        "1\n",
        "\n1",
        "01",
        "-01",
        "",
        "-",
        "1.",
        ".5",
        "+1",
        "1_000",
        "١٢",  # Arabic-Indic digits, which Decimal() would accept
        "1" * 65,
    ],
    ids=repr,
)
def test_parse_decimal_refuses_anything_but_a_plain_decimal_numeral(text: str) -> None:
    # when / then
    with pytest.raises(InvalidAmount):
        parse_decimal(text)


@pytest.mark.parametrize("value", [12, 12.5, None, b"12"])
def test_parse_decimal_refuses_non_strings(value: object) -> None:
    # when / then
    with pytest.raises(InvalidAmount):
        parse_decimal(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", "0"), ("-0.5", "-0.5"), ("12.50", "12.50"), ("1000", "1000"), ("0.125", "0.125")],
)
def test_parse_decimal_keeps_the_digits_as_written(text: str, value: str) -> None:
    # when
    parsed = parse_decimal(text)
    # then
    assert parsed == Decimal(value)
    assert str(parsed) == value


# --- display ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("money", "locale", "text"),
    [
        (Money(1250, "USD"), "en_US", "$12.50"),
        (Money(-1250, "USD"), "en_US", "-$12.50"),
        (Money(1000, "JPY"), "en_US", "¥1,000"),
        (Money(1234567, "KWD"), "en_US", "KWD1,234.567"),
        (Money(1250, "EUR"), "de_DE", "12,50\xa0€"),
    ],
)
def test_format_money_follows_the_locale(money: Money, locale: str, text: str) -> None:
    # when / then
    assert format_money(money, locale) == text


def test_format_money_shows_three_decimals_for_kwd() -> None:
    # when
    text = format_money(Money(1500, "KWD"))
    # then
    assert text.endswith("1.500")


@given(currency=currencies, minor=minor_units)
def test_format_money_shows_exactly_the_currency_minor_unit_digits(
    currency: str, minor: int
) -> None:
    # when
    text = format_money(Money(minor, currency), "en_US")
    # then: en_US writes "." before the fraction and "," between groups of the integer part
    digits_after_point = len(text.rsplit(".", 1)[1].rstrip("\xa0 ")) if "." in text else 0
    exponent = exponent_of(currency)
    assert digits_after_point == exponent or (exponent == 0 and "." not in text), text
