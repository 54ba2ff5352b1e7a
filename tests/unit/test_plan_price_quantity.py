"""A quantity priced under a plan's price: a licensed quantity counts whole units (seats),
a metered one may be fractional, and a percentage's quantity is a transaction amount
whatever the billing mode; a previewed price is checked at paths under `price`."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError, ErrorCode
from domain.money import Money
from domain.plans import BillingMode, preview_breakdown, price_quantity
from domain.pricing import Percentage, PerUnit, Tier, VolumeTiers, price_for

PER_SEAT = PerUnit(Decimal(10), "USD")
quantities = st.integers(0, 10**9).map(lambda n: Decimal(n).scaleb(-3))


@given(quantity=quantities)
def test_a_metered_quantity_may_be_fractional(quantity: Decimal) -> None:
    # when / then
    assert price_quantity(PER_SEAT, BillingMode.METERED, quantity) == price_for(PER_SEAT, quantity)


@given(quantity=quantities)
def test_a_licensed_quantity_is_priced_only_when_whole(quantity: Decimal) -> None:
    # when / then
    if quantity == quantity.to_integral_value():
        assert price_quantity(PER_SEAT, BillingMode.LICENSED, quantity) == price_for(
            PER_SEAT, quantity
        )
    else:
        with pytest.raises(DomainError) as raised:
            price_quantity(PER_SEAT, BillingMode.LICENSED, quantity)
        assert [(e.code, e.field) for e in raised.value.errors] == [
            (ErrorCode.INVALID, ("quantity",))
        ]


@pytest.mark.parametrize("billing_mode", list(BillingMode))
def test_a_percentages_quantity_is_a_transaction_amount_whatever_the_billing_mode(
    billing_mode: BillingMode,
) -> None:
    # when
    breakdown = price_quantity(Percentage(Decimal(10), "USD"), billing_mode, Decimal("10.05"))
    # then: 10 % of 10.05 = 1.005, rounded once
    assert breakdown.total == Money(101, "USD")


def test_a_preview_refuses_the_price_under_its_field_and_the_quantity_at_its_own() -> None:
    # given: tiers whose last is not open-ended
    tiers = VolumeTiers((Tier(Decimal(5), Decimal(1)), Tier(Decimal(10), Decimal(1))), "USD")
    # when / then
    with pytest.raises(DomainError) as bad_price:
        preview_breakdown(tiers, BillingMode.LICENSED, Decimal(1))
    with pytest.raises(DomainError) as bad_quantity:
        preview_breakdown(PER_SEAT, BillingMode.LICENSED, Decimal("2.5"))
    assert [(e.code, e.field) for e in bad_price.value.errors] == [
        (ErrorCode.INVALID, ("price", "tiers", "1", "upTo"))
    ]
    assert [(e.code, e.field) for e in bad_quantity.value.errors] == [
        (ErrorCode.INVALID, ("quantity",))
    ]
    assert preview_breakdown(PER_SEAT, BillingMode.METERED, Decimal("2.5")).total == Money(
        2500, "USD"
    )
