"""Answers kept between requests: parts of an answer that are functions of a few values
(a plan's row version, a balance, an address), made once and reused while they last.

One bounded store per kind for the whole process, not one per plan: the number of compiled
plans times a per-plan bound could otherwise grow without a useful limit.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

MISSING = object()


class Kept:
    """A store of at most `size` answers; the oldest made goes first (a lookup costs one
    dict access: an answer still in use is simply made again after it went)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: dict[Hashable, Any] = {}

    def get(self, key: Hashable) -> Any:
        """The answer kept for `key`, or MISSING."""
        return self._entries.get(key, MISSING)

    def put(self, key: Hashable, answer: Any) -> None:
        self._entries[key] = answer
        if len(self._entries) > self._size:
            del self._entries[next(iter(self._entries))]

    def __len__(self) -> int:
        return len(self._entries)


# Plans' walked answers, by (shape, tenant, id, row version, updated_at): a few KB each.
PLAN_ANSWERS = Kept(2048)
# Customers' balances and addresses, by (shape, field, values): a few hundred bytes each.
MADE_ANSWERS = Kept(16384)
