"""Dunning: when failed automatic charges are tried again, and what happens after the last.

The schedule counts days after the first failed attempt (default 1, 3 and 5, Stripe's
"retry up to 3 times within 5 days"); `DUNNING_RETRY_DAYS` and `DUNNING_FINAL_ACTION`
configure it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum


class FinalAction(str, Enum):
    """What becomes of a subscription once its last retry failed (Stripe's options)."""

    CANCEL = "cancel"
    LEAVE_PAST_DUE = "leave_past_due"


@dataclass(frozen=True, slots=True)
class DunningPolicy:
    """Retries `retry_days` days after the first failed attempt (default: 1, 3 and 5)."""

    retry_days: tuple[int, ...] = (1, 3, 5)
    final_action: FinalAction = FinalAction.CANCEL

    def next_attempt_at(self, failed_attempt: int, now: datetime) -> datetime | None:
        """When to try again after attempt number `failed_attempt` failed at `now`; None
        when it was the last."""
        if failed_attempt > len(self.retry_days):
            return None
        before = 0 if failed_attempt == 1 else self.retry_days[failed_attempt - 2]
        return now + timedelta(days=self.retry_days[failed_attempt - 1] - before)
