"""Events: the record of state changes partners care about (the transactional outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

CUSTOMER_CREATED: Final = "customer.created"
CUSTOMER_UPDATED: Final = "customer.updated"
CUSTOMER_ARCHIVED: Final = "customer.archived"
PLAN_CREATED: Final = "plan.created"
PLAN_UPDATED: Final = "plan.updated"
PLAN_ARCHIVED: Final = "plan.archived"

EVENT_TYPES: Final = (
    CUSTOMER_CREATED,
    CUSTOMER_UPDATED,
    CUSTOMER_ARCHIVED,
    PLAN_CREATED,
    PLAN_UPDATED,
    PLAN_ARCHIVED,
)


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    object_id: str
    data: dict[str, Any]
    created_at: datetime
