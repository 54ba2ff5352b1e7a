"""The sliding window's arithmetic: what remains, when all is refilled, when a cost fits."""

from __future__ import annotations

import pytest

from infra.rate_limits import quota_of

WINDOW = 60


def test_an_untouched_key_has_everything_left() -> None:
    quota = quota_of(100, WINDOW, (0, 0.0, 0, 0.0), 10, True)
    assert (quota.remaining, quota.reset_after, quota.retry_after) == (100, 0.0, 0.0)


def test_what_this_window_spent_is_refilled_a_window_after_it_ends() -> None:
    # 20 s left in this window (its key lives one window more)
    quota = quota_of(100, WINDOW, (0, 0.0, 30, 20.0 + WINDOW), 10, True)
    assert quota.remaining == 70
    assert quota.reset_after == pytest.approx(20.0 + WINDOW)


def test_the_previous_window_counts_by_the_share_still_inside() -> None:
    # 90 spent last window, half of it still inside the last minute: 45 spent
    quota = quota_of(100, WINDOW, (90, 30.0, 0, 30.0 + WINDOW), 10, True)
    assert quota.remaining == 55
    assert quota.reset_after == pytest.approx(30.0)


def test_a_refused_cost_fits_once_enough_of_the_previous_window_drained() -> None:
    # spent 120 * 30/60 + 40 = 100; the previous 120 drain at 2 a second: 10 more in 5 s
    quota = quota_of(100, WINDOW, (120, 30.0, 40, 30.0 + WINDOW), 10, False)
    assert quota.remaining == 0
    assert quota.retry_after == pytest.approx(5.0)


def test_a_refused_cost_waits_for_this_window_to_drain_when_it_alone_is_too_much() -> None:
    # all 100 spent this window, 15 s of it left: after it ends the 100 drain at 100/60 a second
    quota = quota_of(100, WINDOW, (0, 0.0, 100, 15.0 + WINDOW), 10, False)
    assert quota.retry_after == pytest.approx(15.0 + WINDOW * 0.1)


def test_an_allowed_cost_has_no_wait() -> None:
    assert quota_of(100, WINDOW, (0, 0.0, 100, 15.0 + WINDOW), 10, True).retry_after == 0.0
