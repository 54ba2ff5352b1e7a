"""The audit log: who changed what, when, and how it ended, without personal data.

Every mutation that runs leaves one entry (and so does a personal-data export): the
caller (tenant, OAuth client, token subject), the operation, the ids of the objects it
named or answered, a summary of its input, and its outcome. Entries are never changed nor
deleted (the database refuses it to the application's role).

The input summary keeps the shape of the input (its keys) and only values that cannot
identify a person: numbers, booleans, enums, times, ids and a few codes. Free text is
replaced, because a name, an email or an address can hide in any string; the fields that
hold personal data (a customer's address, tax ids, metadata, usage properties...) are
replaced whole, whatever they contain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Final, Protocol

from domain.queries import PageRequest

REDACTED: Final = "[redacted]"
MAX_OBJECT_IDS: Final = 100

# Fields whose whole value is personal data or may carry it (snake case, as inputs name
# them in Python): replaced whatever their type.
PERSONAL_FIELDS: Final = frozenset(
    {
        "name",
        "email",
        "address",
        "tax_ids",
        "metadata",
        "properties",
        "external_id",
        "external_customer_id",
        "description",
        "memo",
        "url",
        "provider_token",
        "secret",
        "token",
    }
)

# Text fields whose values are codes of the catalog or of the API, never about a person.
TEXT_KEPT: Final = frozenset(
    {
        "currency",
        "code",
        "metric_code",
        "country",
        "region",
        "prefix",
        "events",
        "coupon_code",
        "preferred_locale",
    }
)


def is_personal(key: str) -> bool:
    return key in PERSONAL_FIELDS or "external" in key


def names_an_id(key: str) -> bool:
    """Whether `key` holds an object id (`id`, `…_id`, `…_ids`): kept when it is one of ours."""
    return key == "id" or key.endswith(("_id", "_ids"))


def keeps_text(key: str) -> bool:
    """Whether any string under `key` is kept: codes of the catalog or of the API."""
    return key in TEXT_KEPT


class AuditOutcome(Enum):
    OK = "OK"
    USER_ERRORS = "USER_ERRORS"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class AuditEntryDraft:
    """What the request tells of one operation; the log adds the id and the time."""

    client_id: str
    subject: str | None
    operation: str
    operation_name: str | None
    object_ids: tuple[str, ...]
    input: dict[str, Any]
    outcome: AuditOutcome
    error_codes: tuple[str, ...] = ()
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: str
    tenant_id: str
    occurred_at: datetime
    client_id: str
    subject: str | None
    operation: str
    operation_name: str | None
    object_ids: tuple[str, ...]
    input: dict[str, Any]
    outcome: AuditOutcome
    error_codes: tuple[str, ...]
    request_id: str | None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    operations: Sequence[str] = ()
    client_id: str | None = None
    object_id: str | None = None
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None
    outcomes: Sequence[AuditOutcome] = field(default=())


class AuditNotRecorded(Exception):
    """The entry of an operation could not be written: the request must not commit."""


class AuditRepository(Protocol):
    async def add(self, entry_id: str, draft: AuditEntryDraft) -> None: ...


class AuditReads(Protocol):
    async def page(
        self, where: AuditFilter, descending: bool, page: PageRequest
    ) -> list[AuditEntry]: ...

    async def count(self, where: AuditFilter) -> int: ...
