"""Webhook deliveries: one event sent to one endpoint, at least once, in order per object,
retried with exponential backoff and jitter; and the rules that end them (a last failed
attempt) and that disable an endpoint that keeps failing.

The outbox is the events table; a delivery is made for each enabled endpoint subscribed
to an event's type, in event position order. A delivery is attempted only once every
earlier delivery of the same object to the same endpoint has ended (succeeded or failed
for good), so a receiver sees an object's events in the order they happened.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

# What an attempt's error text keeps: enough to read, never a receiver's whole page.
MAX_ERROR_LENGTH: Final = 500
# The newest deliveries an endpoint shows at once.
RECENT_DELIVERIES_MAX: Final = 100


class DeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"  # not sent yet, in flight, or waiting for its next attempt
    SUCCEEDED = "SUCCEEDED"  # a 2xx answer
    FAILED = "FAILED"  # its last attempt failed; retryWebhookDelivery gives it another


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    object_id: str
    status: DeliveryStatus
    attempt_count: int
    # When the next attempt is due; None once the delivery has ended.
    next_attempt_at: datetime | None
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class WebhookDeliveryAttempt:
    delivery_id: str
    attempted_at: datetime
    # The receiver's HTTP status; None when no answer came (timeout, refused, unreachable).
    status_code: int | None
    latency_ms: int
    error: str | None
    succeeded: bool


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Exponential backoff with jitter: attempt n failed, the next one waits about
    base * 2^(n-1), at most `max_delay`, each wait moved at random by up to `jitter` of
    itself so that deliveries failing together do not all come back at once. With the
    defaults (16 attempts, 1 minute doubling to at most 12 hours) the last attempt comes
    about three days after the first."""

    max_attempts: int = 16
    base_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=12)
    jitter: float = 0.2

    def nominal_delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt, before jitter."""
        if attempts < 1:
            raise ValueError("attempts counts from 1")
        # In float seconds: a timedelta overflows long before 2^62 (past any max_delay).
        factor = 2.0 ** min(attempts - 1, 62)
        seconds = self.base_delay.total_seconds() * factor
        return min(timedelta(seconds=min(seconds, 1e9)), self.max_delay)

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """The wait after the `attempts`-th failed attempt, jittered."""
        draw = (rng or _RANDOM).uniform(-self.jitter, self.jitter)
        return self.nominal_delay(attempts) * (1.0 + draw)

    def is_last(self, attempts: int) -> bool:
        """Whether a delivery whose `attempts`-th attempt failed has no attempt left."""
        return attempts >= self.max_attempts

    def total_nominal(self) -> timedelta:
        """From the first attempt to the last, before jitter."""
        return sum((self.nominal_delay(n) for n in range(1, self.max_attempts)), start=timedelta(0))


_RANDOM = random.Random()


def is_success(status_code: int | None) -> bool:
    """2xx and nothing else: a redirect is not followed, so it is not a delivery."""
    return status_code is not None and 200 <= status_code < 300


def clipped_error(text: str) -> str:
    """An attempt's error as stored: one line, at most MAX_ERROR_LENGTH characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_ERROR_LENGTH else flat[: MAX_ERROR_LENGTH - 1] + "…"


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What an attempt leaves: the delivery's status, and when to try again if it may."""

    status: DeliveryStatus
    next_attempt_at: datetime | None


def after_attempt(
    schedule: RetrySchedule,
    attempts: int,
    succeeded: bool,
    at: datetime,
    rng: random.Random | None = None,
) -> AttemptOutcome:
    """The delivery after its `attempts`-th attempt (counting this one) ended at `at`."""
    if succeeded:
        return AttemptOutcome(DeliveryStatus.SUCCEEDED, None)
    if schedule.is_last(attempts):
        return AttemptOutcome(DeliveryStatus.FAILED, None)
    return AttemptOutcome(DeliveryStatus.PENDING, at + schedule.delay(attempts, rng))


def should_disable(consecutive_failures: int, threshold: int) -> bool:
    """An endpoint is disabled once `threshold` deliveries in a row have failed for good
    (each after its whole retry schedule), with no success in between."""
    return consecutive_failures >= threshold


class WebhookDeliveryRepository(Protocol):
    async def get(
        self, delivery_id: str, *, for_update: bool = False
    ) -> WebhookDelivery | None: ...

    async def schedule_now(self, delivery_id: str) -> WebhookDelivery:
        """Makes the delivery PENDING and due now (its attempt count kept: a delivery past
        its schedule gets one more attempt)."""
        ...


class WebhookDeliveryReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[WebhookDelivery | None]: ...

    async def recent_by_endpoints(
        self, endpoint_ids: Sequence[str], limit: int
    ) -> list[list[WebhookDelivery]]:
        """Each endpoint's newest `limit` deliveries, newest first, in key order."""
        ...

    async def attempts_by_deliveries(
        self, delivery_ids: Sequence[str]
    ) -> list[list[WebhookDeliveryAttempt]]:
        """Each delivery's attempts, oldest first, in key order."""
        ...
