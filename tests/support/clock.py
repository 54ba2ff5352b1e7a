"""A clock that says what the test wants (`domain.ports.Clock`)."""

from __future__ import annotations

from datetime import datetime, timedelta


class FixedClock:
    """Always `at`, until the test moves it on."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a clock tells aware times")
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by
