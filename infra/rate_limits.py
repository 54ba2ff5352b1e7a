"""Rate limits: how much each account, client or address may spend, over a sliding window.

Built on the `limits` library: its sliding window counter strategy, which keeps two
counters per key (this window's and the previous one's, weighted by how much of it still
overlaps the last `window` seconds). Like a token bucket it refills gradually, never all
at once at a window's edge, and a request may spend many units at once (a query's cost);
`limits` has no token bucket of its own, and its moving window would store one entry per
unit spent. In process by default; through Redis (`REDIS_URL`) every process and pod
shares the counters, each hit one atomic script.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, SlidingWindowCounterSupport, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

logger = logging.getLogger(__name__)
# Redis that does not answer within this long counts as unavailable (see `spend`).
REDIS_TIMEOUT_SECONDS = 0.5


def parse_rate(text: str) -> RateLimitItem:
    """`<amount>/<second|minute|hour|day>` (limits' notation); ValueError otherwise."""
    return parse(text)


@dataclass(frozen=True, slots=True)
class Quota:
    """Where a key stands: what its limit allows, what remains, and when it refills."""

    limit: int
    remaining: int
    reset_after: float  # seconds until nothing is spent any more
    retry_after: float  # seconds until the refused cost would fit (0 when it fits)
    allowed: bool


@dataclass(frozen=True, slots=True)
class Limit:
    rate: RateLimitItem
    key: str


class SweptMemoryStorage(MemoryStorage):
    """`limits`' in-process storage, sweeping out expired keys at most once a second: as it
    comes, it sweeps every key after each hit, a request's cost growing with the keys held
    (measured: 1.7 ms a request with 20,000 keys). Between sweeps a read drops an expired
    key it meets anyway, so counts are the same; only memory is given back later."""

    SWEEP_SECONDS = 1.0
    _swept_at = float("-inf")

    # limits calls its private `__schedule_expiry` after each change; this is that name.
    async def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now - self._swept_at < self.SWEEP_SECONDS:
            return
        self._swept_at = now
        await getattr(super(), "_MemoryStorage__schedule_expiry")()


class RateLimiter:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._strategy = SlidingWindowCounterRateLimiter(storage)

    @classmethod
    def from_url(cls, redis_url: str | None) -> RateLimiter:
        if redis_url is None:
            return cls(SweptMemoryStorage())
        # `limits` names its asyncio storages async+redis://, async+rediss://.
        return cls(
            RedisStorage(
                "async+" + redis_url,
                key_prefix="ledgerline",
                connect_timeout=REDIS_TIMEOUT_SECONDS,
                stream_timeout=REDIS_TIMEOUT_SECONDS,
            )
        )

    async def spend(self, limits: list[Limit], cost: int) -> Quota | None:
        """Spends `cost` on every limit, stopping at the first that refuses it; answers the
        tightest quota (the refusing one's when one refused). None when the counters cannot
        be reached: the request goes on, as refusing everyone while Redis is down would
        take the API down with it."""
        try:
            return await self._spend(limits, cost)
        except Exception as exc:
            _unavailable(exc)
            return None

    async def exhausted(self, limits: list[Limit]) -> Quota | None:
        """The quota of the first limit with nothing left, without spending anything (None
        when none is exhausted, or the counters cannot be reached)."""
        try:
            for limit in limits:
                if not await self._strategy.test(limit.rate, limit.key):
                    return await self.quota(limit, 1, False)
        except Exception as exc:
            _unavailable(exc)
        return None

    async def _spend(self, limits: list[Limit], cost: int) -> Quota:
        cost = min(cost, min(limit.rate.amount for limit in limits))  # else it never fits
        quotas = []
        for limit in limits:
            allowed = await self._strategy.hit(limit.rate, limit.key, cost=cost)
            quota = await self.quota(limit, cost, allowed)
            if not allowed:
                return quota
            quotas.append(quota)
        return min(quotas, key=lambda q: q.remaining / q.limit)

    async def quota(self, limit: Limit, cost: int, allowed: bool) -> Quota:
        storage = self._storage
        assert isinstance(storage, SlidingWindowCounterSupport)
        window = limit.rate.get_expiry()
        counts = await storage.get_sliding_window(limit.rate.key_for(limit.key), window)
        return quota_of(limit.rate.amount, window, counts, cost, allowed)

    async def aclose(self) -> None:
        if isinstance(self._storage, MemoryStorage):
            timer = self._storage.timer
            if timer is not None and not timer.done():
                timer.cancel()


def _unavailable(exc: Exception) -> None:
    # The exception's type only: a connection error's text may carry the Redis URL.
    logger.warning("rate limits not applied: their storage failed (%s)", type(exc).__name__)


def quota_of(
    amount: int,
    window: int,
    counts: tuple[int, float, int, float],
    cost: int,
    allowed: bool,
) -> Quota:
    """The sliding window's arithmetic as `limits` counts it: what is spent is the previous
    window's count, weighted by the share of that window still inside the last `window`
    seconds, plus the current window's count. The previous count's weight drains to 0 by
    the time the current window ends; then the current count drains the same way."""
    previous, previous_ttl, current, current_ttl = counts
    ends = max(0.0, current_ttl - window)  # when the current window ends
    spent = previous * previous_ttl / window + current
    if current:
        reset_after = ends + window
    else:
        reset_after = previous_ttl if previous else 0.0
    retry_after = 0.0
    excess = spent + cost - amount
    if not allowed and excess > 0:
        room = amount - cost
        if previous and excess * window / previous <= ends:
            retry_after = excess * window / previous
        elif current <= room:
            retry_after = ends
        else:
            retry_after = ends + window * (1 - room / current)
    return Quota(amount, max(0, amount - math.floor(spent)), reset_after, retry_after, allowed)
