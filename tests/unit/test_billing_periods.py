"""Billing periods: boundaries computed from the anchor, month-end clamping without drift,
no gap and no overlap between renewals, UTC only, whole seconds."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta, timezone
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import domain.billing_periods as billing_periods
from domain.billing_periods import (
    BillingCycle,
    InvalidBillingPeriod,
    Period,
    add_interval,
    first_period,
)
from domain.plans import INTERVAL_COUNT_MAX, Interval

DAY = timedelta(days=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def month_after(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + months
    return index // 12, index % 12 + 1


# Anchors: any day of any month (the 29th, 30th and 31st included, leap years 2024 and 2028
# included), any whole second of the day.
years = st.sampled_from([2023, 2024, 2025, 2026, 2027, 2028, 2100]) | st.integers(1990, 2200)
times_of_day = st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))


@st.composite
def anchors(draw: st.DrawFn, days: st.SearchStrategy[int] | None = None) -> datetime:
    year = draw(years)
    month = draw(st.integers(1, 12))
    last = days_in_month(year, month)
    day = draw(days if days is not None else st.integers(1, last) | st.integers(28, last))
    hour, minute, second = draw(times_of_day)
    return utc(year, month, min(day, last), hour, minute, second)


def periods_over_a_year(cycle: BillingCycle) -> list[Period]:
    """The periods a subscription started at the anchor is billed in its first year,
    renewing with `period_after`."""
    year_end = cycle.anchor.replace(
        year=cycle.anchor.year + 1,
        day=min(cycle.anchor.day, days_in_month(cycle.anchor.year + 1, cycle.anchor.month)),
    )
    periods = [first_period(cycle, cycle.anchor)]
    while periods[-1].end < year_end:
        periods.append(cycle.period_after(periods[-1]))
    assert periods[-1].end <= year_end + timedelta(days=7)
    return [period for period in periods if period.start < year_end]


def assert_no_gap_and_no_overlap(periods: list[Period]) -> None:
    for previous, following in zip(periods, periods[1:], strict=False):
        assert following.start == previous.end


# --- renewals over a year ---------------------------------------------------------------


@given(anchor=anchors())
def test_monthly_subscription_is_billed_twelve_contiguous_periods_a_year(
    anchor: datetime,
) -> None:
    # given
    cycle = BillingCycle(Interval.MONTH, 1, anchor)
    # when
    periods = periods_over_a_year(cycle)
    # then
    assert len(periods) == 12
    assert periods[0].start == anchor
    assert_no_gap_and_no_overlap(periods)
    for months, period in enumerate(periods, start=1):
        year, month = month_after(anchor.year, anchor.month, months)
        assert (period.end.year, period.end.month) == (year, month)
        # the anchor's day, or the month's last day when the month is shorter
        assert period.end.day == min(anchor.day, days_in_month(year, month))
        assert period.end.time() == anchor.time()


@given(anchor=anchors())
def test_quarterly_subscription_is_billed_four_contiguous_periods_a_year(
    anchor: datetime,
) -> None:
    # given
    cycle = BillingCycle(Interval.MONTH, 3, anchor)
    # when
    periods = periods_over_a_year(cycle)
    # then
    assert len(periods) == 4
    assert_no_gap_and_no_overlap(periods)
    for quarters, period in enumerate(periods, start=1):
        year, month = month_after(anchor.year, anchor.month, 3 * quarters)
        assert (period.end.year, period.end.month) == (year, month)
        assert period.end.day == min(anchor.day, days_in_month(year, month))
        assert period.end.time() == anchor.time()


@given(anchor=anchors())
def test_weekly_subscription_is_billed_seven_day_periods_through_the_year(
    anchor: datetime,
) -> None:
    # given
    cycle = BillingCycle(Interval.WEEK, 1, anchor)
    year_days = (add_interval(anchor, Interval.YEAR, 1) - anchor).days
    # when
    periods = periods_over_a_year(cycle)
    # then: 52 whole weeks fit in 365 or 366 days, and a 53rd begins before the year ends
    assert len(periods) == 53
    assert sum(1 for period in periods if period.end <= anchor + year_days * DAY) == 52
    assert_no_gap_and_no_overlap(periods)
    assert all(period.seconds == 7 * 24 * 3600 for period in periods)


@given(leap_year=st.sampled_from([2000, 2024, 2028, 2096, 2400]), time=times_of_day)
def test_yearly_subscription_anchored_on_february_29_renews_on_the_28th_except_leap_years(
    leap_year: int, time: tuple[int, int, int]
) -> None:
    # given
    anchor = utc(leap_year, 2, 29, *time)
    cycle = BillingCycle(Interval.YEAR, 1, anchor)
    # when
    periods = [cycle.period(0)]
    for _ in range(8):
        periods.append(cycle.period_after(periods[-1]))
    # then
    assert_no_gap_and_no_overlap(periods)
    for years_later, period in enumerate(periods, start=1):
        year = leap_year + years_later
        expected_day = 29 if calendar.isleap(year) else 28
        assert period.end == utc(year, 2, expected_day, *time)


@pytest.mark.parametrize(
    ("anchor", "interval", "count", "boundaries"),
    [
        # the brief's example: a Jan 31 anchor never drifts to the 28th
        (
            utc(2026, 1, 31, 9, 30),
            Interval.MONTH,
            1,
            [utc(2026, 1, 31, 9, 30), utc(2026, 2, 28, 9, 30), utc(2026, 3, 31, 9, 30)]
            + [utc(2026, 4, 30, 9, 30), utc(2026, 5, 31, 9, 30)],
        ),
        (
            utc(2028, 1, 31),
            Interval.MONTH,
            1,
            [utc(2028, 1, 31), utc(2028, 2, 29), utc(2028, 3, 31), utc(2028, 4, 30)],
        ),
        (
            utc(2024, 2, 29),
            Interval.YEAR,
            1,
            [utc(2024, 2, 29), utc(2025, 2, 28), utc(2026, 2, 28), utc(2027, 2, 28)]
            + [utc(2028, 2, 29)],
        ),
        (
            utc(2025, 8, 31),
            Interval.MONTH,
            6,
            [utc(2025, 8, 31), utc(2026, 2, 28), utc(2026, 8, 31), utc(2027, 2, 28)],
        ),
        (
            utc(2026, 12, 30, 23, 59, 59),
            Interval.DAY,
            3,
            [utc(2026, 12, 30, 23, 59, 59), utc(2027, 1, 2, 23, 59, 59)],
        ),
    ],
)
def test_boundaries_are_computed_from_the_anchor(
    anchor: datetime, interval: Interval, count: int, boundaries: list[datetime]
) -> None:
    # given
    cycle = BillingCycle(interval, count, anchor)
    # when / then
    assert [cycle.boundary(n) for n in range(len(boundaries))] == boundaries


def test_boundaries_before_the_anchor_clamp_the_same_way() -> None:
    # given
    cycle = BillingCycle(Interval.MONTH, 1, utc(2026, 3, 31, 12))
    # when / then
    assert [cycle.boundary(n) for n in (-1, -2, -3, -4)] == [
        utc(2026, 2, 28, 12),
        utc(2026, 1, 31, 12),
        utc(2025, 12, 31, 12),
        utc(2025, 11, 30, 12),
    ]


# --- finding the period of an instant ---------------------------------------------------

cycles = st.builds(
    BillingCycle,
    interval=st.sampled_from(Interval),
    interval_count=st.integers(1, 4) | st.integers(1, INTERVAL_COUNT_MAX),
    anchor=anchors(),
)


@given(
    cycle=cycles,
    offset=st.integers(-10 * 366 * 86400, 10 * 366 * 86400),
    micro=st.integers(0, 999_999),
)
def test_period_containing_holds_the_instant_between_consecutive_boundaries(
    cycle: BillingCycle, offset: int, micro: int
) -> None:
    # given
    instant = cycle.anchor + timedelta(seconds=offset, microseconds=micro)
    # when
    period = cycle.period_containing(instant)
    # then: a walk over the boundaries from the anchor finds the same n
    assert period.contains(instant)
    n = 0
    while cycle.boundary(n) > instant:
        n -= 1
    while cycle.boundary(n + 1) <= instant:
        n += 1
    assert period == Period(cycle.boundary(n), cycle.boundary(n + 1))


@given(cycle=cycles, offset=st.integers(0, 400 * 86400))
def test_period_containing_is_the_period_reached_by_renewing_from_the_anchor(
    cycle: BillingCycle, offset: int
) -> None:
    # given
    instant = cycle.anchor + timedelta(seconds=offset)
    period = Period(cycle.boundary(0), cycle.boundary(1))
    # when
    while not period.contains(instant):
        period = cycle.period_after(period)
    # then
    assert cycle.period_containing(instant) == period


@given(
    cycle=cycles,
    instant=st.datetimes(datetime(1900, 1, 1), datetime(2300, 1, 1), timezones=st.just(UTC)),
)
def test_period_containing_computes_a_handful_of_boundaries_however_far_the_instant(
    cycle: BillingCycle, instant: datetime
) -> None:
    # given
    calls: list[int] = []
    real_add_interval = billing_periods.add_interval

    def counting_add_interval(instant: datetime, interval: Interval, count: int) -> datetime:
        calls.append(count)
        return real_add_interval(instant, interval, count)

    with patch.object(billing_periods, "add_interval", counting_add_interval):
        # when
        period = cycle.period_containing(instant)
    # then: no walk over the periods in between, even centuries of days away
    assert period.contains(instant)
    assert len(calls) <= 6


def test_a_boundary_opens_the_period_after_it() -> None:
    # given
    cycle = BillingCycle(Interval.MONTH, 1, utc(2026, 1, 15))
    # when / then
    assert cycle.period_containing(utc(2026, 2, 15)) == Period(utc(2026, 2, 15), utc(2026, 3, 15))
    assert cycle.period_containing(utc(2026, 2, 15) - timedelta(microseconds=1)) == Period(
        utc(2026, 1, 15), utc(2026, 2, 15)
    )


def test_period_after_refuses_a_period_that_does_not_end_on_a_boundary() -> None:
    # given
    cycle = BillingCycle(Interval.MONTH, 1, utc(2026, 1, 15))
    # when / then
    with pytest.raises(InvalidBillingPeriod):
        cycle.period_after(Period(utc(2026, 1, 15), utc(2026, 2, 14)))


# --- a subscription's first period ------------------------------------------------------


def test_first_period_from_a_boundary_is_a_full_period() -> None:
    # given
    cycle = BillingCycle(Interval.MONTH, 1, utc(2026, 3, 1))
    # when / then
    assert first_period(cycle, utc(2026, 3, 1)) == Period(utc(2026, 3, 1), utc(2026, 4, 1))
    assert first_period(cycle, utc(2026, 1, 1)) == Period(utc(2026, 1, 1), utc(2026, 2, 1))


def test_first_period_before_a_future_anchor_is_a_stub_up_to_the_next_boundary() -> None:
    # given: as Stripe's billing_cycle_anchor on the 1st for a subscription started the 20th
    cycle = BillingCycle(Interval.MONTH, 1, utc(2026, 5, 1))
    # when
    period = first_period(cycle, utc(2026, 4, 20, 8, 15, 30, 999_999))
    # then: truncated to the second, then renewed on the anchor's schedule
    assert period == Period(utc(2026, 4, 20, 8, 15, 30), utc(2026, 5, 1))
    assert cycle.period_after(period) == Period(utc(2026, 5, 1), utc(2026, 6, 1))


@given(cycle=cycles, offset=st.integers(-3 * 366 * 86400, 3 * 366 * 86400))
def test_first_period_is_never_longer_than_a_period_and_ends_on_a_boundary(
    cycle: BillingCycle, offset: int
) -> None:
    # given
    start = cycle.anchor + timedelta(seconds=offset)
    # when
    period = first_period(cycle, start)
    # then
    assert period.start == start
    full = cycle.period_containing(start)
    assert period.end == full.end
    assert cycle.period_after(period).start == period.end


# --- periods ----------------------------------------------------------------------------


def test_period_counts_whole_seconds_and_is_half_open() -> None:
    # given
    period = Period(utc(2026, 3, 1), utc(2026, 4, 1))
    # when / then
    assert period.seconds == 31 * 86400
    assert isinstance(period.seconds, int)
    assert period.contains(utc(2026, 3, 1))
    assert period.contains(utc(2026, 4, 1) - timedelta(microseconds=1))
    assert not period.contains(utc(2026, 4, 1))
    assert not period.contains(utc(2026, 3, 1) - timedelta(microseconds=1))
    # an instant with another offset is compared as the same instant
    assert period.contains(datetime(2026, 3, 1, 1, tzinfo=timezone(timedelta(hours=1))))


def test_period_and_anchor_in_utc_under_another_tzinfo_are_stored_in_utc() -> None:
    # given
    start = datetime(2026, 3, 1, tzinfo=ZoneInfo("UTC"))
    # when
    period = Period(start, utc(2026, 4, 1))
    cycle = BillingCycle(Interval.MONTH, 1, start)
    # then
    assert period.start.tzinfo is UTC
    assert cycle.anchor.tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2026, 3, 1), datetime(2026, 4, 1)),  # naive: no instant
        (utc(2026, 3, 1), datetime(2026, 4, 1, tzinfo=ZoneInfo("Europe/Paris"))),  # not UTC
        (utc(2026, 3, 1), utc(2026, 4, 1).replace(microsecond=1)),  # not whole seconds
        (utc(2026, 3, 1), utc(2026, 3, 1)),  # empty
        (utc(2026, 4, 1), utc(2026, 3, 1)),  # backwards
    ],
)
def test_period_refuses_what_is_not_a_utc_span_of_whole_seconds(
    start: datetime, end: datetime
) -> None:
    # when / then
    with pytest.raises(InvalidBillingPeriod):
        Period(start, end)


@pytest.mark.parametrize(
    ("interval_count", "anchor"),
    [
        (0, utc(2026, 1, 1)),
        (-1, utc(2026, 1, 1)),
        (True, utc(2026, 1, 1)),
        (1, datetime(2026, 1, 1)),
        (1, datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5)))),
        (1, utc(2026, 1, 1).replace(microsecond=500)),
    ],
)
def test_billing_cycle_refuses_a_schedule_that_cannot_renew_in_utc_seconds(
    interval_count: int, anchor: datetime
) -> None:
    # when / then
    with pytest.raises(InvalidBillingPeriod):
        BillingCycle(Interval.MONTH, interval_count, anchor)
