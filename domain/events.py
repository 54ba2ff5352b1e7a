"""Events: the record of state changes partners care about (the transactional outbox)."""

from __future__ import annotations

import re
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
INVOICE_PAID: Final = "invoice.paid"
PAYMENT_SUCCEEDED: Final = "payment.succeeded"
PAYMENT_FAILED: Final = "payment.failed"
REFUND_CREATED: Final = "refund.created"
REFUND_FAILED: Final = "refund.failed"
CREDIT_NOTE_CREATED: Final = "credit_note.created"
WEBHOOK_ENDPOINT_DISABLED: Final = "webhook_endpoint.disabled"

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
    INVOICE_PAID,
    PAYMENT_SUCCEEDED,
    PAYMENT_FAILED,
    REFUND_CREATED,
    REFUND_FAILED,
    CREDIT_NOTE_CREATED,
    WEBHOOK_ENDPOINT_DISABLED,
)


_POSITION = re.compile(r"([0-9]{20})-([0-9]{19})")
# The database's ranges: a 64-bit transaction id (xid8) and a bigint sequence.
_MAX_TRANSACTION = 2**64 - 1
_MAX_SEQUENCE = 2**63 - 1


@dataclass(frozen=True, slots=True, order=True)
class EventPosition:
    """Where an event stands in the outbox: the transaction that wrote it, then the order of
    writing. Readers only pass positions no open transaction can still write before
    (infra/repositories/events.py), so a poller resuming after a position misses nothing."""

    transaction: int
    sequence: int

    def __str__(self) -> str:
        # Fixed width: integrators may compare two positions as strings.
        return f"{self.transaction:020d}-{self.sequence:019d}"

    @classmethod
    def parse(cls, text: str) -> EventPosition:
        """The position `str()` wrote; ValueError for anything else."""
        found = _POSITION.fullmatch(text)
        if found is None:
            raise ValueError("not an event position")
        position = cls(int(found[1]), int(found[2]))
        if position.transaction > _MAX_TRANSACTION or position.sequence > _MAX_SEQUENCE:
            raise ValueError("event position out of range")
        return position


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    object_id: str
    data: dict[str, Any]
    created_at: datetime
    position: EventPosition
