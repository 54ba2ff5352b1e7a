"""A usage charge prices a customer's usage under a metered price: the window's quantity,
except a percentage price, which charges each event as one transaction; a licensed price
has no usage charge."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError, ErrorCode
from domain.metrics import Aggregation, BillableMetric
from domain.money import Money
from domain.plans import BillingMode, PlanPrice
from domain.pricing import (
    FlatFee,
    GraduatedTiers,
    Package,
    Percentage,
    PerUnit,
    PriceModel,
    Tier,
    VolumeTiers,
    charges_each_transaction,
    price_for,
    price_transactions,
)
from domain.usage_charges import UsageCharge, charge_usage, check_metered

METRIC = BillableMetric(
    id="bm_A",
    code="payments",
    name="Payments",
    aggregation=Aggregation.SUM,
    property="amount",
    filters={},
    created_at=datetime(2026, 11, 1, tzinfo=UTC),
)
STRIPE_CARD_FEES = Percentage(
    Decimal("2.9"), "USD", Money(30, "USD"), Money(50, "USD"), Money(2000, "USD")
)
TIERS = (Tier(Decimal(100), Decimal("0.10")), Tier(None, Decimal("0.05")))
QUANTITY_MODELS: list[PriceModel] = [
    PerUnit(Decimal("0.0125"), "USD"),
    GraduatedTiers(TIERS, "USD"),
    VolumeTiers(TIERS, "USD"),
    Package(Decimal(5), 1000, "USD"),
]


def metered(model: PriceModel) -> PlanPrice:
    return PlanPrice("price_A", model, BillingMode.METERED, METRIC.code)


def test_only_a_percentage_price_charges_each_transaction() -> None:
    # when / then
    assert charges_each_transaction(STRIPE_CARD_FEES)
    assert not any(charges_each_transaction(model) for model in QUANTITY_MODELS)
    assert not charges_each_transaction(FlatFee(Money(900, "USD")))


@given(
    model=st.sampled_from(QUANTITY_MODELS),
    quantity=st.integers(0, 10**7).map(lambda n: Decimal(n).scaleb(-2)),
    event_count=st.integers(0, 10**6),
)
def test_a_quantity_price_charges_the_windows_quantity_whatever_the_event_values(
    model: PriceModel, quantity: Decimal, event_count: int
) -> None:
    # given: event values that a percentage would charge one by one
    values = [(Decimal("1000"), 3)]
    # when
    charge = charge_usage(metered(model), METRIC, quantity, event_count, values)
    # then: usage may be fractional, unlike a licensed quantity
    assert charge == UsageCharge(METRIC, quantity, event_count, price_for(model, quantity))


@given(
    counted=st.lists(
        st.tuples(st.integers(0, 10**9), st.integers(1, 20)),
        max_size=6,
        unique_by=lambda pair: pair[0],
    )
)
def test_a_percentage_price_charges_each_event_as_one_transaction(
    counted: list[tuple[int, int]],
) -> None:
    # given: the window's distinct event values in minor units, with their event counts
    values = [(Money(minor, "USD").amount, count) for minor, count in counted]
    one_by_one = [Money(minor, "USD") for minor, count in counted for _ in range(count)]
    total = sum((value * count for value, count in values), Decimal(0))
    # when
    charge = charge_usage(metered(STRIPE_CARD_FEES), METRIC, total, len(one_by_one), values)
    # then: the fees of the transactions, not a percentage of their sum
    assert charge.breakdown.total == price_transactions(STRIPE_CARD_FEES, one_by_one).total
    assert sum(line.count for line in charge.breakdown.lines) == len(one_by_one)
    assert (charge.quantity, charge.event_count) == (total, len(one_by_one))


def test_a_percentage_price_with_no_event_charges_nothing() -> None:
    # when
    charge = charge_usage(metered(STRIPE_CARD_FEES), METRIC, Decimal(0), 0)
    # then: no transaction, so no fixed fee and no minimum either
    assert charge.breakdown.total == Money.zero("USD")
    assert charge.breakdown.lines == ()


def test_a_licensed_price_has_no_usage_charge() -> None:
    # given
    licensed = PlanPrice("price_B", PerUnit(Decimal(10), "USD"), BillingMode.LICENSED, None)
    # when / then
    for refuse in (
        lambda: check_metered(licensed),
        lambda: charge_usage(licensed, METRIC, Decimal(3), 3),
    ):
        with pytest.raises(DomainError) as raised:
            refuse()
        assert [(e.code, e.message) for e in raised.value.errors] == [
            (ErrorCode.INVALID, "This price is licensed: its quantity is set, not metered.")
        ]
    check_metered(metered(PerUnit(Decimal(10), "USD")))


def test_usage_beyond_what_money_holds_is_refused_for_that_charge() -> None:
    # given
    model = PerUnit(Decimal("1000000000000"), "USD")
    # when / then
    with pytest.raises(DomainError) as raised:
        charge_usage(metered(model), METRIC, Decimal(10**12), 1)
    assert [(e.code, e.field) for e in raised.value.errors] == [(ErrorCode.INVALID, ("usage",))]
