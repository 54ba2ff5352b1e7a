"""Usage events: the rules an event must meet to be counted, and how it is measured."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from domain.errors import ErrorCode, FieldError
from domain.metrics import PROPERTY_PATTERN, BillableMetric
from domain.money import DECIMAL_PATTERN

MAX_EVENTS_PER_BATCH: Final = 1000
# Producers' clocks drift; an event a little ahead of ours is still "now".
FUTURE_TOLERANCE: Final = timedelta(minutes=5)
# Late events are accepted for a month, so a billing period can be corrected before it closes.
BACKFILL_WINDOW: Final = timedelta(days=31)
IDEMPOTENCY_KEY_MAX_LENGTH: Final = 255
PROPERTIES_MAX: Final = 50
PROPERTY_VALUE_MAX_LENGTH: Final = 1024
# numeric(38, 12) in PostgreSQL: quantities beyond it are refused, never truncated.
MAX_QUANTITY: Final = Decimal(10) ** 26
QUANTITY_MAX_DECIMALS: Final = 12


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which a
# 1,000-event batch pays for thousands of times.
@dataclass(slots=True)
class UsageEventIn:
    """One event as a producer sends it; `index` is its position in the batch."""

    index: int
    idempotency_key: str
    metric_code: str
    timestamp: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    customer_id: str | None = None
    external_customer_id: str | None = None


@dataclass(slots=True)
class UsageEvent:
    """An event that passed every rule, ready to be stored once."""

    position: int  # its index in the batch: orders events of one instant
    idempotency_key: str
    customer_id: str
    metric_code: str
    timestamp: datetime
    properties: dict[str, Any]
    value: Decimal | None


@dataclass(frozen=True, slots=True)
class UsageRejection:
    index: int
    error: FieldError


@dataclass(frozen=True, slots=True)
class UsageBatchResult:
    accepted: int
    duplicates: int
    rejected: list[UsageRejection]


def _path(index: int, *parts: str) -> tuple[str, ...]:
    return ("input", "events", str(index), *parts)


def screen(event: UsageEventIn, now: datetime) -> FieldError | None:
    """The first rule an event breaks on its own (before customers and metrics are known)."""
    key = event.idempotency_key
    if not key or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        return FieldError(
            ErrorCode.INVALID,
            _path(event.index, "idempotencyKey"),
            f"An idempotency key is 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters.",
        )
    if (event.customer_id is None) == (event.external_customer_id is None):
        return FieldError(
            ErrorCode.INVALID,
            _path(event.index, "customerId"),
            "Give either customerId or externalCustomerId.",
        )
    if event.timestamp > now + FUTURE_TOLERANCE:
        return FieldError(
            ErrorCode.INVALID,
            _path(event.index, "timestamp"),
            "The timestamp is in the future.",
        )
    if event.timestamp < now - BACKFILL_WINDOW:
        return FieldError(
            ErrorCode.INVALID,
            _path(event.index, "timestamp"),
            f"The timestamp is older than the {BACKFILL_WINDOW.days}-day backfill window.",
        )
    if not isinstance(event.properties, dict) or len(event.properties) > PROPERTIES_MAX:
        return FieldError(
            ErrorCode.INVALID,
            _path(event.index, "properties"),
            f"Properties are an object of at most {PROPERTIES_MAX} keys.",
        )
    for name, value in event.properties.items():
        if not PROPERTY_PATTERN.fullmatch(name):
            return FieldError(
                ErrorCode.INVALID,
                _path(event.index, "properties"),
                "Property names are 1 to 64 letters, digits, '_', '.' or '-'.",
            )
        if isinstance(value, dict | list) or len(str(value)) > PROPERTY_VALUE_MAX_LENGTH:
            return FieldError(
                ErrorCode.INVALID,
                _path(event.index, "properties", str(name)[:64]),
                f"A property is a string, number or boolean of at most "
                f"{PROPERTY_VALUE_MAX_LENGTH} characters.",
            )
    return None


def measure(event: UsageEventIn, metric: BillableMetric) -> Decimal | None | FieldError:
    """The number the metric aggregates for this event (None when it counts events or
    distinct values), or the error that keeps the event out."""
    if not metric.aggregation.needs_property:
        return None
    assert metric.property is not None
    path = _path(event.index, "properties", metric.property)
    if event.properties.get(metric.property) is None:  # absent, or JSON null
        return FieldError(
            ErrorCode.REQUIRED, path, f"{metric.code} needs the property {metric.property}."
        )
    if not metric.aggregation.needs_number:
        return None
    number = _number(event.properties[metric.property])
    if number is None:
        return FieldError(
            ErrorCode.INVALID,
            path,
            f"{metric.property} must be a non-negative number with at most "
            f"{QUANTITY_MAX_DECIMALS} decimals.",
        )
    return number


def _number(value: Any) -> Decimal | None:
    """A non-negative quantity storable exactly (numeric(38, 12)), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        number = value  # a JSON number as written (infra.jsoncodec)
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))  # the shortest text that reads back as this float
    elif isinstance(value, str) and DECIMAL_PATTERN.fullmatch(value):
        number = Decimal(value)  # a plain numeral: no "1_000", "1e3" or padding
    else:
        return None
    if not number.is_finite() or number.is_signed() and not number.is_zero():
        return None
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -QUANTITY_MAX_DECIMALS:
        return None  # would be rounded when stored
    if number.copy_abs() >= MAX_QUANTITY:
        return None
    return number
