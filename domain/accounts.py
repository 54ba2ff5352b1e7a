"""Accounts: the merchants (tenants) every object belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    created_at: datetime
