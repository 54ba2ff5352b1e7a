"""Proration to the second: amount × prorated seconds / period seconds, rounded once half-up
to the minor unit; never negative, never more than what was charged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain.billing_periods import Period
from domain.money import MAX_MINOR_UNITS, InvalidAmount, Money
from domain.proration import ProrationKind, remaining_charge, unused_credit


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def half_up_share(minor_units: int, seconds: int, period_seconds: int) -> int:
    """The exact rational share, rounded half-up with integers only: the oracle."""
    return (2 * minor_units * seconds + period_seconds) // (2 * period_seconds)


currencies = st.sampled_from(["USD", "JPY", "KWD", "EUR", "BHD", "CLF"])
charges = st.integers(0, 10**6) | st.integers(0, MAX_MINOR_UNITS)


@st.composite
def periods(draw: st.DrawFn) -> Period:
    start = draw(st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)))
    start = start.replace(microsecond=0)
    length = draw(
        st.integers(1, 400 * 86400)
        | st.sampled_from([28, 30, 31, 365, 366]).map(lambda days: days * 86400)
    )
    return Period(start, start + timedelta(seconds=length))


@st.composite
def instants_around(draw: st.DrawFn, period: Period) -> datetime:
    """An instant in the period, on its edges, or a little outside it, with microseconds."""
    offset = draw(
        st.integers(-86400, period.seconds + 86400)
        | st.sampled_from([0, 1, period.seconds - 1, period.seconds])
    )
    return period.start + timedelta(seconds=offset, microseconds=draw(st.integers(0, 999_999)))


@st.composite
def prorations_cases(draw: st.DrawFn) -> tuple[Money, Period, datetime]:
    period = draw(periods())
    return Money(draw(charges), draw(currencies)), period, draw(instants_around(period))


# --- the arithmetic rule ----------------------------------------------------------------


@given(case=prorations_cases())
def test_credit_never_exceeds_the_charge_and_is_never_negative(
    case: tuple[Money, Period, datetime],
) -> None:
    # given
    amount, period, at = case
    # when
    credit = unused_credit(amount, period, at, "Pro")
    # then
    assert Money.zero(amount.currency) <= credit.amount <= amount
    assert 0 <= credit.seconds <= credit.period_seconds == period.seconds


@given(case=prorations_cases())
@example(case=(Money(1001, "JPY"), Period(utc(2026, 4, 1), utc(2026, 5, 1)), utc(2026, 4, 16)))
@example(
    case=(
        Money(MAX_MINOR_UNITS, "USD"),
        Period(utc(2026, 1, 1), utc(2026, 2, 1)),
        utc(2026, 1, 9, 7, 1, 3),
    )
)
def test_proration_is_the_exact_share_rounded_once_half_up(
    case: tuple[Money, Period, datetime],
) -> None:
    # given
    amount, period, at = case
    since = min(max(at.replace(microsecond=0), period.start), period.end)
    seconds = (period.end - since) // timedelta(seconds=1)
    expected = half_up_share(amount.minor_units, seconds, period.seconds)
    # when
    credit = unused_credit(amount, period, at, "Pro")
    charge = remaining_charge(amount, period, at, "Pro")
    # then
    assert credit.amount == Money(expected, amount.currency)
    assert credit.seconds == seconds
    assert credit.since == since
    # switching to the same price at the same instant nets to nothing
    assert charge.amount == credit.amount


@given(case=prorations_cases())
def test_credit_for_unused_time_and_charge_for_used_time_make_up_the_charge(
    case: tuple[Money, Period, datetime],
) -> None:
    # given: the charge for as many seconds as were used, [start, at), is the remaining
    # charge from the instant as far before the end as `at` is after the start
    amount, period, at = case
    since = min(max(at.replace(microsecond=0), period.start), period.end)
    mirrored = period.start + (period.end - since)
    # when
    credit = unused_credit(amount, period, since, "Basic")
    used = remaining_charge(amount, period, mirrored, "Basic")
    # then: within one minor unit, and above the charge only on an exact half-unit tie
    total = (credit.amount + used.amount).minor_units
    assert credit.seconds + used.seconds == period.seconds
    tie = 2 * (amount.minor_units * credit.seconds % period.seconds) == period.seconds
    assert total == amount.minor_units + (1 if tie else 0)


@given(case=prorations_cases(), later_by=st.integers(0, 40 * 86400))
def test_credit_never_grows_as_the_change_comes_later(
    case: tuple[Money, Period, datetime], later_by: int
) -> None:
    # given
    amount, period, at = case
    later = at + timedelta(seconds=later_by)
    # when
    earlier_credit = unused_credit(amount, period, at, "Pro")
    later_credit = unused_credit(amount, period, later, "Pro")
    # then
    assert later_credit.amount <= earlier_credit.amount


def test_change_before_the_period_credits_all_of_it_and_after_it_nothing() -> None:
    # given
    period = Period(utc(2026, 3, 1), utc(2026, 4, 1))
    amount = Money(3000, "USD")
    # when
    before = unused_credit(amount, period, utc(2026, 2, 1), "Pro")
    at_end = unused_credit(amount, period, utc(2026, 4, 1), "Pro")
    after = unused_credit(amount, period, utc(2026, 5, 1), "Pro")
    # then
    assert (before.amount, before.seconds, before.since) == (amount, 2_678_400, period.start)
    assert (at_end.amount, at_end.seconds) == (Money(0, "USD"), 0)
    assert (after.amount, after.seconds, after.since) == (Money(0, "USD"), 0, period.end)


def test_fraction_of_a_second_is_dropped_from_the_change_instant() -> None:
    # given
    period = Period(utc(2026, 3, 1), utc(2026, 4, 1))
    # when
    credit = unused_credit(Money(3000, "USD"), period, utc(2026, 3, 31, 23, 59, 59, 999_999), "Pro")
    # then: the last second counts as unused
    assert credit.seconds == 1
    assert credit.since == utc(2026, 3, 31, 23, 59, 59)


def test_change_instant_with_another_offset_is_the_same_instant() -> None:
    # given
    period = Period(utc(2026, 3, 1), utc(2026, 4, 1))
    paris_summer = timezone(timedelta(hours=2))
    # when
    credit = unused_credit(
        Money(3000, "USD"), period, datetime(2026, 3, 15, 2, tzinfo=paris_summer), "Pro"
    )
    # then
    assert credit.since == utc(2026, 3, 15)


def test_a_negative_charge_is_refused() -> None:
    # when / then
    with pytest.raises(InvalidAmount):
        unused_credit(
            Money(-1, "USD"), Period(utc(2026, 3, 1), utc(2026, 4, 1)), utc(2026, 3, 2), "Pro"
        )


# --- worked examples --------------------------------------------------------------------

APRIL_2026 = Period(utc(2026, 4, 1), utc(2026, 5, 1))  # 30 days, 2,592,000 s
YEAR_2026 = Period(utc(2026, 1, 1), utc(2027, 1, 1))  # 365 days, 31,536,000 s


@pytest.mark.parametrize(
    ("kind", "amount", "period", "at", "expected"),
    [
        # Stripe, "Prorations" (https://docs.stripe.com/billing/subscriptions/prorations):
        # upgrading from a 10 USD monthly plan to 20 USD halfway through the period credits
        # 5 USD for unused time and charges 10 USD for the remaining time.
        (
            ProrationKind.UNUSED_CREDIT,
            Money(1000, "USD"),
            APRIL_2026,
            utc(2026, 4, 16),
            Money(500, "USD"),
        ),
        (
            ProrationKind.REMAINING_CHARGE,
            Money(2000, "USD"),
            APRIL_2026,
            utc(2026, 4, 16),
            Money(1000, "USD"),
        ),
        # By hand, JPY (no minor unit): JPY 1,000 for April, changed on April 11, 20 of 30
        # days unused: 1000 × 1,728,000 / 2,592,000 = 666.67, half-up to JPY 667.
        (
            ProrationKind.UNUSED_CREDIT,
            Money(1000, "JPY"),
            APRIL_2026,
            utc(2026, 4, 11),
            Money(667, "JPY"),
        ),
        # By hand, JPY tie: JPY 1,001 halfway is exactly 500.5, half-up to JPY 501.
        (
            ProrationKind.REMAINING_CHARGE,
            Money(1001, "JPY"),
            APRIL_2026,
            utc(2026, 4, 16),
            Money(501, "JPY"),
        ),
        # By hand, KWD (3 decimals): KWD 3,700.000 a year, changed on 2026-07-01, 184 of 365
        # days unused: 3700 × 15,897,600 / 31,536,000 = 1865.2054..., KWD 1865.205.
        (
            ProrationKind.UNUSED_CREDIT,
            Money(3_700_000, "KWD"),
            YEAR_2026,
            utc(2026, 7, 1),
            Money(1_865_205, "KWD"),
        ),
        # By hand, KWD 0.010 for 2 of 3 seconds: 0.00666... rounds up to KWD 0.007.
        (
            ProrationKind.REMAINING_CHARGE,
            Money(10, "KWD"),
            Period(utc(2026, 1, 1), utc(2026, 1, 1, 0, 0, 3)),
            utc(2026, 1, 1, 0, 0, 1),
            Money(7, "KWD"),
        ),
    ],
)
def test_worked_examples(
    kind: ProrationKind, amount: Money, period: Period, at: datetime, expected: Money
) -> None:
    # given
    prorate = unused_credit if kind is ProrationKind.UNUSED_CREDIT else remaining_charge
    # when
    proration = prorate(amount, period, at, "Plan")
    # then
    assert proration.kind is kind
    assert proration.amount == expected


def test_explanation_shows_the_formula_a_person_can_check() -> None:
    # given: the brief's example, 17 of March's 31 days unused on a USD 30.00 plan
    period = Period(utc(2026, 3, 1), utc(2026, 4, 1))
    # when
    credit = unused_credit(Money(3000, "USD"), period, utc(2026, 3, 15), "Pro")
    charge = remaining_charge(Money(3_700_000, "KWD"), YEAR_2026, utc(2026, 7, 1, 12, 30), "Yearly")
    # then
    assert credit.explanation == (
        "Unused time on Pro from 2026-03-15 (USD 30.00 / period 2026-03-01 to 2026-04-01): "
        "1,468,800 s of 2,678,400 s = USD 16.45"
    )
    assert charge.explanation == (
        "Remaining time on Yearly from 2026-07-01 12:30:00 UTC (KWD 3700.000 / period "
        "2026-01-01 to 2027-01-01): 15,852,600 s of 31,536,000 s = KWD 1859.926"
    )


def test_explanation_of_a_zero_decimal_currency_has_no_decimal_point() -> None:
    # when
    credit = unused_credit(Money(1000, "JPY"), APRIL_2026, utc(2026, 4, 11), "Lite")
    # then
    assert credit.explanation.endswith(
        "(JPY 1000 / period 2026-04-01 to 2026-05-01): 1,728,000 s of 2,592,000 s = JPY 667"
    )
