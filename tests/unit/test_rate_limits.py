"""The sliding window's arithmetic: what remains, when all is refilled, when a cost fits."""

from __future__ import annotations

import pytest
from limits.aio.storage import MemoryStorage

from infra.rate_limits import Limit, RateLimiter, parse_rate, quota_of

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


async def test_the_memory_storage_sweeps_expired_keys_once_a_second_not_every_hit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given limits' sweep, counted
    sweeps: list[None] = []
    sweep = getattr(MemoryStorage, "_MemoryStorage__schedule_expiry")

    async def counted(self: MemoryStorage) -> None:
        sweeps.append(None)
        await sweep(self)

    monkeypatch.setattr(MemoryStorage, "_MemoryStorage__schedule_expiry", counted)
    limiter = RateLimiter.from_url(None)
    rate = parse_rate("100/day")  # no window edge while it runs
    # when fifty requests are counted at once
    quotas = [await limiter.spend([Limit(rate, "account:a")], 1) for _ in range(50)]
    # then every one counted, and the keys were swept once
    assert [q.remaining for q in quotas if q is not None] == list(range(99, 49, -1))
    assert len(sweeps) == 1
    await limiter.aclose()
