"""The webhook retry schedule: exponential backoff with jitter, over about three days by
default, and what an attempt leaves a delivery in."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.webhook_deliveries import (
    MAX_ERROR_LENGTH,
    DeliveryStatus,
    RetrySchedule,
    after_attempt,
    clipped_error,
    is_success,
    should_disable,
)

AT = datetime(2026, 12, 1, tzinfo=UTC)


def test_the_default_schedule_spreads_its_attempts_over_about_three_days() -> None:
    # given
    schedule = RetrySchedule()
    # then: the first wait is a minute, the waits double, and the last comes ~3 days on
    assert schedule.nominal_delay(1) == timedelta(minutes=1)
    assert schedule.nominal_delay(2) == timedelta(minutes=2)
    assert schedule.nominal_delay(10) == timedelta(minutes=512)
    assert schedule.nominal_delay(15) == timedelta(hours=12)
    assert timedelta(days=2.5) <= schedule.total_nominal() <= timedelta(days=3.5)


@given(
    attempts=st.integers(min_value=1, max_value=200),
    base_ms=st.integers(min_value=1, max_value=10**7),
    cap_ms=st.integers(min_value=1, max_value=10**9),
    seed=st.integers(),
)
def test_a_wait_is_its_nominal_delay_moved_by_at_most_the_jitter(
    attempts: int, base_ms: int, cap_ms: int, seed: int
) -> None:
    # given
    schedule = RetrySchedule(
        base_delay=timedelta(milliseconds=base_ms), max_delay=timedelta(milliseconds=cap_ms)
    )
    nominal = schedule.nominal_delay(attempts)
    # when
    wait = schedule.delay(attempts, random.Random(seed))
    # then
    assert nominal <= schedule.max_delay
    assert nominal * (1 - schedule.jitter) - timedelta(microseconds=1) <= wait
    assert wait <= nominal * (1 + schedule.jitter) + timedelta(microseconds=1)


@given(attempts=st.integers(min_value=1, max_value=100))
def test_nominal_waits_never_shrink(attempts: int) -> None:
    schedule = RetrySchedule()
    assert schedule.nominal_delay(attempts) <= schedule.nominal_delay(attempts + 1)


def test_jitter_spreads_deliveries_that_failed_together() -> None:
    # given 100 deliveries failing their third attempt at once
    schedule = RetrySchedule()
    rng = random.Random(1)
    # when
    waits = {schedule.delay(3, rng) for _ in range(100)}
    # then they do not all come back at the same moment
    assert len(waits) > 90


@given(
    max_attempts=st.integers(min_value=1, max_value=30),
    attempts=st.integers(min_value=1, max_value=40),
    succeeded=st.booleans(),
)
def test_an_attempt_ends_a_delivery_on_success_or_when_none_is_left(
    max_attempts: int, attempts: int, succeeded: bool
) -> None:
    # given
    schedule = RetrySchedule(max_attempts=max_attempts)
    # when
    outcome = after_attempt(schedule, attempts, succeeded, AT, random.Random(0))
    # then
    if succeeded:
        assert outcome.status is DeliveryStatus.SUCCEEDED and outcome.next_attempt_at is None
    elif attempts >= max_attempts:
        assert outcome.status is DeliveryStatus.FAILED and outcome.next_attempt_at is None
    else:
        assert outcome.status is DeliveryStatus.PENDING
        assert outcome.next_attempt_at is not None and outcome.next_attempt_at > AT


def test_only_2xx_is_a_success() -> None:
    assert [is_success(code) for code in (None, 199, 200, 204, 299, 301, 400, 500)] == [
        False,
        False,
        True,
        True,
        True,
        False,
        False,
        False,
    ]


def test_an_error_is_kept_on_one_line_and_short() -> None:
    assert clipped_error("Connect\nerror:  refused") == "Connect error: refused"
    clipped = clipped_error("x" * 10_000)
    assert len(clipped) == MAX_ERROR_LENGTH and clipped.endswith("…")


def test_an_endpoint_is_disabled_at_its_threshold_of_final_failures() -> None:
    assert [should_disable(n, 3) for n in (0, 2, 3, 4)] == [False, False, True, True]
