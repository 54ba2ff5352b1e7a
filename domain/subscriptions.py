"""Subscriptions: a customer on a plan, billed period after period.

The states, as Stripe's: TRIALING (free until `trial_end`), ACTIVE, PAST_DUE (an invoice
failed to be paid; set by collection), CANCELED (ended: nothing more is billed). Canceling at
period end keeps the subscription ACTIVE with `cancel_at_period_end` until the period ends,
and can be undone until then.

Periods follow the billing cycle anchored at `billing_cycle_anchor`
(domain.billing_periods). Licensed and flat prices are billed in advance at the start of a
period; metered prices in arrears at its end; a trial's period is free.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Final

from domain.errors import DomainError, ErrorCode, FieldError, FieldErrors
from domain.plans import BillingMode, Plan, PlanPrice

QUANTITY_MAX: Final = 1_000_000_000
# How far back a subscription may start: a merchant moving from another system brings the
# current period along, not years of history.
BACKDATE_MAX: Final = timedelta(days=366)
TRIAL_DAYS_MAX: Final = 730


class SubscriptionStatus(str, Enum):
    TRIALING = "TRIALING"
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    CANCELED = "CANCELED"


class CollectionMethod(str, Enum):
    """CHARGE_AUTOMATICALLY: the worker charges the customer's default payment method when
    an invoice is finalized, and retries per the dunning schedule. SEND_INVOICE: the
    customer pays by other means (`payInvoice`)."""

    CHARGE_AUTOMATICALLY = "CHARGE_AUTOMATICALLY"
    SEND_INVOICE = "SEND_INVOICE"


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    customer_id: str
    plan_id: str
    status: SubscriptionStatus
    currency: str
    quantity: int  # of each licensed price
    price_ids: tuple[str, ...]  # the plan's prices it is billed on (subscription items)
    start: datetime
    billing_cycle_anchor: datetime
    trial_end: datetime | None
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None
    created_at: datetime
    updated_at: datetime
    collection_method: CollectionMethod = CollectionMethod.CHARGE_AUTOMATICALLY

    @property
    def trialing(self) -> bool:
        return self.status is SubscriptionStatus.TRIALING

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "customerId": self.customer_id,
            "planId": self.plan_id,
            "status": self.status.value,
            "currency": self.currency,
            "quantity": self.quantity,
            "currentPeriodStart": self.current_period_start.isoformat(),
            "currentPeriodEnd": self.current_period_end.isoformat(),
            "trialEnd": None if self.trial_end is None else self.trial_end.isoformat(),
            "cancelAtPeriodEnd": self.cancel_at_period_end,
            "canceledAt": None if self.canceled_at is None else self.canceled_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class SubscriptionDraft:
    customer_id: str
    plan_id: str
    quantity: int = 1
    start: datetime | None = None  # default: now
    trial_end: datetime | None = None
    trial_days: int | None = None  # default: the plan's
    billing_cycle_anchor: datetime | None = None  # default: the end of the trial, or start
    coupon_id: str | None = None
    collection_method: CollectionMethod = CollectionMethod.CHARGE_AUTOMATICALLY


def validate_draft(draft: SubscriptionDraft, now: datetime) -> None:
    errors = FieldErrors()
    check_quantity(errors, draft.quantity, ("input", "quantity"))
    if draft.start is not None and not now - BACKDATE_MAX <= draft.start <= now:
        errors.add(
            ErrorCode.INVALID,
            ("input", "startDate"),
            "A subscription starts now or up to a year in the past.",
        )
    if draft.trial_end is not None and draft.trial_days is not None:
        errors.add(
            ErrorCode.INVALID, ("input", "trialEnd"), "Give a trial end or trial days, not both."
        )
    if draft.trial_days is not None and not 0 <= draft.trial_days <= TRIAL_DAYS_MAX:
        errors.add(
            ErrorCode.INVALID, ("input", "trialDays"), f"A trial is 0 to {TRIAL_DAYS_MAX} days."
        )
    start = draft.start or now
    if draft.trial_end is not None and not start < draft.trial_end <= start + timedelta(
        days=TRIAL_DAYS_MAX
    ):
        errors.add(
            ErrorCode.INVALID,
            ("input", "trialEnd"),
            f"A trial ends after the start, at most {TRIAL_DAYS_MAX} days later.",
        )
    if draft.billing_cycle_anchor is not None and not (
        start <= draft.billing_cycle_anchor <= start + timedelta(days=366)
    ):
        errors.add(
            ErrorCode.INVALID,
            ("input", "billingCycleAnchor"),
            "The billing cycle anchor is within a year after the start.",
        )
    errors.raise_if_any()


def check_quantity(errors: FieldErrors, quantity: int, field: tuple[str, ...]) -> None:
    """A licensed quantity counts whole units (seats): GraphQL's Int already refuses
    fractions, and `domain.plans.whole_units` says which prices it applies to."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        errors.add(ErrorCode.INVALID, field, "A quantity is a whole number of units.")
    elif not 1 <= quantity <= QUANTITY_MAX:
        errors.add(ErrorCode.INVALID, field, f"A quantity is 1 to {QUANTITY_MAX:,}.")


def trial_end_of(draft: SubscriptionDraft, plan: Plan, start: datetime) -> datetime | None:
    if draft.trial_end is not None:
        return draft.trial_end
    days = plan.trial_days if draft.trial_days is None else draft.trial_days
    return start + timedelta(days=days) if days else None


def check_subscribable(plan: Plan, currency: str, field: tuple[str, ...] = ("input",)) -> None:
    """A plan can be subscribed to while it is not archived and has prices in the
    customer's currency: a price is charged only in its own currency."""
    if plan.archived:
        raise DomainError(
            [FieldError(ErrorCode.ARCHIVED, (*field, "planId"), "The plan is archived.")]
        )
    if not prices_in(plan, currency):
        raise DomainError(
            [
                FieldError(
                    ErrorCode.CURRENCY_MISMATCH,
                    (*field, "planId"),
                    f"The plan has no price in {currency}, the customer's currency "
                    f"(it is priced in {', '.join(plan.currencies)}).",
                )
            ]
        )


def prices_in(plan: Plan, currency: str) -> tuple[PlanPrice, ...]:
    """The plan's prices a customer of `currency` is billed on."""
    return tuple(price for price in plan.prices if price.currency == currency)


def in_advance(price: PlanPrice) -> bool:
    """Licensed and flat prices are billed at the start of a period; metered at its end."""
    return price.billing_mode is BillingMode.LICENSED


def require_not_canceled(subscription: Subscription) -> None:
    if subscription.status is SubscriptionStatus.CANCELED:
        raise DomainError(
            [
                FieldError(
                    ErrorCode.ALREADY_CANCELED,
                    ("input", "id"),
                    "The subscription is already canceled.",
                )
            ]
        )
