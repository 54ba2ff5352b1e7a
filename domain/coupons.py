"""Coupons and discounts: a coupon is the merchant's offer, a discount the coupon applied
to one customer (or one of their subscriptions).

The model is Stripe's: a coupon takes a percentage or a fixed amount off, once, for a
number of months, or forever. `max_redemptions` and `redeem_by` limit when a coupon can be
*applied*, not how long a discount already applied lasts: a FOREVER discount redeemed the
day before `redeem_by` keeps discounting after it. The amounts themselves are worked out
per invoice by `domain.invoice_totals`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Final

from domain.billing_periods import add_interval
from domain.errors import ErrorCode, FieldErrors
from domain.ids import new_id, prefix_of
from domain.money import Money
from domain.percentages import check_percentage
from domain.plans import CODE_PATTERN, Interval

NAME_MAX_LENGTH: Final = 200
DURATION_IN_MONTHS_MAX: Final = 120  # ten years: beyond it, FOREVER says what is meant
APPLIES_TO_PLANS_MAX: Final = 50


class CouponDuration(str, Enum):
    """How long a discount from the coupon lasts once applied."""

    ONCE = "ONCE"  # the first invoice after it is applied
    REPEATING = "REPEATING"  # `duration_in_months` calendar months
    FOREVER = "FOREVER"


@dataclass(frozen=True, slots=True)
class CouponDraft:
    """What a caller asks for when creating a coupon, before validation.

    Exactly one of `percent_off` and `amount_off`; `duration` defaults to ONCE as Stripe's
    does. `applies_to_plans` empty means every plan.
    """

    name: str
    percent_off: Decimal | None = None
    amount_off: Money | None = None
    duration: CouponDuration = CouponDuration.ONCE
    duration_in_months: int | None = None
    max_redemptions: int | None = None
    redeem_by: datetime | None = None
    applies_to_plans: tuple[str, ...] = ()
    code: str | None = None


@dataclass(frozen=True, slots=True)
class Coupon:
    id: str
    name: str
    percent_off: Decimal | None
    amount_off: Money | None
    duration: CouponDuration
    duration_in_months: int | None
    max_redemptions: int | None
    redeem_by: datetime | None
    applies_to_plans: tuple[str, ...]
    code: str | None
    times_redeemed: int
    created_at: datetime
    archived_at: datetime | None

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


def validate_coupon(
    draft: CouponDraft, now: datetime, field: tuple[str, ...] = ("input",)
) -> CouponDraft:
    """Normalise a draft or raise a DomainError listing every problem with its field path.

    That the plans of `applies_to_plans` exist is the service's to check (NOT_FOUND): this
    rule only sees ids.
    """
    errors = FieldErrors()
    name = (draft.name or "").strip()
    if not name:
        errors.add(ErrorCode.REQUIRED, (*field, "name"), "Name is required.")
    elif len(name) > NAME_MAX_LENGTH:
        errors.add(ErrorCode.TOO_LONG, (*field, "name"), f"At most {NAME_MAX_LENGTH} characters.")
    elif "\x00" in name:
        # PostgreSQL text cannot hold NUL; refuse it as input, not as a server error.
        errors.add(ErrorCode.INVALID, (*field, "name"), "Text cannot contain NUL characters.")
    _check_value(errors, draft, field)
    _check_duration(errors, draft, field)
    if draft.max_redemptions is not None and draft.max_redemptions < 1:
        errors.add(
            ErrorCode.INVALID,
            (*field, "maxRedemptions"),
            "A coupon can be redeemed at least once.",
        )
    if draft.redeem_by is not None:
        if draft.redeem_by.tzinfo is None:
            errors.add(
                ErrorCode.INVALID, (*field, "redeemBy"), "A date and time with its UTC offset."
            )
        elif draft.redeem_by <= now:
            errors.add(ErrorCode.INVALID, (*field, "redeemBy"), "Redeem-by is in the future.")
    plans = tuple(dict.fromkeys(draft.applies_to_plans))  # each plan once, in the given order
    if len(plans) > APPLIES_TO_PLANS_MAX:
        errors.add(
            ErrorCode.TOO_MANY,
            (*field, "appliesToPlans"),
            f"A coupon is restricted to at most {APPLIES_TO_PLANS_MAX} plans.",
        )
    for index, plan_id in enumerate(draft.applies_to_plans):
        if prefix_of(plan_id) != "plan":
            errors.add(ErrorCode.INVALID, (*field, "appliesToPlans", str(index)), "Not a plan id.")
    code = (draft.code or "").strip() or None
    if code is not None and not CODE_PATTERN.fullmatch(code):
        errors.add(
            ErrorCode.INVALID,
            (*field, "code"),
            "A code is 1 to 64 lowercase letters, digits, '_', '.' or '-'.",
        )
    errors.raise_if_any()
    return replace(draft, name=name, applies_to_plans=plans, code=code)


def _check_value(errors: FieldErrors, draft: CouponDraft, field: tuple[str, ...]) -> None:
    if draft.percent_off is None and draft.amount_off is None:
        errors.add(
            ErrorCode.REQUIRED,
            (*field, "percentOff"),
            "A coupon takes a percentage (percentOff) or an amount (amountOff) off.",
        )
    elif draft.percent_off is not None and draft.amount_off is not None:
        errors.add(
            ErrorCode.INVALID,
            (*field, "amountOff"),
            "A coupon takes either a percentage or an amount off, not both.",
        )
    if draft.percent_off is not None:
        check_percentage(errors, draft.percent_off, (*field, "percentOff"), zero_allowed=False)
    # Money refuses an unknown currency when it is built: only the sign is left to check.
    if draft.amount_off is not None and draft.amount_off.minor_units <= 0:
        errors.add(ErrorCode.INVALID, (*field, "amountOff"), "An amount off is positive.")


def _check_duration(errors: FieldErrors, draft: CouponDraft, field: tuple[str, ...]) -> None:
    months = draft.duration_in_months
    if draft.duration is CouponDuration.REPEATING:
        if months is None:
            errors.add(
                ErrorCode.REQUIRED,
                (*field, "durationInMonths"),
                "A repeating coupon says for how many months it discounts.",
            )
        elif not 1 <= months <= DURATION_IN_MONTHS_MAX:
            errors.add(
                ErrorCode.INVALID,
                (*field, "durationInMonths"),
                f"1 to {DURATION_IN_MONTHS_MAX} months.",
            )
    elif months is not None:
        errors.add(
            ErrorCode.INVALID,
            (*field, "durationInMonths"),
            "Only a repeating coupon lasts a number of months.",
        )


def check_redeemable(
    coupon: Coupon,
    *,
    now: datetime,
    currency: str,
    plan_ids: Collection[str] | None,
    field: tuple[str, ...] = ("input", "couponId"),
) -> None:
    """Raise a DomainError with every reason the coupon cannot be applied now to a customer
    billed in `currency`; `plan_ids` are the plans it would discount (None: not known yet,
    such as a coupon applied to the customer rather than to a subscription)."""
    errors = FieldErrors()
    if coupon.archived:
        errors.add(ErrorCode.COUPON_EXPIRED, field, "This coupon is archived.")
    elif coupon.redeem_by is not None and now >= coupon.redeem_by:
        errors.add(ErrorCode.COUPON_EXPIRED, field, "This coupon can no longer be redeemed.")
    if coupon.max_redemptions is not None and coupon.times_redeemed >= coupon.max_redemptions:
        errors.add(
            ErrorCode.COUPON_EXHAUSTED,
            field,
            "This coupon has been redeemed as many times as it may be.",
        )
    if (
        coupon.applies_to_plans
        and plan_ids is not None
        and not set(plan_ids) & set(coupon.applies_to_plans)
    ):
        errors.add(
            ErrorCode.COUPON_NOT_APPLICABLE,
            field,
            "This coupon applies to none of these plans.",
        )
    if coupon.amount_off is not None and coupon.amount_off.currency != currency:
        # No conversion happens anywhere: 10 USD off a JPY invoice would take off 10 yen.
        errors.add(
            ErrorCode.CURRENCY_MISMATCH,
            field,
            f"This coupon takes an amount of {coupon.amount_off.currency} off; the customer "
            f"is billed in {currency}.",
        )
    errors.raise_if_any()


@dataclass(frozen=True, slots=True)
class Discount:
    """A coupon applied to a customer, or to one of their subscriptions.

    `end` is exclusive; None for FOREVER and ONCE (ONCE ends by `invoiced_once` instead:
    it discounts the first invoice whose period starts at or after `start`).
    """

    id: str
    coupon: Coupon
    customer_id: str
    subscription_id: str | None
    start: datetime
    end: datetime | None
    invoiced_once: bool = False


def new_discount(
    coupon: Coupon, *, customer_id: str, subscription_id: str | None, start: datetime
) -> Discount:
    """A discount from `coupon` starting at `start` (check_redeemable first)."""
    return Discount(
        id=new_id("di"),
        coupon=coupon,
        customer_id=customer_id,
        subscription_id=subscription_id,
        start=start,
        end=discount_end(start, coupon),
    )


def discount_end(start: datetime, coupon: Coupon) -> datetime | None:
    """When a discount from `coupon` starting at `start` stops (exclusive): REPEATING after
    its months, on the same day of the month or the month's last day when it has none
    (31 January + 1 month = 28 or 29 February); never for ONCE and FOREVER."""
    if coupon.duration is not CouponDuration.REPEATING:
        return None
    if coupon.duration_in_months is None:
        raise ValueError("a repeating coupon has a number of months")
    return add_months(start, coupon.duration_in_months)


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus calendar months, the day clamped to the month's end (one rule with
    billing periods: `domain.billing_periods.add_interval`)."""
    return add_interval(moment, Interval.MONTH, months)


def applies_to(discount: Discount, period_start: datetime) -> bool:
    """Whether the discount discounts an invoice for a billing period starting at
    `period_start`."""
    if period_start < discount.start:
        return False
    if discount.end is not None and period_start >= discount.end:
        return False
    return not (discount.coupon.duration is CouponDuration.ONCE and discount.invoiced_once)


def mark_invoiced(discount: Discount) -> Discount:
    """The discount after an invoice used it: a ONCE discount is spent."""
    if discount.coupon.duration is CouponDuration.ONCE:
        return replace(discount, invoiced_once=True)
    return discount
