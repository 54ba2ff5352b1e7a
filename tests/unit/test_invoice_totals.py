"""An invoice's totals: discounts off the lines first (allocated so the parts sum exactly),
then tax per line on what is left, summarised per rate."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.coupons import Coupon, CouponDuration, new_discount
from domain.invoice_totals import (
    AppliedDiscount,
    ChargeLine,
    InvoiceTotals,
    TaxBreakdownEntry,
    compute_totals,
)
from domain.money import CurrencyMismatch, Money
from domain.taxes import TaxDecision, TaxRate

CREATED = datetime(2026, 1, 1, tzinfo=UTC)
NO_TAX = TaxDecision(None)


def make_rate(rate_id: str, percentage: str, inclusive: bool) -> TaxRate:
    return TaxRate(
        id=rate_id,
        display_name="VAT",
        percentage=Decimal(percentage),
        inclusive=inclusive,
        country="DE",
        region=None,
        active=True,
        description=None,
        created_at=CREATED,
    )


def half_up(value: Fraction) -> int:
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return -magnitude if value < 0 else magnitude


def money(amount: str, currency: str = "USD") -> Money:
    return Money.from_decimal(Decimal(amount), currency)


def charge_line(
    key: str,
    amount: str,
    currency: str = "USD",
    *,
    plan_id: str | None = None,
    tax: TaxDecision = NO_TAX,
    discountable: bool = True,
) -> ChargeLine:
    return ChargeLine(key, money(amount, currency), plan_id, tax, discountable)


def percent_off(discount_id: str, percent: str, *plans: str) -> AppliedDiscount:
    return AppliedDiscount(discount_id, Decimal(percent), None, frozenset(plans))


def amount_off(discount_id: str, amount: Money, *plans: str) -> AppliedDiscount:
    return AppliedDiscount(discount_id, None, amount, frozenset(plans))


def line_discounts(totals: InvoiceTotals) -> dict[str, list[tuple[str, Money]]]:
    return {line.key: list(line.discounts) for line in totals.lines}


# --- worked examples --------------------------------------------------------------------


def test_each_line_is_taxed_and_rounded_on_its_own() -> None:
    # Stripe support, "Rounding rules": 0.43 and 4.84 at 15% exclusive: tax 0.0645 -> 0.06
    # and 0.7265 -> 0.73, 0.79 in all, total 6.06.
    sales_tax = TaxDecision(make_rate("txr_A", "15", False))
    totals = compute_totals(
        "USD",
        [charge_line("a", "0.43", tax=sales_tax), charge_line("b", "4.84", tax=sales_tax)],
        [],
    )
    assert [line.tax_amount for line in totals.lines] == [money("0.06"), money("0.73")]
    assert (totals.subtotal, totals.tax_total, totals.total) == (
        money("5.27"),
        money("0.79"),
        money("6.06"),
    )
    assert totals.breakdown == (
        TaxBreakdownEntry(make_rate("txr_A", "15", False), money("5.27"), money("0.79")),
    )


def test_tax_is_rounded_per_line_not_on_the_invoice_sum() -> None:
    # Worked by hand: three lines of 0.10 at 5%: 0.005 -> 0.01 on each line, 0.03 in all,
    # where rounding the invoice's 0.015 once would give 0.02.
    tax = TaxDecision(make_rate("txr_A", "5", False))
    lines = [charge_line(key, "0.10", tax=tax) for key in "abc"]
    assert compute_totals("USD", lines, []).tax_total == money("0.03")


def test_inclusive_tax_stays_inside_the_total() -> None:
    # HMRC VAT Notice 700 (the VAT fraction, 1/6 at 20%) and Stripe support ("Inclusive and
    # exclusive tax options": an inclusive rate leaves the total as priced).
    vat = TaxDecision(make_rate("txr_GB", "20", True))
    totals = compute_totals("GBP", [charge_line("plan", "120.00", "GBP", tax=vat)], [])
    only = totals.lines[0]
    assert (only.taxable_amount, only.tax_amount, only.inclusive) == (
        money("120.00", "GBP"),
        money("20.00", "GBP"),
        True,
    )
    assert only.taxable_amount - only.tax_amount == money("100.00", "GBP")
    assert (totals.tax_total, totals.exclusive_tax_total, totals.total) == (
        money("20.00", "GBP"),
        money("0.00", "GBP"),
        money("120.00", "GBP"),
    )


def test_a_percent_off_coupon_on_two_lines_splits_in_proportion() -> None:
    # Stripe API, coupon.percent_off: "a coupon with percent_off of 50 will make a $100
    # invoice $50 instead". Worked by hand over two lines: 25.00 + 75.00 at 50% off.
    totals = compute_totals(
        "USD", [charge_line("a", "25.00"), charge_line("b", "75.00")], [percent_off("di_A", "50")]
    )
    assert line_discounts(totals) == {
        "a": [("di_A", money("12.50"))],
        "b": [("di_A", money("37.50"))],
    }
    assert (totals.discount_total, totals.total) == (money("50.00"), money("50.00"))


def test_a_percent_off_is_rounded_once_on_the_eligible_sum_not_per_line() -> None:
    # Worked by hand: three lines of 0.05 at 50% off. Per line 0.025 would round to 0.03
    # three times (0.09); once on 0.15 it is 0.075 -> 0.08, split 0.03 + 0.03 + 0.02.
    lines = [charge_line("a", "0.05"), charge_line("b", "0.05"), charge_line("c", "0.05")]
    totals = compute_totals("USD", lines, [percent_off("di_A", "50")])
    assert totals.discount_total == money("0.08")
    assert [line.discount_total for line in totals.lines] == [
        money("0.03"),
        money("0.03"),
        money("0.02"),
    ]


def test_an_amount_off_larger_than_the_invoice_brings_it_to_zero_and_no_further() -> None:
    # Stripe API changelog 2013-10-29: an amount-off coupon larger than the invoice does
    # not credit the customer's balance; the invoice total is zero.
    totals = compute_totals(
        "USD",
        [charge_line("a", "10.00"), charge_line("b", "20.00")],
        [amount_off("di_A", money("50.00"))],
    )
    assert totals.discount_amounts == (("di_A", money("30.00")),)
    assert [line.taxable_amount for line in totals.lines] == [money("0.00"), money("0.00")]
    assert totals.total == money("0.00")


def test_a_jpy_invoice_has_no_fraction_of_a_yen() -> None:
    # Japan's consumption tax, 10% exclusive (National Tax Agency); JPY has no minor unit
    # (ISO 4217). 10% off 1,333 yen = 133.3 -> 133, split 100 + 33 by largest remainder;
    # tax 90 + 30; total 1,333 - 133 + 120 = 1,320.
    consumption_tax = TaxDecision(make_rate("txr_JP", "10", False))
    lines = [
        charge_line("a", "1000", "JPY", tax=consumption_tax),
        charge_line("b", "333", "JPY", tax=consumption_tax),
    ]
    totals = compute_totals("JPY", lines, [percent_off("di_A", "10")])
    assert [line.discount_total for line in totals.lines] == [
        money("100", "JPY"),
        money("33", "JPY"),
    ]
    assert [line.tax_amount for line in totals.lines] == [money("90", "JPY"), money("30", "JPY")]
    assert totals.total == money("1320", "JPY")


def test_a_kwd_invoice_rounds_to_the_fils() -> None:
    # ISO 4217: KWD has 3 decimals. Worked by hand: 15% off 12.345 = 1.85175 -> 1.852;
    # 5% exclusive tax on 10.493 = 0.52465 -> 0.525; total 12.345 - 1.852 + 0.525 = 11.018.
    tax = TaxDecision(make_rate("txr_KW", "5", False))
    totals = compute_totals(
        "KWD", [charge_line("a", "12.345", "KWD", tax=tax)], [percent_off("di_A", "15")]
    )
    assert totals.discount_total == money("1.852", "KWD")
    assert totals.tax_total == money("0.525", "KWD")
    assert totals.total == money("11.018", "KWD")


def test_discounts_apply_in_order_each_to_what_the_earlier_left() -> None:
    lines = [charge_line("a", "100.00")]
    ten_off = amount_off("di_T", money("10.00"))
    half_off = percent_off("di_H", "50")
    assert compute_totals("USD", lines, [ten_off, half_off]).discount_amounts == (
        ("di_T", money("10.00")),
        ("di_H", money("45.00")),
    )
    assert compute_totals("USD", lines, [half_off, ten_off]).discount_amounts == (
        ("di_H", money("50.00")),
        ("di_T", money("10.00")),
    )


def test_a_later_discount_splits_by_what_each_line_has_left() -> None:
    # 90.00 off the pro line first leaves 10.00 + 100.00: the next 55.00 splits 5 + 50
    # (by what is left), never 27.50 + 27.50 (by the original amounts), which would take
    # the pro line below zero.
    lines = [charge_line("pro", "100.00", plan_id="plan_P"), charge_line("addon", "100.00")]
    discounts = [amount_off("di_A", money("90.00"), "plan_P"), amount_off("di_B", money("55.00"))]
    totals = compute_totals("USD", lines, discounts)
    assert line_discounts(totals) == {
        "pro": [("di_A", money("90.00")), ("di_B", money("5.00"))],
        "addon": [("di_B", money("50.00"))],
    }


def test_a_plan_restricted_discount_reaches_only_its_plans_lines() -> None:
    lines = [
        charge_line("pro", "80.00", plan_id="plan_P"),
        charge_line("addon", "20.00", plan_id="plan_X"),
        charge_line("one-off", "50.00"),
    ]
    totals = compute_totals("USD", lines, [percent_off("di_A", "50", "plan_P")])
    assert [line.discount_total for line in totals.lines] == [
        money("40.00"),
        money("0.00"),
        money("0.00"),
    ]


def test_a_line_not_discountable_is_never_discounted() -> None:
    lines = [charge_line("a", "40.00"), charge_line("fee", "60.00", discountable=False)]
    totals = compute_totals("USD", lines, [amount_off("di_A", money("70.00"))])
    assert line_discounts(totals) == {"a": [("di_A", money("40.00"))], "fee": []}


def test_proration_credits_cap_the_discount_at_the_subtotal() -> None:
    # 100.00 charged, 80.00 credited for the unused old plan: 50% off the charge would be
    # 50.00, more than the 20.00 the invoice is worth.
    lines = [charge_line("new", "100.00"), charge_line("credit", "-80.00")]
    totals = compute_totals("USD", lines, [percent_off("di_A", "50")])
    assert totals.discount_total == money("20.00")
    assert totals.total == money("0.00")
    assert totals.lines[1].discounts == ()
    # When the credits outweigh the charges, nothing is discounted at all.
    lines = [charge_line("new", "10.00"), charge_line("credit", "-80.00")]
    assert compute_totals("USD", lines, [percent_off("di_A", "50")]).discount_total == money("0")


def test_a_reverse_charge_line_marks_the_invoice() -> None:
    totals = compute_totals(
        "EUR", [charge_line("a", "10.00", "EUR", tax=TaxDecision(None, True))], []
    )
    assert totals.reverse_charge
    assert totals.tax_total == money("0", "EUR")
    assert not compute_totals("EUR", [charge_line("a", "10.00", "EUR")], []).reverse_charge


def test_the_breakdown_sums_per_rate_in_the_order_rates_appear() -> None:
    reduced = make_rate("txr_R", "7", False)
    standard = make_rate("txr_S", "19", False)
    lines = [
        charge_line("a", "10.00", tax=TaxDecision(standard)),
        charge_line("b", "20.00", tax=TaxDecision(reduced)),
        charge_line("c", "30.00", tax=TaxDecision(standard)),
        charge_line("d", "5.00"),
    ]
    totals = compute_totals("USD", lines, [])
    assert totals.breakdown == (
        TaxBreakdownEntry(standard, money("40.00"), money("7.60")),
        TaxBreakdownEntry(reduced, money("20.00"), money("1.40")),
    )


def test_an_applied_discount_is_built_from_a_discount() -> None:
    coupon = Coupon(
        id="cpn_A",
        name="Pro deal",
        percent_off=Decimal("12.5"),
        amount_off=None,
        duration=CouponDuration.FOREVER,
        duration_in_months=None,
        max_redemptions=None,
        redeem_by=None,
        applies_to_plans=("plan_P",),
        code=None,
        times_redeemed=0,
        created_at=CREATED,
        archived_at=None,
    )
    discount = new_discount(coupon, customer_id="cus_A", subscription_id=None, start=CREATED)
    assert AppliedDiscount.from_discount(discount) == AppliedDiscount(
        discount.id, Decimal("12.5"), None, frozenset({"plan_P"})
    )


def test_an_amount_in_another_currency_is_a_programming_error() -> None:
    with pytest.raises(CurrencyMismatch):
        compute_totals(
            "USD", [charge_line("a", "10.00")], [amount_off("di_A", money("5.00", "EUR"))]
        )
    with pytest.raises(CurrencyMismatch):
        compute_totals("USD", [charge_line("a", "10.00", "EUR")], [])


def test_line_keys_are_unique() -> None:
    with pytest.raises(ValueError):
        compute_totals("USD", [charge_line("a", "1.00"), charge_line("a", "2.00")], [])


# --- properties -------------------------------------------------------------------------

RATES = [
    make_rate("txr_V20", "20", True),
    make_rate("txr_T7", "7.25", False),
    make_rate("txr_N", "8.875", True),
    make_rate("txr_Z", "0", False),
    make_rate("txr_G", "19.0001", False),
]
PLANS = [None, "plan_A", "plan_B"]

decisions = st.one_of(
    st.just(NO_TAX),
    st.sampled_from(RATES).map(TaxDecision),
    st.just(TaxDecision(None, reverse_charge=True)),
)


@st.composite
def invoices(draw: st.DrawFn) -> tuple[str, list[ChargeLine], list[AppliedDiscount]]:
    currency = draw(st.sampled_from(["JPY", "USD", "KWD"]))  # 0, 2 and 3 decimals
    specs = draw(
        st.lists(
            st.tuples(
                # Mostly charges, some credits (proration), some zero.
                st.one_of(
                    st.integers(min_value=0, max_value=10**9),
                    st.integers(min_value=-(10**7), max_value=0),
                ),
                st.sampled_from(PLANS),
                decisions,
                st.booleans(),
            ),
            max_size=8,
        )
    )
    lines = [
        ChargeLine(f"l{i}", Money(amount, currency), plan, tax, discountable)
        for i, (amount, plan, tax, discountable) in enumerate(specs)
    ]
    plan_sets = st.frozensets(st.sampled_from(["plan_A", "plan_B"]))
    percents = st.integers(min_value=1, max_value=100 * 10**4).map(lambda u: Decimal(u).scaleb(-4))
    discounts = draw(
        st.lists(
            st.one_of(
                st.builds(lambda p, s: AppliedDiscount("", p, None, s), percents, plan_sets),
                st.builds(
                    lambda a, s: AppliedDiscount("", None, Money(a, currency), s),
                    st.integers(min_value=1, max_value=10**9),
                    plan_sets,
                ),
            ),
            max_size=4,
        )
    )
    discounts = [replace(d, discount_id=f"di_{i}") for i, d in enumerate(discounts)]
    return currency, lines, discounts


@given(invoices())
def test_each_discount_is_allocated_exactly_and_never_beyond_a_lines_positive_amount(
    invoice: tuple[str, list[ChargeLine], list[AppliedDiscount]],
) -> None:
    currency, lines, discounts = invoice
    totals = compute_totals(currency, lines, discounts)
    for discount_id, amount in totals.discount_amounts:
        parts = [part for line in totals.lines for d, part in line.discounts if d == discount_id]
        assert sum(part.minor_units for part in parts) == amount.minor_units
        assert all(part.minor_units > 0 for part in parts)
    assert totals.discount_total.minor_units == sum(
        amount.minor_units for _, amount in totals.discount_amounts
    )
    for charge, result in zip(lines, totals.lines):
        assert result.discount_total.minor_units <= max(0, charge.amount.minor_units)
        assert result.taxable_amount == charge.amount - result.discount_total
        if not charge.discountable:
            assert result.discounts == ()


@given(invoices())
def test_total_discount_never_exceeds_the_subtotal(
    invoice: tuple[str, list[ChargeLine], list[AppliedDiscount]],
) -> None:
    currency, lines, discounts = invoice
    totals = compute_totals(currency, lines, discounts)
    assert 0 <= totals.discount_total.minor_units <= max(0, totals.subtotal.minor_units)


@given(invoices())
def test_total_is_lines_less_discounts_plus_exclusive_tax(
    invoice: tuple[str, list[ChargeLine], list[AppliedDiscount]],
) -> None:
    currency, lines, discounts = invoice
    totals = compute_totals(currency, lines, discounts)
    assert totals.subtotal.minor_units == sum(line.amount.minor_units for line in lines)
    exclusive = sum(line.tax_amount.minor_units for line in totals.lines if not line.inclusive)
    assert totals.exclusive_tax_total.minor_units == exclusive
    assert totals.total.minor_units == (
        totals.subtotal.minor_units - totals.discount_total.minor_units + exclusive
    )
    assert totals.tax_total.minor_units == sum(line.tax_amount.minor_units for line in totals.lines)
    assert totals.reverse_charge == any(line.tax.reverse_charge for line in lines)


@given(invoices())
def test_each_line_is_taxed_once_on_its_discounted_amount(
    invoice: tuple[str, list[ChargeLine], list[AppliedDiscount]],
) -> None:
    currency, lines, discounts = invoice
    totals = compute_totals(currency, lines, discounts)
    for result in totals.lines:
        rate = result.tax_rate
        if rate is None:
            assert result.tax_amount.is_zero()
            continue
        p = Fraction(rate.percentage)
        share = p / (100 + p) if rate.inclusive else p / 100
        assert result.tax_amount.minor_units == half_up(result.taxable_amount.minor_units * share)
        assert result.inclusive == rate.inclusive
    for entry in totals.breakdown:
        mine = [line for line in totals.lines if line.tax_rate == entry.rate]
        assert entry.taxable_amount.minor_units == sum(x.taxable_amount.minor_units for x in mine)
        assert entry.tax_amount.minor_units == sum(x.tax_amount.minor_units for x in mine)
    assert sum(e.tax_amount.minor_units for e in totals.breakdown) == totals.tax_total.minor_units


@given(
    amounts=st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=6),
    units=st.integers(min_value=1, max_value=100 * 10**4),
    currency=st.sampled_from(["JPY", "USD", "KWD"]),
)
def test_a_percent_off_is_the_eligible_sum_times_the_percentage_rounded_once(
    amounts: list[int], units: int, currency: str
) -> None:
    percent = Decimal(units).scaleb(-4)
    lines = [ChargeLine(f"l{i}", Money(a, currency), None, NO_TAX) for i, a in enumerate(amounts)]
    totals = compute_totals(currency, lines, [AppliedDiscount("di_A", percent, None)])
    assert totals.discount_total.minor_units == half_up(sum(amounts) * Fraction(percent) / 100)
    # Each line's part is within one minor unit of its exact share.
    for amount, result in zip(amounts, totals.lines):
        exact = Fraction(totals.discount_total.minor_units * amount, sum(amounts))
        assert abs(result.discount_total.minor_units - exact) < 1
