"""What list queries ask for: filters, sort orders and page windows, independent of SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Final

MAX_PAGE_SIZE: Final = 100
DEFAULT_PAGE_SIZE: Final = 20


@dataclass(frozen=True, slots=True)
class Keyset:
    """A position in a list: the sort key's value and the id that breaks ties."""

    value: Any
    id: str


@dataclass(frozen=True, slots=True)
class PageRequest:
    """`first/after` reads forwards, `last/before` backwards; both cursors may bound the window."""

    limit: int
    backwards: bool = False
    after: Keyset | None = None
    before: Keyset | None = None


class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


class CustomerSort(str, Enum):
    CREATED_AT = "created_at"
    NAME = "name"


@dataclass(frozen=True, slots=True)
class CustomerFilter:
    email: str | None = None
    search: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    archived: bool | None = None


@dataclass(frozen=True, slots=True)
class CouponFilter:
    code: str | None = None


@dataclass(frozen=True, slots=True)
class TaxRateFilter:
    country: str | None = None  # ISO 3166-1 alpha-2, upper case as stored
    active: bool | None = None


@dataclass(frozen=True, slots=True)
class EventFilter:
    types: Sequence[str] = ()
    object_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionFilter:
    statuses: Sequence[str] = ()
    customer_id: str | None = None
    plan_id: str | None = None


@dataclass(frozen=True, slots=True)
class InvoiceFilter:
    statuses: Sequence[str] = ()
    customer_id: str | None = None
    subscription_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    due_before: datetime | None = None
    # Only invoices with something left to pay (open or uncollectible, amount due > 0).
    amount_due_positive: bool = False


@dataclass(frozen=True, slots=True)
class CreditNoteFilter:
    invoice_id: str | None = None
    customer_id: str | None = None


class InvalidQuery(ValueError):
    """A list argument that cannot be served; the message is for the caller."""


def clean_filter_text(text: str | None, *, name: str, max_length: int = 200) -> str | None:
    """Trimmed filter text, or None when blank; refuses what PostgreSQL cannot compare."""
    if text is None or not text.strip():
        return None
    if len(text) > max_length:
        raise InvalidQuery(f"`{name}` is at most {max_length} characters.")
    if "\x00" in text:
        raise InvalidQuery(f"`{name}` cannot contain NUL characters.")
    return text.strip()
