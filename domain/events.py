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
SUBSCRIPTION_CREATED: Final = "subscription.created"
SUBSCRIPTION_UPDATED: Final = "subscription.updated"
SUBSCRIPTION_CANCELED: Final = "subscription.canceled"
SUBSCRIPTION_RENEWED: Final = "subscription.renewed"
INVOICE_CREATED: Final = "invoice.created"
INVOICE_FINALIZED: Final = "invoice.finalized"
INVOICE_VOIDED: Final = "invoice.voided"
INVOICE_MARKED_UNCOLLECTIBLE: Final = "invoice.marked_uncollectible"

EVENT_TYPES: Final = (
    CUSTOMER_CREATED,
    CUSTOMER_UPDATED,
    CUSTOMER_ARCHIVED,
    PLAN_CREATED,
    PLAN_UPDATED,
    PLAN_ARCHIVED,
    SUBSCRIPTION_CREATED,
    SUBSCRIPTION_UPDATED,
    SUBSCRIPTION_CANCELED,
    SUBSCRIPTION_RENEWED,
    INVOICE_CREATED,
    INVOICE_FINALIZED,
    INVOICE_VOIDED,
    INVOICE_MARKED_UNCOLLECTIBLE,
)


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    object_id: str
    data: dict[str, Any]
    created_at: datetime
