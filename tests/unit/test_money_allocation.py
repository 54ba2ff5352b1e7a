"""Money's computed amounts: one rounding rule (half-up to the minor unit, once per line),
allocation that sums exactly, sums that refuse mixed currencies, and BIGINT bounds."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain.currency import exponent_of, known_currencies
from domain.money import (
    MAX_MINOR_UNITS,
    CurrencyMismatch,
    InvalidAllocation,
    InvalidAmount,
    Money,
    exact_decimals,
    line_amount,
    sum_money,
)

BIGINT = 2**63 - 1
CURRENCIES = known_currencies()

currencies = st.sampled_from(CURRENCIES)
minor_units = st.integers(min_value=-BIGINT, max_value=BIGINT)
# Decimals built exactly from their digits, with many more digits than a default context's 28.
decimals = st.builds(
    lambda digits, exponent: Decimal(f"{digits}E{exponent}"),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.integers(min_value=-45, max_value=3),
)
non_negative_decimals = st.builds(
    lambda digits, places: Decimal(f"{digits}E-{places}"),
    st.integers(min_value=0, max_value=10**20),
    st.integers(min_value=0, max_value=14),
)


def half_up(value: Fraction) -> int:
    """The reference rule, on exact rationals: the nearest integer, a tie away from zero."""
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return -magnitude if value < 0 else magnitude


def expected_minor_units(amount: Decimal, currency: str) -> int:
    return half_up(Fraction(amount) * 10 ** exponent_of(currency))


# --- the rounding rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("0.125", "USD", 13),  # a tie goes up...
        ("-0.125", "USD", -13),  # ...away from zero
        ("0.124", "USD", 12),
        ("0.145", "USD", 15),  # not banker's rounding, which gives 0.14
        ("2.5", "JPY", 3),
        ("3.5", "JPY", 4),
        ("-2.5", "JPY", -3),
        ("0.4999", "JPY", 0),
        ("1.0005", "KWD", 1001),
        ("1.0004999", "KWD", 1000),
        ("0.00005", "CLF", 1),
        ("12.50", "USD", 1250),
        ("0.00499999999999999999999999999999", "USD", 0),  # 30 digits: no double rounding
        ("0.00500000000000000000000000000001", "USD", 1),
    ],
)
def test_round_from_rounds_half_up_to_the_currency_minor_unit(
    amount: str, currency: str, minor: int
) -> None:
    # when
    money = Money.round_from(Decimal(amount), currency)
    # then
    assert money == Money(minor, currency)


@given(amount=decimals, currency=st.sampled_from(["JPY", "USD", "KWD", "CLF", "EUR", "BHD"]))
@example(amount=Decimal("92233720368547758.07"), currency="USD")
@example(amount=Decimal("92233720368547758.075"), currency="USD")
@example(amount=Decimal("-92233720368547758.07499"), currency="USD")
@example(amount=Decimal("9223372036854775807.5"), currency="JPY")
def test_round_from_matches_exact_half_up_rounding_or_refuses_beyond_bigint(
    amount: Decimal, currency: str
) -> None:
    # given
    expected = expected_minor_units(amount, currency)
    # when / then
    if abs(expected) <= BIGINT:
        assert Money.round_from(amount, currency) == Money(expected, currency)
    else:
        with pytest.raises(InvalidAmount):
            Money.round_from(amount, currency)


@given(currency=currencies, minor=minor_units)
def test_round_from_an_exact_amount_never_loses_a_minor_unit(currency: str, minor: int) -> None:
    # given
    money = Money(minor, currency)
    # when / then
    assert Money.round_from(money.amount, currency) == money


@pytest.mark.parametrize("amount", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_round_from_refuses_non_finite_amounts(amount: str) -> None:
    # when / then
    with pytest.raises(InvalidAmount):
        Money.round_from(Decimal(amount), "USD")


@pytest.mark.parametrize("amount", [1.5, 2, "1.50", None])
def test_round_from_refuses_anything_but_a_decimal(amount: object) -> None:
    # when / then
    with pytest.raises(InvalidAmount):
        Money.round_from(amount, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", ["1E+1000000", "-1E+30", "92233720368547758.08"])
def test_round_from_refuses_amounts_beyond_bigint_without_building_huge_numbers(
    amount: str,
) -> None:
    # when / then
    with pytest.raises(InvalidAmount):
        Money.round_from(Decimal(amount), "USD")


def test_round_from_a_vanishingly_small_amount_is_zero() -> None:
    # when / then
    assert Money.round_from(Decimal("1E-1000000"), "USD") == Money.zero("USD")
    assert Money.round_from(Decimal("-0.004"), "USD") == Money.zero("USD")


# --- one computed line ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit_price", "quantity", "currency", "minor"),
    [
        ("0.0125", "3", "USD", 4),  # 0.0375 -> 0.04
        ("0.0125", "3", "KWD", 38),  # 0.0375 -> 0.038
        ("0.0125", "3", "JPY", 0),  # 0.0375 -> 0
        ("0.5", "3", "JPY", 2),  # 1.5 -> 2
        ("0.0125", "1000000", "USD", 1250000),
        ("19.99", "3", "USD", 5997),
        ("0.333333333333", "3", "USD", 100),  # 0.999999999999 -> 1.00, rounded once
        ("2.50", "1.5", "USD", 375),  # fractional usage
    ],
)
def test_line_amount_multiplies_exactly_and_rounds_once(
    unit_price: str, quantity: str, currency: str, minor: int
) -> None:
    # when
    amount = line_amount(Decimal(unit_price), Decimal(quantity), currency)
    # then
    assert amount == Money(minor, currency)


@given(unit_price=non_negative_decimals, quantity=non_negative_decimals, currency=currencies)
@example(unit_price=Decimal("9223372036854775.807"), quantity=Decimal(1000), currency="USD")
@example(unit_price=Decimal("92233720368547758.07"), quantity=Decimal(1), currency="USD")
def test_line_amount_is_the_exact_product_rounded_half_up_or_refused_beyond_bigint(
    unit_price: Decimal, quantity: Decimal, currency: str
) -> None:
    # given: 20-digit operands, whose product a default 28-digit context would round
    expected = half_up(Fraction(unit_price) * Fraction(quantity) * 10 ** exponent_of(currency))
    # when / then
    if expected <= BIGINT:
        assert line_amount(unit_price, quantity, currency) == Money(expected, currency)
    else:
        with pytest.raises(InvalidAmount):
            line_amount(unit_price, quantity, currency)


@given(currency=currencies, minor=st.integers(0, 10**9), quantity=st.integers(0, 10**9))
def test_a_unit_price_exact_to_the_minor_unit_times_whole_units_never_rounds(
    currency: str, minor: int, quantity: int
) -> None:
    # given
    unit_price = Money(minor, currency).amount
    # when
    amount = line_amount(unit_price, Decimal(quantity), currency)
    # then
    assert amount == Money(minor * quantity, currency)


@pytest.mark.parametrize(("unit_price", "quantity"), [(1.5, Decimal(2)), (Decimal(1), 2.0)])
def test_line_amount_refuses_floats(unit_price: object, quantity: object) -> None:
    # when / then
    with pytest.raises(InvalidAmount):
        line_amount(unit_price, quantity, "USD")  # type: ignore[arg-type]


def test_exact_arithmetic_refuses_a_result_it_would_have_to_round() -> None:
    # when / then: 1E+500 + 1 needs 501 digits
    with pytest.raises(InvalidAmount), exact_decimals():
        _ = Decimal("1E+500") + Decimal(1)


def test_exact_arithmetic_keeps_every_digit_a_default_context_would_round() -> None:
    # given: 40 significant digits (the default context keeps 28)
    big = Decimal("1234567890123456789012345678901234567890")
    # when
    with exact_decimals():
        total = big + Decimal("0.1")
    # then
    assert str(total) == "1234567890123456789012345678901234567890.1"


# --- sign and order ---------------------------------------------------------------------


@given(currency=currencies, minor=minor_units)
def test_negation_flips_the_sign_and_stays_in_range(currency: str, minor: int) -> None:
    # when
    negated = -Money(minor, currency)
    # then
    assert negated == Money(-minor, currency)
    assert -negated == Money(minor, currency)


@given(currency=currencies, a=minor_units, b=minor_units)
def test_money_of_one_currency_orders_like_its_minor_units(currency: str, a: int, b: int) -> None:
    # given
    left, right = Money(a, currency), Money(b, currency)
    # when / then
    assert (left < right, left <= right, left > right, left >= right) == (
        a < b,
        a <= b,
        a > b,
        a >= b,
    )
    assert max(left, right) == Money(max(a, b), currency)


def test_comparing_different_currencies_raises_currency_mismatch() -> None:
    # given
    usd, eur = Money(100, "USD"), Money(100, "EUR")
    # when / then
    for compare in (
        lambda: usd < eur,
        lambda: usd <= eur,
        lambda: usd > eur,
        lambda: usd >= eur,
    ):
        with pytest.raises(CurrencyMismatch):
            compare()


def test_is_zero_and_is_negative_read_the_sign() -> None:
    # when / then
    assert Money.zero("USD").is_zero()
    assert not Money(1, "USD").is_zero()
    assert Money(-1, "USD").is_negative()
    assert not Money(0, "USD").is_negative()


# --- sums -------------------------------------------------------------------------------


@given(currency=currencies, amounts=st.lists(minor_units, max_size=20))
def test_sum_money_is_exact_or_refused_beyond_bigint(currency: str, amounts: list[int]) -> None:
    # given
    items = [Money(minor, currency) for minor in amounts]
    exact = sum(amounts)
    # when / then
    if abs(exact) <= BIGINT:
        assert sum_money(items, currency) == Money(exact, currency)
    else:
        with pytest.raises(InvalidAmount):
            sum_money(items, currency)


def test_sum_money_only_bounds_the_total_not_the_running_sum() -> None:
    # given
    items = [Money(BIGINT, "USD"), Money(BIGINT, "USD"), Money(-BIGINT, "USD")]
    # when / then
    assert sum_money(items, "USD") == Money(BIGINT, "USD")


def test_sum_money_of_nothing_is_zero_of_the_currency() -> None:
    # when / then
    assert sum_money([], "KWD") == Money.zero("KWD")


@pytest.mark.parametrize(
    "items",
    [
        [Money(100, "USD"), Money(100, "EUR")],
        [Money(100, "EUR")],
        [Money(100, "USD"), 5],
        [Money(100, "USD"), Decimal("1.00")],
    ],
)
def test_sum_money_refuses_mixed_currencies_and_bare_numbers(items: list[object]) -> None:
    # when / then
    with pytest.raises(CurrencyMismatch):
        sum_money(items, "USD")  # type: ignore[arg-type]


# --- allocation -------------------------------------------------------------------------


weights_lists = st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30).filter(
    any
)


@given(currency=currencies, minor=minor_units, weights=weights_lists)
@example(currency="USD", minor=BIGINT, weights=[1, 1, 1])
@example(currency="USD", minor=-BIGINT, weights=[3, 0, 7])
def test_allocation_parts_sum_exactly_to_the_whole(
    currency: str, minor: int, weights: list[int]
) -> None:
    # when
    parts = Money(minor, currency).allocate(weights)
    # then
    assert len(parts) == len(weights)
    assert all(part.currency == currency for part in parts)
    assert sum(part.minor_units for part in parts) == minor


@given(currency=currencies, minor=minor_units, weights=weights_lists)
def test_each_part_is_within_one_minor_unit_of_its_exact_proportional_share(
    currency: str, minor: int, weights: list[int]
) -> None:
    # when
    parts = Money(minor, currency).allocate(weights)
    # then
    total = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        share = Fraction(minor * weight, total)
        assert abs(part.minor_units - share) < 1, (part, share)
        if weight == 0:
            assert part.is_zero()


@given(currency=currencies, minor=minor_units, count=st.integers(1, 50))
def test_equal_weights_give_parts_that_differ_by_at_most_one_minor_unit(
    currency: str, minor: int, count: int
) -> None:
    # when
    allocated = Money(minor, currency).allocate([7] * count)
    split = Money(minor, currency).split(count)
    # then
    for parts in (allocated, split):
        units = [part.minor_units for part in parts]
        assert max(units) - min(units) <= 1
        assert sum(units) == minor
    assert split == allocated


@given(minor=minor_units, weights=weights_lists)
def test_a_negative_amount_allocates_like_its_magnitude_negated(
    minor: int, weights: list[int]
) -> None:
    # when
    positive = Money(abs(minor), "USD").allocate(weights)
    negative = Money(-abs(minor), "USD").allocate(weights)
    # then
    assert negative == [-part for part in positive]


@pytest.mark.parametrize(
    ("minor", "weights", "expected"),
    [
        (100, [1, 1, 1], [34, 33, 33]),  # the left-over cent goes to the earliest tie
        (5, [3, 7], [2, 3]),  # 1.5 / 3.5: remainders tie, the earlier part gets it
        (1000, [1, 0, 1], [500, 0, 500]),
        (1, [1, 1, 1, 1], [1, 0, 0, 0]),
        (10, [1, 2, 3, 4], [1, 2, 3, 4]),
        (7, [2, 5], [2, 5]),
        (100, [33, 33, 34], [33, 33, 34]),
        (1, [1, 2], [0, 1]),  # 1/3 vs 2/3: the larger remainder gets the unit
        (-100, [1, 1, 1], [-34, -33, -33]),
    ],
)
def test_allocation_by_largest_remainder(
    minor: int, weights: list[int], expected: list[int]
) -> None:
    # when
    parts = Money(minor, "USD").allocate(weights)
    # then
    assert parts == [Money(units, "USD") for units in expected]


@pytest.mark.parametrize(
    ("currency", "minor", "count", "expected"),
    [
        ("JPY", 1000, 3, ["334", "333", "333"]),
        ("USD", 1000, 3, ["3.34", "3.33", "3.33"]),
        ("KWD", 1000, 3, ["0.334", "0.333", "0.333"]),
    ],
)
def test_split_honours_each_currency_minor_unit(
    currency: str, minor: int, count: int, expected: list[str]
) -> None:
    # when
    parts = Money(minor, currency).split(count)
    # then
    assert [str(part.amount) for part in parts] == expected


@pytest.mark.parametrize(
    "weights", [[], [0], [0, 0, 0], [1, -1], [True, 1], [1.5, 1], [Decimal(1)], ["1"]], ids=repr
)
def test_allocation_refuses_missing_all_zero_negative_or_non_integer_weights(
    weights: list[object],
) -> None:
    # when / then
    with pytest.raises(InvalidAllocation):
        Money(100, "USD").allocate(weights)  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [0, -1, True, 1.0])
def test_split_refuses_anything_but_a_positive_whole_number_of_parts(count: object) -> None:
    # when / then
    with pytest.raises(InvalidAllocation):
        Money(100, "USD").split(count)  # type: ignore[arg-type]


def test_allocation_handles_weights_far_beyond_bigint_exactly() -> None:
    # given
    weights = [10**30, 10**30 + 1, 1]
    # when
    parts = Money(MAX_MINOR_UNITS, "USD").allocate(weights)
    # then
    assert sum(part.minor_units for part in parts) == MAX_MINOR_UNITS
    assert parts[2].minor_units in (0, 1)
