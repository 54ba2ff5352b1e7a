"""A unit price prints like an amount of its currency, plus the finer digits it may carry."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.currency import known_currencies
from domain.money import InvalidAmount, Money, format_money, format_unit_price

LOCALES = ["en_US", "fr_FR", "de_DE", "de_CH", "ja_JP"]


@given(
    currency=st.sampled_from(known_currencies()),
    minor=st.integers(min_value=-(10**15), max_value=10**15),
    locale=st.sampled_from(LOCALES),
)
def test_unit_price_exact_to_the_minor_unit_prints_as_the_same_amount_would(
    currency: str, minor: int, locale: str
) -> None:
    # given
    money = Money(minor, currency)
    # when
    text = format_unit_price(money.amount.normalize(), currency, locale)
    # then
    assert text == format_money(money, locale)


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "text"),
    [
        ("0.0125", "USD", "en_US", "$0.0125"),
        ("0.0008", "EUR", "fr_FR", "0,0008\xa0€"),
        ("1.5", "JPY", "en_US", "¥1.5"),
        ("0.0005", "KWD", "en_US", "KWD0.0005"),
        ("1234.5", "EUR", "de_DE", "1.234,50\xa0€"),
    ],
)
def test_unit_price_keeps_digits_finer_than_the_minor_unit(
    amount: str, currency: str, locale: str, text: str
) -> None:
    # when / then
    assert format_unit_price(Decimal(amount), currency, locale) == text


@pytest.mark.parametrize("amount", ["NaN", "Infinity"])
def test_unit_price_refuses_non_finite_amounts(amount: str) -> None:
    with pytest.raises(InvalidAmount):
        format_unit_price(Decimal(amount), "USD")
