"""Plans: what a merchant sells, billed every interval, with one or more prices.

A plan's prices (and minimum commitments) can be replaced only while no subscription uses
it: once customers are billed on them, changing a price would rewrite what they agreed to,
so a new price means a new plan (a new version). Name, description and trial can always
change. Replaced prices get new ids: a price id always means one price.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from domain.errors import ErrorCode, FieldErrors
from domain.metrics import Aggregation
from domain.money import Money
from domain.pricing import (
    MODEL_KINDS as MODEL_KINDS,  # re-exported: plans' readers name a price's model by it
)
from domain.pricing import (
    FlatFee,
    Percentage,
    PriceBreakdown,
    PriceModel,
    price_errors,
    price_for,
    validate_price,
)

CODE_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
NAME_MAX_LENGTH: Final = 200
DESCRIPTION_MAX_LENGTH: Final = 2000
PRICES_MAX: Final = 20
TRIAL_DAYS_MAX: Final = 730
INTERVAL_COUNT_MAX: Final = 36


class Interval(str, Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"


class BillingMode(str, Enum):
    """LICENSED: a quantity set on the subscription (seats). METERED: the period's usage of
    a billable metric."""

    LICENSED = "LICENSED"
    METERED = "METERED"


def whole_units(billing_mode: BillingMode, model: PriceModel) -> bool:
    """Whether a price's quantity must be whole: a licensed quantity counts seats or units;
    a percentage's quantity is a transaction amount, never whole."""
    return billing_mode is BillingMode.LICENSED and not isinstance(model, Percentage)


def price_quantity(
    model: PriceModel,
    billing_mode: BillingMode,
    quantity: Decimal,
    field: tuple[str, ...] = ("quantity",),
) -> PriceBreakdown:
    """What a quantity costs under a price billed this way: a licensed quantity must be
    whole (`whole_units`), a metered one may be fractional."""
    return price_for(model, quantity, whole_units=whole_units(billing_mode, model), field=field)


def preview_breakdown(
    model: PriceModel,
    billing_mode: BillingMode,
    quantity: Decimal,
    field: tuple[str, ...] = ("price",),
) -> PriceBreakdown:
    """What a quantity would cost under a price not created yet: everything wrong with the
    model is refused at paths under `field`, then the quantity as `price_quantity` does."""
    validate_price(model, field)
    return price_quantity(model, billing_mode, quantity)


@dataclass(frozen=True, slots=True)
class PriceDraft:
    model: PriceModel
    billing_mode: BillingMode = BillingMode.LICENSED
    metric_code: str | None = None


@dataclass(frozen=True, slots=True)
class PlanPrice:
    id: str
    model: PriceModel
    billing_mode: BillingMode
    metric_code: str | None

    @property
    def currency(self) -> str:
        return self.model.currency


@dataclass(frozen=True, slots=True)
class PlanDraft:
    code: str
    name: str
    interval: Interval
    prices: tuple[PriceDraft, ...]
    interval_count: int = 1
    description: str | None = None
    trial_days: int = 0
    # At most one per currency: the period's minimum spend in that currency.
    minimum_commitments: tuple[Money, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    code: str
    name: str
    description: str | None
    interval: Interval
    interval_count: int
    trial_days: int
    minimum_commitments: tuple[Money, ...]
    prices: tuple[PlanPrice, ...]
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    @property
    def currencies(self) -> list[str]:
        return sorted({price.currency for price in self.prices})

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "description": self.description,
            "interval": self.interval.value,
            "intervalCount": self.interval_count,
            "trialDays": self.trial_days,
            "currencies": self.currencies,
            "priceIds": [price.id for price in self.prices],
            "archived": self.archived,
        }


@dataclass(frozen=True, slots=True)
class PlanChanges:
    """What a caller asks to change; None leaves a field as it is."""

    name: str | None = None
    description: str | None = None
    clear_description: bool = False
    trial_days: int | None = None
    # Replace the whole list; allowed only while no subscription uses the plan.
    prices: tuple[PriceDraft, ...] | None = None
    minimum_commitments: tuple[Money, ...] | None = None

    @property
    def changes_prices(self) -> bool:
        return self.prices is not None or self.minimum_commitments is not None


