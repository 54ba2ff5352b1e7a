"""Billing periods: when a subscription's periods start and end.

A subscription renews every `interval_count` intervals of its plan from an **anchor**
instant (its billing cycle anchor). Boundary n is the anchor advanced by
n × interval_count intervals, **always computed from the anchor**, never by stepping from
the previous boundary: a month-end anchor clamps to each month's length without drifting
(Jan 31 → Feb 28 → Mar 31 → Apr 30, not Jan 31 → Feb 28 → Mar 28), and a Feb 29 anchor
renews yearly on Feb 28 in common years and on Feb 29 again in leap years.

Boundaries are UTC: calendar arithmetic (days, months, years) runs on the UTC calendar and
keeps the anchor's UTC time of day. An anchor or period boundary in another time zone is
refused rather than converted, so a caller expecting renewals at a local midnight finds
out at once instead of renewing an hour off after a daylight-saving change. Instants that
are only compared (a renewal's "now", a proration's "at") may carry any offset.

Periods are half-open, [start, end), and hold whole seconds: proration is worked out to
the second (see `domain/proration.py`), so a boundary never carries microseconds.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.plans import Interval

ONE_SECOND = timedelta(seconds=1)
_DAYS_PER_INTERVAL = {Interval.DAY: 1, Interval.WEEK: 7}
_MONTHS_PER_INTERVAL = {Interval.MONTH: 1, Interval.YEAR: 12}


class InvalidBillingPeriod(ValueError):
    """A period or cycle that cannot exist (a bug in the caller, not a customer's input)."""


def require_aware(instant: datetime, what: str) -> datetime:
    """The instant in UTC; a naive datetime has no instant and is refused."""
    if not isinstance(instant, datetime) or instant.utcoffset() is None:
        raise InvalidBillingPeriod(f"{what} must be a timezone-aware datetime")
    return instant.astimezone(UTC)


def truncate_to_second(instant: datetime) -> datetime:
    """The instant in UTC without its fraction of a second (toward the past).

    Periods and prorations count whole seconds, as Stripe does; a subscription started at
    12:00:00.750 is billed from 12:00:00.
    """
    return require_aware(instant, "an instant").replace(microsecond=0)


def _require_utc_second(instant: datetime, what: str) -> datetime:
    utc = require_aware(instant, what)
    if instant.utcoffset() != timedelta(0):
        raise InvalidBillingPeriod(f"{what} must be in UTC: billing boundaries are UTC")
    if utc.microsecond:
        raise InvalidBillingPeriod(f"{what} must be a whole second")
    return utc


def add_interval(instant: datetime, interval: Interval, count: int) -> datetime:
    """`instant` moved by `count` intervals (count may be negative), on the UTC calendar.

    DAY and WEEK add 24-hour days. MONTH and YEAR move the calendar month or year and
    clamp the day to that month's length (Jan 31 + 1 month = Feb 28 or 29), keeping the
    time of day. Clamping loses the original day, so a schedule must always add to its
    anchor (`BillingCycle.boundary`), never to the previous boundary.
    """
    if interval in _DAYS_PER_INTERVAL:
        return instant + timedelta(days=_DAYS_PER_INTERVAL[interval] * count)
    months = instant.year * 12 + (instant.month - 1) + _MONTHS_PER_INTERVAL[interval] * count
    year, month_index = divmod(months, 12)
    if not 1 <= year <= 9999:
        raise OverflowError("date value out of range")
    month = month_index + 1
    day = min(instant.day, calendar.monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


@dataclass(frozen=True, slots=True)
class Period:
    """A billing period [start, end): whole seconds in UTC, start before end."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start = _require_utc_second(self.start, "a period's start")
        end = _require_utc_second(self.end, "a period's end")
        if not start < end:
            raise InvalidBillingPeriod("a period starts before it ends")
        # Stored as datetime.UTC whatever zero-offset tzinfo came in.
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @property
    def seconds(self) -> int:
        """The period's length in whole seconds (exact: no float on the way)."""
        return (self.end - self.start) // ONE_SECOND

    def contains(self, instant: datetime) -> bool:
        """Whether `instant` falls in [start, end): a boundary belongs to the period it
        opens, never to the one it closes."""
        return self.start <= require_aware(instant, "an instant") < self.end


@dataclass(frozen=True, slots=True)
class BillingCycle:
    """A renewal schedule: every `interval_count` `interval`s from `anchor` (UTC).

    Boundaries exist on both sides of the anchor (n may be negative), so an anchor in the
    future still places the instants before it in a period.
    """

    interval: Interval
    interval_count: int
    anchor: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.interval, Interval):
            raise InvalidBillingPeriod("a billing cycle's interval is an Interval")
        count = self.interval_count
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidBillingPeriod("a billing cycle renews every 1 or more intervals")
        object.__setattr__(self, "anchor", _require_utc_second(self.anchor, "an anchor"))

    def boundary(self, n: int) -> datetime:
        """The n-th renewal instant: the anchor advanced by n × interval_count intervals."""
        return add_interval(self.anchor, self.interval, n * self.interval_count)

    def period(self, n: int) -> Period:
        """The n-th period, [boundary(n), boundary(n + 1)); period 0 opens at the anchor."""
        return Period(self.boundary(n), self.boundary(n + 1))

    def period_containing(self, instant: datetime) -> Period:
        """The period [boundary(n), boundary(n + 1)) that holds `instant`.

        n is estimated in constant time, then corrected by a step or two: months vary
        between 28 and 31 days, so the estimate is never more than one period off.
        """
        at = require_aware(instant, "an instant")
        n = self._estimate_index(at)
        # Each boundary is worked out once: the billing run asks this of every renewal.
        start = self.boundary(n)
        while start > at:
            n -= 1
            start = self.boundary(n)
        end = self.boundary(n + 1)
        while end <= at:
            n += 1
            start, end = end, self.boundary(n + 1)
        return Period(start, end)

    def period_after(self, period: Period) -> Period:
        """The period that follows `period`: from its end to the next boundary. Its end must
        be a boundary of this cycle (a period of this schedule, or a first stub)."""
        following = self.period_containing(period.end)
        if following.start != period.end:
            raise InvalidBillingPeriod("the period does not end on a boundary of this cycle")
        return following

    def _estimate_index(self, at: datetime) -> int:
        if self.interval in _DAYS_PER_INTERVAL:
            length = timedelta(days=_DAYS_PER_INTERVAL[self.interval] * self.interval_count)
            return (at - self.anchor) // length  # exact: days are fixed lengths in UTC
        months = (at.year - self.anchor.year) * 12 + (at.month - self.anchor.month)
        return months // (_MONTHS_PER_INTERVAL[self.interval] * self.interval_count)


def first_period(cycle: BillingCycle, start: datetime) -> Period:
    """The first period of a subscription that starts at `start` (truncated to the second).

    On a boundary of the cycle it is that boundary's full period. Otherwise it is a
    **stub** from `start` to the next boundary, as Stripe bills a subscription whose
    `billing_cycle_anchor` is in the future: a prorated first period, then full periods on
    the anchor's schedule. Since boundaries extend before the anchor too, the stub is never
    longer than one period, however far ahead the anchor is.
    """
    begin = truncate_to_second(start)
    containing = cycle.period_containing(begin)
    if containing.start == begin:
        return containing
    return Period(begin, containing.end)
