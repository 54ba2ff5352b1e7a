"""A period's transaction fees summed where they are stored read as one line a person can
check: how many transactions, their volume, the terms of each, and the sum of the fees."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError, ErrorCode
from domain.money import Money
from domain.pricing import (
    MeteredUsage,
    Percentage,
    TransactionFees,
    price_transaction_fees,
    price_transactions,
    price_usage,
)
from tests.unit.test_pricing import percentage_prices


def usd(amount: str) -> Money:
    return Money.from_decimal(Decimal(amount), "USD")


# Stripe's card pricing with a cap: 2.9 % + 0.30 per payment, held within 0.50 to 20.00.
CARD_FEES = Percentage(Decimal("2.9"), "USD", usd("0.30"), usd("0.50"), usd("20.00"))


def test_the_line_states_the_transactions_their_volume_and_the_terms_of_each() -> None:
    # given 10.00 twice (0.59 each), 1000.00 (held at 20.00) and 0.05 (held at 0.50)
    payments = [usd("10.00"), usd("1000.00"), usd("10.00"), usd("0.05")]
    fees = TransactionFees(4, Decimal("1020.05"), price_transactions(CARD_FEES, payments).total)
    # when
    breakdown = price_transaction_fees(CARD_FEES, fees)
    # then
    assert breakdown.total == usd("21.68")
    [line] = breakdown.lines
    assert line.description == (
        "4 transactions totalling 1020.05 at 2.9% + 0.30 per transaction, each fee rounded "
        "once and held within [0.50, 20.00]"
    )
    assert (line.count, line.quantity, line.amount) == (4, Decimal("1020.05"), usd("21.68"))
    assert (line.unit_amount, line.flat_amount) == (Decimal("0.029"), usd("0.30"))


@pytest.mark.parametrize(
    ("model", "terms"),
    [
        (Percentage(Decimal("1.5"), "USD"), "1.5% per transaction, each fee rounded once"),
        (
            Percentage(Decimal("1.5"), "USD", min_amount=usd("0.10")),
            "1.5% per transaction, each fee rounded once and held at 0.10 or more",
        ),
        (
            Percentage(Decimal("1.5"), "USD", max_amount=usd("5.00")),
            "1.5% per transaction, each fee rounded once and held at 5.00 or less",
        ),
    ],
)
def test_the_line_names_only_the_bounds_the_price_has(model: Percentage, terms: str) -> None:
    breakdown = price_transaction_fees(model, TransactionFees(1, Decimal("8"), usd("0.12")))
    assert [line.description for line in breakdown.lines] == [
        f"1 transaction totalling 8.00 at {terms}"
    ]


def test_no_transaction_costs_nothing_not_even_the_fixed_fee_or_minimum() -> None:
    breakdown = price_transaction_fees(CARD_FEES, TransactionFees(0, Decimal(0), usd("0")))
    assert breakdown.total == usd("0")
    assert breakdown.lines == ()
    assert breakdown == price_usage(CARD_FEES, MeteredUsage(Decimal(0)))


@pytest.mark.parametrize(
    "fees",
    [
        TransactionFees(1, Decimal("10"), Money(59, "EUR")),
        TransactionFees(-1, Decimal("10"), usd("0.59")),
        TransactionFees(1, Decimal("-10"), usd("0.59")),
        TransactionFees(1, Decimal("10"), usd("-0.59")),
    ],
)
def test_fees_in_another_currency_or_negative_figures_are_refused(fees: TransactionFees) -> None:
    with pytest.raises(DomainError) as refused:
        price_transaction_fees(CARD_FEES, fees)
    assert {error.code for error in refused.value.errors} == {ErrorCode.INVALID}
    assert all(error.field[0] == "usage" for error in refused.value.errors)


@given(
    model=percentage_prices(),
    transactions=st.lists(st.integers(0, 10**9), min_size=1, max_size=12),
)
def test_the_summed_line_charges_what_the_grouped_lines_charge(
    model: Percentage, transactions: list[int]
) -> None:
    # given transactions priced by domain.pricing, three lines at most
    amounts = [Money(minor, model.currency).amount for minor in transactions]
    grouped = price_usage(
        model, MeteredUsage(sum(amounts, Decimal(0)), tuple(Counter(amounts).items()))
    )
    # when their sums are priced as the database returns them
    summed = price_transaction_fees(
        model, TransactionFees(len(amounts), sum(amounts, Decimal(0)), grouped.total)
    )
    # then one line stands for them all, with the same count, volume and total
    [line] = summed.lines
    assert summed.total == line.amount == grouped.total
    assert line.count == sum(part.count for part in grouped.lines) == len(amounts)
    assert line.quantity == sum((part.quantity for part in grouped.lines), Decimal(0))
