"""Coupons: what a valid coupon is, when one may be redeemed, and how long a discount from
it lasts (Stripe's ONCE / REPEATING / FOREVER)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.coupons import (
    APPLIES_TO_PLANS_MAX,
    Coupon,
    CouponDraft,
    CouponDuration,
    Discount,
    add_months,
    applies_to,
    check_redeemable,
    discount_end,
    mark_invoiced,
    new_discount,
    validate_coupon,
)
from domain.errors import DomainError, ErrorCode
from domain.ids import prefix_of
from domain.money import Money

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def problems(error: DomainError) -> set[tuple[ErrorCode, tuple[str, ...] | None]]:
    return {(e.code, e.field) for e in error.errors}


def refused(draft: CouponDraft) -> set[tuple[ErrorCode, tuple[str, ...] | None]]:
    with pytest.raises(DomainError) as caught:
        validate_coupon(draft, NOW)
    return problems(caught.value)


def make_coupon(**changes: object) -> Coupon:
    coupon = Coupon(
        id="cpn_A",
        name="Launch",
        percent_off=Decimal(20),
        amount_off=None,
        duration=CouponDuration.FOREVER,
        duration_in_months=None,
        max_redemptions=None,
        redeem_by=None,
        applies_to_plans=(),
        code=None,
        times_redeemed=0,
        created_at=NOW - timedelta(days=30),
        archived_at=None,
    )
    return replace(coupon, **changes)  # type: ignore[arg-type]


# --- validation ---------------------------------------------------------------------------


def test_a_valid_draft_comes_back_normalised() -> None:
    # given
    draft = CouponDraft(
        name="  Black Friday  ",
        percent_off=Decimal("12.5"),
        duration=CouponDuration.REPEATING,
        duration_in_months=3,
        max_redemptions=100,
        redeem_by=NOW + timedelta(days=1),
        applies_to_plans=("plan_B", "plan_A", "plan_B"),
        code="  bf-2026 ",
    )
    # when
    clean = validate_coupon(draft, NOW)
    # then
    assert clean.name == "Black Friday"
    assert clean.applies_to_plans == ("plan_B", "plan_A")
    assert clean.code == "bf-2026"
    assert clean.percent_off == Decimal("12.5")


def test_every_problem_is_reported_at_once() -> None:
    draft = CouponDraft(
        name=" ",
        duration=CouponDuration.REPEATING,
        max_redemptions=0,
        redeem_by=NOW - timedelta(seconds=1),
        applies_to_plans=("cus_A",),
        code="Not A Code",
    )
    assert refused(draft) == {
        (ErrorCode.REQUIRED, ("input", "name")),
        (ErrorCode.REQUIRED, ("input", "percentOff")),
        (ErrorCode.REQUIRED, ("input", "durationInMonths")),
        (ErrorCode.INVALID, ("input", "maxRedemptions")),
        (ErrorCode.INVALID, ("input", "redeemBy")),
        (ErrorCode.INVALID, ("input", "appliesToPlans", "0")),
        (ErrorCode.INVALID, ("input", "code")),
    }


def test_paths_start_at_the_callers_field() -> None:
    with pytest.raises(DomainError) as caught:
        validate_coupon(CouponDraft(name=""), NOW, field=("input", "coupon"))
    assert problems(caught.value) == {
        (ErrorCode.REQUIRED, ("input", "coupon", "name")),
        (ErrorCode.REQUIRED, ("input", "coupon", "percentOff")),
    }


@pytest.mark.parametrize("percent", ["100", "0.0001", "12.3456", "12.345600", "50"])
def test_percent_off_up_to_100_with_four_decimals_is_accepted(percent: str) -> None:
    assert validate_coupon(CouponDraft("Deal", Decimal(percent)), NOW).percent_off == Decimal(
        percent
    )


@pytest.mark.parametrize("percent", ["0", "0.00", "-5", "100.0001", "12.34567", "NaN", "Infinity"])
def test_percent_off_outside_0_to_100_or_finer_than_four_decimals_is_refused(
    percent: str,
) -> None:
    assert refused(CouponDraft("Deal", Decimal(percent))) == {
        (ErrorCode.INVALID, ("input", "percentOff"))
    }


def test_a_coupon_takes_a_percentage_or_an_amount_off_not_both() -> None:
    draft = CouponDraft("Deal", Decimal(10), Money(500, "USD"))
    assert refused(draft) == {(ErrorCode.INVALID, ("input", "amountOff"))}


@pytest.mark.parametrize("minor", [0, -1])
def test_an_amount_off_is_positive(minor: int) -> None:
    assert refused(CouponDraft("Deal", amount_off=Money(minor, "EUR"))) == {
        (ErrorCode.INVALID, ("input", "amountOff"))
    }


def test_an_amount_off_in_a_zero_decimal_currency_is_accepted() -> None:
    draft = CouponDraft("Deal", amount_off=Money(500, "JPY"))
    assert validate_coupon(draft, NOW).amount_off == Money(500, "JPY")


@pytest.mark.parametrize(("months", "valid"), [(0, False), (1, True), (120, True), (121, False)])
def test_a_repeating_coupon_lasts_1_to_120_months(months: int, valid: bool) -> None:
    draft = CouponDraft(
        "Deal", Decimal(10), duration=CouponDuration.REPEATING, duration_in_months=months
    )
    if valid:
        assert validate_coupon(draft, NOW).duration_in_months == months
    else:
        assert refused(draft) == {(ErrorCode.INVALID, ("input", "durationInMonths"))}


@pytest.mark.parametrize("duration", [CouponDuration.ONCE, CouponDuration.FOREVER])
def test_only_a_repeating_coupon_has_months(duration: CouponDuration) -> None:
    draft = CouponDraft("Deal", Decimal(10), duration=duration, duration_in_months=3)
    assert refused(draft) == {(ErrorCode.INVALID, ("input", "durationInMonths"))}


def test_redeem_by_must_be_in_the_future_and_carry_an_offset() -> None:
    assert refused(CouponDraft("Deal", Decimal(10), redeem_by=NOW)) == {
        (ErrorCode.INVALID, ("input", "redeemBy"))
    }
    naive = datetime(2030, 1, 1)
    assert refused(CouponDraft("Deal", Decimal(10), redeem_by=naive)) == {
        (ErrorCode.INVALID, ("input", "redeemBy"))
    }
    later = NOW + timedelta(seconds=1)
    assert (
        validate_coupon(CouponDraft("Deal", Decimal(10), redeem_by=later), NOW).redeem_by == later
    )


def test_a_name_is_at_most_200_characters_without_nul() -> None:
    assert validate_coupon(CouponDraft("x" * 200, Decimal(10)), NOW).name == "x" * 200
    assert refused(CouponDraft("x" * 201, Decimal(10))) == {(ErrorCode.TOO_LONG, ("input", "name"))}
    assert refused(CouponDraft("a\x00b", Decimal(10))) == {(ErrorCode.INVALID, ("input", "name"))}


def test_a_coupon_is_restricted_to_at_most_50_plans() -> None:
    plans = tuple(f"plan_{i}" for i in range(APPLIES_TO_PLANS_MAX + 1))
    assert refused(CouponDraft("Deal", Decimal(10), applies_to_plans=plans)) == {
        (ErrorCode.TOO_MANY, ("input", "appliesToPlans"))
    }
    assert (
        validate_coupon(
            CouponDraft("Deal", Decimal(10), applies_to_plans=plans[:APPLIES_TO_PLANS_MAX]), NOW
        ).applies_to_plans
        == plans[:APPLIES_TO_PLANS_MAX]
    )


def test_a_blank_code_means_no_code() -> None:
    assert validate_coupon(CouponDraft("Deal", Decimal(10), code="  "), NOW).code is None


# --- redemption -----------------------------------------------------------------------------


def redemption_problems(coupon: Coupon, **kwargs: object) -> set[ErrorCode]:
    arguments: dict[str, object] = {"now": NOW, "currency": "USD", "plan_ids": None}
    arguments.update(kwargs)
    with pytest.raises(DomainError) as caught:
        check_redeemable(coupon, **arguments)  # type: ignore[arg-type]
    assert all(e.field == ("input", "couponId") for e in caught.value.errors)
    return {e.code for e in caught.value.errors}


def test_a_coupon_within_its_limits_is_redeemable() -> None:
    coupon = make_coupon(
        max_redemptions=5,
        times_redeemed=4,
        redeem_by=NOW + timedelta(seconds=1),
        applies_to_plans=("plan_A",),
        amount_off=Money(500, "USD"),
        percent_off=None,
    )
    check_redeemable(coupon, now=NOW, currency="USD", plan_ids=["plan_B", "plan_A"])


def test_a_coupon_past_its_redeem_by_is_expired() -> None:
    assert redemption_problems(make_coupon(redeem_by=NOW)) == {ErrorCode.COUPON_EXPIRED}


def test_an_archived_coupon_is_expired() -> None:
    assert redemption_problems(make_coupon(archived_at=NOW - timedelta(days=1))) == {
        ErrorCode.COUPON_EXPIRED
    }


def test_a_coupon_redeemed_max_times_is_exhausted() -> None:
    assert redemption_problems(make_coupon(max_redemptions=3, times_redeemed=3)) == {
        ErrorCode.COUPON_EXHAUSTED
    }


def test_a_plan_restricted_coupon_refuses_other_plans_only_when_they_are_known() -> None:
    coupon = make_coupon(applies_to_plans=("plan_A",))
    assert redemption_problems(coupon, plan_ids=["plan_B"]) == {ErrorCode.COUPON_NOT_APPLICABLE}
    assert redemption_problems(coupon, plan_ids=[]) == {ErrorCode.COUPON_NOT_APPLICABLE}
    check_redeemable(coupon, now=NOW, currency="USD", plan_ids=None)


def test_an_amount_off_in_another_currency_is_refused_a_percentage_is_not() -> None:
    amount_coupon = make_coupon(percent_off=None, amount_off=Money(500, "EUR"))
    assert redemption_problems(amount_coupon) == {ErrorCode.CURRENCY_MISMATCH}
    check_redeemable(make_coupon(), now=NOW, currency="JPY", plan_ids=None)


def test_every_reason_a_coupon_cannot_be_redeemed_is_reported() -> None:
    coupon = make_coupon(
        redeem_by=NOW - timedelta(days=1),
        max_redemptions=1,
        times_redeemed=1,
        applies_to_plans=("plan_A",),
        percent_off=None,
        amount_off=Money(500, "EUR"),
    )
    assert redemption_problems(coupon, plan_ids=["plan_B"]) == {
        ErrorCode.COUPON_EXPIRED,
        ErrorCode.COUPON_EXHAUSTED,
        ErrorCode.COUPON_NOT_APPLICABLE,
        ErrorCode.CURRENCY_MISMATCH,
    }


# --- how long a discount lasts ----------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (datetime(2027, 1, 31, 12, tzinfo=UTC), 1, datetime(2027, 2, 28, 12, tzinfo=UTC)),
        (datetime(2028, 1, 31, 12, tzinfo=UTC), 1, datetime(2028, 2, 29, 12, tzinfo=UTC)),
        (datetime(2028, 2, 29, tzinfo=UTC), 12, datetime(2029, 2, 28, tzinfo=UTC)),
        (datetime(2026, 11, 15, tzinfo=UTC), 3, datetime(2027, 2, 15, tzinfo=UTC)),
        (datetime(2026, 8, 31, tzinfo=UTC), 120, datetime(2036, 8, 31, tzinfo=UTC)),
    ],
)
def test_a_repeating_discount_ends_after_calendar_months_clamped_to_month_end(
    start: datetime, months: int, end: datetime
) -> None:
    coupon = make_coupon(duration=CouponDuration.REPEATING, duration_in_months=months)
    assert discount_end(start, coupon) == end


def test_a_discount_end_keeps_the_time_of_day_and_the_offset() -> None:
    tokyo = timezone(timedelta(hours=9))
    start = datetime(2027, 3, 31, 8, 15, tzinfo=tokyo)
    coupon = make_coupon(duration=CouponDuration.REPEATING, duration_in_months=1)
    assert discount_end(start, coupon) == datetime(2027, 4, 30, 8, 15, tzinfo=tokyo)


@pytest.mark.parametrize("duration", [CouponDuration.ONCE, CouponDuration.FOREVER])
def test_once_and_forever_discounts_have_no_end(duration: CouponDuration) -> None:
    assert discount_end(NOW, make_coupon(duration=duration)) is None


@given(
    start=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    months=st.integers(min_value=0, max_value=240),
)
def test_adding_months_moves_the_month_exactly_and_clamps_only_missing_days(
    start: datetime, months: int
) -> None:
    end = add_months(start, months)
    assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == months
    assert end.day == start.day if start.day <= 28 else end.day <= start.day
    assert (end.hour, end.minute, end.second, end.microsecond) == (
        start.hour,
        start.minute,
        start.second,
        start.microsecond,
    )


def make_discount(coupon: Coupon, start: datetime = NOW) -> Discount:
    return new_discount(coupon, customer_id="cus_A", subscription_id="sub_A", start=start)


def test_a_new_discount_has_a_discount_id_and_its_end() -> None:
    coupon = make_coupon(duration=CouponDuration.REPEATING, duration_in_months=2)
    discount = make_discount(coupon)
    assert prefix_of(discount.id) == "di"
    assert discount.end == datetime(2027, 2, 1, 9, 30, tzinfo=UTC)
    assert not discount.invoiced_once


def test_a_repeating_discount_applies_from_its_start_until_before_its_end() -> None:
    discount = make_discount(make_coupon(duration=CouponDuration.REPEATING, duration_in_months=3))
    assert not applies_to(discount, NOW - timedelta(microseconds=1))
    assert applies_to(discount, NOW)
    assert applies_to(discount, datetime(2027, 3, 1, 9, 29, tzinfo=UTC))
    assert not applies_to(discount, datetime(2027, 3, 1, 9, 30, tzinfo=UTC))
    # A repeating discount is not spent by an invoice.
    assert applies_to(mark_invoiced(discount), NOW)


def test_a_once_discount_applies_to_the_next_invoice_only() -> None:
    discount = make_discount(make_coupon(duration=CouponDuration.ONCE))
    assert not applies_to(discount, NOW - timedelta(days=1))
    assert applies_to(discount, NOW + timedelta(days=40))
    spent = mark_invoiced(discount)
    assert spent.invoiced_once
    assert not applies_to(spent, NOW + timedelta(days=40))


def test_a_forever_discount_applies_long_after_the_coupon_stopped_being_redeemable() -> None:
    coupon = make_coupon(redeem_by=NOW + timedelta(days=1))
    discount = make_discount(coupon)
    assert applies_to(discount, NOW + timedelta(days=3650))