def validate_plan(draft: PlanDraft, metrics: Mapping[str, Aggregation]) -> PlanDraft:
    """`metrics`: the account's billable metrics (code: aggregation) that the draft's
    metered prices name."""
    errors = FieldErrors()
    code = (draft.code or "").strip()
    if not CODE_PATTERN.fullmatch(code):
        errors.add(
            ErrorCode.INVALID,
            ("input", "code"),
            "A code is 1 to 64 lowercase letters, digits, '_', '.' or '-'.",
        )
    name = _name(errors, draft.name)
    description = _description(errors, draft.description)
    if not 1 <= draft.interval_count <= INTERVAL_COUNT_MAX:
        errors.add(
            ErrorCode.INVALID,
            ("input", "intervalCount"),
            f"Bill every 1 to {INTERVAL_COUNT_MAX} intervals.",
        )
    _trial(errors, draft.trial_days)
    if not draft.prices:
        errors.add(ErrorCode.REQUIRED, ("input", "prices"), "A plan has at least one price.")
    elif len(draft.prices) > PRICES_MAX:
        errors.add(ErrorCode.TOO_MANY, ("input", "prices"), f"At most {PRICES_MAX} prices.")
    for index, price in enumerate(draft.prices):
        path = ("input", "prices", str(index))
        for error in price_errors(price.model, path):
            errors.errors.append(error)
        _billing(errors, price, metrics, path)
    seen: set[str] = set()
    currencies = {price.model.currency for price in draft.prices}
    for index, minimum in enumerate(draft.minimum_commitments):
        path = ("input", "minimumCommitments", str(index))
        if minimum.currency in seen:
            errors.add(ErrorCode.DUPLICATE, path, "One minimum commitment per currency.")
        elif minimum.currency not in currencies:
            errors.add(ErrorCode.INVALID, path, "The plan has no price in this currency.")
        elif minimum.minor_units <= 0:
            errors.add(ErrorCode.INVALID, path, "A minimum commitment is positive.")
        seen.add(minimum.currency)
    errors.raise_if_any()
    return PlanDraft(
        code=code,
        name=name,
        interval=draft.interval,
        prices=draft.prices,
        interval_count=draft.interval_count,
        description=description,
        trial_days=draft.trial_days,
        minimum_commitments=draft.minimum_commitments,
    )


def validate_changes(changes: PlanChanges) -> PlanChanges:
    errors = FieldErrors()
    name = _name(errors, changes.name) if changes.name is not None else None
    description = _description(errors, changes.description)
    if changes.trial_days is not None:
        _trial(errors, changes.trial_days)
    errors.raise_if_any()
    return PlanChanges(
        name=name,
        description=description,
        clear_description=changes.clear_description,
        trial_days=changes.trial_days,
        prices=changes.prices,
        minimum_commitments=changes.minimum_commitments,
    )


def as_draft(plan: Plan, changes: PlanChanges) -> PlanDraft:
    """The plan as it would be created with these changes, so a change of prices is checked
    by exactly the rules that check a new plan (`validate_plan`)."""
    return PlanDraft(
        code=plan.code,
        name=plan.name,
        interval=plan.interval,
        interval_count=plan.interval_count,
        trial_days=plan.trial_days,
        prices=(
            changes.prices
            if changes.prices is not None
            else tuple(PriceDraft(p.model, p.billing_mode, p.metric_code) for p in plan.prices)
        ),
        minimum_commitments=(
            changes.minimum_commitments
            if changes.minimum_commitments is not None
            else plan.minimum_commitments
        ),
    )


def _name(errors: FieldErrors, name: str) -> str:
    name = (name or "").strip()
    if not name:
        errors.add(ErrorCode.REQUIRED, ("input", "name"), "Name is required.")
    elif len(name) > NAME_MAX_LENGTH:
        errors.add(ErrorCode.TOO_LONG, ("input", "name"), f"At most {NAME_MAX_LENGTH} characters.")
    return name


def _description(errors: FieldErrors, description: str | None) -> str | None:
    if description is None or not description.strip():
        return None
    if len(description) > DESCRIPTION_MAX_LENGTH:
        errors.add(
            ErrorCode.TOO_LONG,
            ("input", "description"),
            f"At most {DESCRIPTION_MAX_LENGTH} characters.",
        )
    return description.strip()


def _trial(errors: FieldErrors, trial_days: int) -> None:
    if not 0 <= trial_days <= TRIAL_DAYS_MAX:
        errors.add(
            ErrorCode.INVALID, ("input", "trialDays"), f"0 to {TRIAL_DAYS_MAX} days of trial."
        )


def _billing(
    errors: FieldErrors,
    price: PriceDraft,
    metrics: Mapping[str, Aggregation],
    path: tuple[str, ...],
) -> None:
    metered = price.billing_mode is BillingMode.METERED
    if metered and not price.metric_code:
        errors.add(
            ErrorCode.REQUIRED,
            (*path, "metricCode"),
            "A metered price names the billable metric it charges for.",
        )
    elif metered and price.metric_code not in metrics:
        errors.add(ErrorCode.NOT_FOUND, (*path, "metricCode"), "Billable metric not found.")
    elif (
        isinstance(price.model, Percentage)
        and metrics.get(price.metric_code or "", Aggregation.SUM) is not Aggregation.SUM
    ):
        errors.add(
            ErrorCode.INVALID,
            (*path, "metricCode"),
            "A percentage price charges a SUM metric: each event is one transaction, its "
            "property the transaction's amount.",
        )
    elif not metered and price.metric_code:
        errors.add(
            ErrorCode.INVALID,
            (*path, "metricCode"),
            "Only a metered price names a billable metric.",
        )
    if metered and isinstance(price.model, FlatFee):
        errors.add(ErrorCode.INVALID, (*path, "billingMode"), "A flat fee is not metered.")
    if isinstance(price.model, Percentage) and not metered:
        errors.add(
            ErrorCode.INVALID,
            (*path, "billingMode"),
            "A percentage price is metered: it charges a metric of transaction amounts.",
        )
