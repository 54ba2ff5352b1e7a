"""Billable metrics: what usage is counted, and how a period's events become one quantity."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Final

from domain.errors import ErrorCode, FieldErrors

CODE_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
PROPERTY_PATTERN: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
NAME_MAX_LENGTH: Final = 200
FILTERS_MAX: Final = 10
FILTER_VALUES_MAX: Final = 20
FILTER_VALUE_MAX_LENGTH: Final = 100


class Aggregation(str, Enum):
    """How a period's events become one quantity (Lago's and Stripe meters' aggregations)."""

    COUNT = "COUNT"  # number of events
    SUM = "SUM"  # sum of a numeric property
    MAX = "MAX"  # largest value of a numeric property
    UNIQUE_COUNT = "UNIQUE_COUNT"  # number of distinct values of a property
    LATEST = "LATEST"  # the numeric property of the period's last event

    @property
    def needs_property(self) -> bool:
        return self.value != "COUNT"

    @property
    def needs_number(self) -> bool:
        # Plain strings: looking enum members up on the class is slow on a hot path.
        return self.value in ("SUM", "MAX", "LATEST")


@dataclass(frozen=True, slots=True)
class MetricDraft:
    code: str
    name: str
    aggregation: Aggregation
    property: str | None = None
    # Only events whose property has one of the listed values count, e.g. {"region": ["eu"]}.
    filters: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BillableMetric:
    id: str
    code: str
    name: str
    aggregation: Aggregation
    property: str | None
    filters: dict[str, list[str]]
    created_at: datetime

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "aggregation": self.aggregation.value,
            "property": self.property,
            "filters": self.filters,
        }


def validate_metric(draft: MetricDraft) -> MetricDraft:
    errors = FieldErrors()
    code = (draft.code or "").strip()
    if not CODE_PATTERN.fullmatch(code):
        errors.add(
            ErrorCode.INVALID,
            ("input", "code"),
            "A code is 1 to 64 lowercase letters, digits, '_', '.' or '-', starting with a "
            "letter or digit.",
        )
    name = (draft.name or "").strip()
    if not name:
        errors.add(ErrorCode.REQUIRED, ("input", "name"), "Name is required.")
    elif len(name) > NAME_MAX_LENGTH:
        errors.add(ErrorCode.TOO_LONG, ("input", "name"), f"At most {NAME_MAX_LENGTH} characters.")
    prop = draft.property.strip() if draft.property else None
    if draft.aggregation.needs_property and not prop:
        errors.add(
            ErrorCode.REQUIRED,
            ("input", "property"),
            f"{draft.aggregation.value} aggregates a property: name it.",
        )
    elif prop is not None and not PROPERTY_PATTERN.fullmatch(prop):
        errors.add(
            ErrorCode.INVALID,
            ("input", "property"),
            "A property name is 1 to 64 letters, digits, '_', '.' or '-'.",
        )
    if not draft.aggregation.needs_property:
        prop = None
    _check_filters(errors, draft.filters)
    errors.raise_if_any()
    return MetricDraft(
        code=code, name=name, aggregation=draft.aggregation, property=prop, filters=draft.filters
    )


def _check_filters(errors: FieldErrors, filters: Any) -> None:
    if not isinstance(filters, dict):
        errors.add(ErrorCode.INVALID, ("input", "filters"), "Filters map a property to values.")
        return
    if len(filters) > FILTERS_MAX:
        errors.add(ErrorCode.TOO_MANY, ("input", "filters"), f"At most {FILTERS_MAX} filters.")
    for key, values in filters.items():
        path = ("input", "filters", str(key)[:64])
        if not isinstance(key, str) or not PROPERTY_PATTERN.fullmatch(key):
            errors.add(ErrorCode.INVALID, path, "A filter names a property.")
        elif (
            not isinstance(values, list)
            or not 1 <= len(values) <= FILTER_VALUES_MAX
            or not all(isinstance(v, str) and 0 < len(v) <= FILTER_VALUE_MAX_LENGTH for v in values)
        ):
            errors.add(
                ErrorCode.INVALID,
                path,
                f"A filter lists 1 to {FILTER_VALUES_MAX} values of up to "
                f"{FILTER_VALUE_MAX_LENGTH} characters.",
            )
