"""Amounts as Stripe's API counts them (infra/payments/stripe_amounts.py): exact, or refused,
never rounded."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.currency import exponent_of, known_currencies
from domain.money import Money
from infra.payments.stripe_amounts import (
    THREE_DECIMAL,
    ZERO_DECIMAL,
    AmountNotRepresentable,
    stripe_exponent,
    to_stripe,
)


@given(
    currency=st.sampled_from(known_currencies()),
    minor_units=st.integers(min_value=1, max_value=10**12),
)
def test_an_amount_sent_to_stripe_is_the_same_amount_or_refused(
    currency: str, minor_units: int
) -> None:
    amount = Money(minor_units, currency)
    try:
        value, sent_currency = to_stripe(amount)
    except AmountNotRepresentable:
        return
    assert sent_currency == currency.lower()
    # the value, read in Stripe's unit, is exactly the amount
    shift = stripe_exponent(currency) - exponent_of(currency)
    assert value == amount.minor_units * 10**shift if shift >= 0 else value * 10**-shift
    if currency in THREE_DECIMAL:
        assert value % 10 == 0


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Money(1999, "USD"), (1999, "usd")),
        (Money(1999, "HUF"), (1999, "huf")),  # two-decimal for charges
        (Money(500, "JPY"), (500, "jpy")),
        (Money(500, "ISK"), (50000, "isk")),  # two-decimal in Stripe's API, ISO's zero
        (Money(12300, "MGA"), (123, "mga")),  # zero-decimal in Stripe, ISO's two
        (Money(5120, "KWD"), (5120, "kwd")),
    ],
)
def test_stripes_unit_of_each_special_currency(amount: Money, expected: tuple[int, str]) -> None:
    assert to_stripe(amount) == expected


@pytest.mark.parametrize(
    "amount",
    [Money(12345, "MGA"), Money(5124, "KWD"), Money(1000, "IQD"), Money(1000, "CLF")],
)
def test_what_stripe_cannot_be_sent_exactly_is_refused(amount: Money) -> None:
    with pytest.raises(AmountNotRepresentable):
        to_stripe(amount)


def test_stripes_currency_lists_are_iso_currencies() -> None:
    assert ZERO_DECIMAL | THREE_DECIMAL <= set(known_currencies())
