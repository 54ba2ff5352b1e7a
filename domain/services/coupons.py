"""Creating coupons, applying them to a customer or one of their subscriptions, and
redeeming them: the one place a redemption is counted, whether by `applyCoupon` or by
subscribing with a coupon (domain.services.subscriptions)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from domain.coupons import (
    Coupon,
    CouponDraft,
    Discount,
    check_redeemable,
    new_discount,
    validate_coupon,
)
from domain.errors import DomainError, ErrorCode, FieldError, FieldErrors, NotFound
from domain.ids import new_id, prefix_of
from domain.ports import UnitOfWork
from domain.services.customers import billable_customer
from domain.subscriptions import SubscriptionStatus

COUPON_FIELD = ("input", "couponId")
_CUSTOMER_FIELD = ("input", "customerId")
_SUBSCRIPTION_FIELD = ("input", "subscriptionId")


async def create_coupon(uow: UnitOfWork, draft: CouponDraft, now: datetime) -> Coupon:
    """Stores a coupon; every plan it is restricted to must exist in the account."""
    clean = validate_coupon(draft, now)
    async with uow:
        if clean.applies_to_plans:
            found = await uow.plans.get_many(clean.applies_to_plans)
            errors = FieldErrors()
            # Paths index the caller's list, which may name a plan twice.
            for index, plan_id in enumerate(draft.applies_to_plans):
                if plan_id not in found:
                    errors.add(
                        ErrorCode.NOT_FOUND,
                        ("input", "appliesToPlans", str(index)),
                        "Plan not found.",
                    )
            errors.raise_if_any()
        coupon = await uow.coupons.add(
            Coupon(
                id=new_id("cpn"),
                name=clean.name,
                percent_off=clean.percent_off,
                amount_off=clean.amount_off,
                duration=clean.duration,
                duration_in_months=clean.duration_in_months,
                max_redemptions=clean.max_redemptions,
                redeem_by=clean.redeem_by,
                applies_to_plans=clean.applies_to_plans,
                code=clean.code,
                times_redeemed=0,
                created_at=now,
                archived_at=None,
            )
        )
        await uow.commit()
    return coupon


async def apply_coupon(
    uow: UnitOfWork,
    coupon_id: str,
    *,
    customer_id: str | None = None,
    subscription_id: str | None = None,
    now: datetime,
) -> Discount:
    """Applies a coupon from `now` to a customer (every invoice of theirs) or to one of
    their subscriptions (its invoices only): exactly one of the two."""
    if (customer_id is None) == (subscription_id is None):
        raise DomainError(
            [
                FieldError(
                    ErrorCode.INVALID if customer_id else ErrorCode.REQUIRED,
                    _CUSTOMER_FIELD,
                    "Apply the coupon to a customer or to one subscription: one of "
                    "customerId and subscriptionId.",
                )
            ]
        )
    async with uow:
        plan_id = None
        if subscription_id is not None:
            subscription = None
            if prefix_of(subscription_id) == "sub":
                subscription = await uow.subscriptions.get(subscription_id)
            if subscription is None:
                raise NotFound(_SUBSCRIPTION_FIELD, "Subscription")
            if subscription.status is SubscriptionStatus.CANCELED:
                raise DomainError(
                    [
                        FieldError(
                            ErrorCode.ALREADY_CANCELED,
                            _SUBSCRIPTION_FIELD,
                            "The subscription is canceled.",
                        )
                    ]
                )
            customer_id, plan_id = subscription.customer_id, subscription.plan_id
            customer = await billable_customer(uow, customer_id, _SUBSCRIPTION_FIELD)
        else:
            assert customer_id is not None
            customer = await billable_customer(uow, customer_id, _CUSTOMER_FIELD)
        redeemed = await redeem_coupon(
            uow,
            coupon_id,
            currency=customer.currency,
            plan_ids=None if plan_id is None else [plan_id],
            now=now,
        )
        # Read again: the payload shows the count with this redemption and concurrent ones.
        redeemed = await uow.coupons.get(redeemed.id) or redeemed
        discount = await uow.discounts.add(
            new_discount(
                redeemed, customer_id=customer.id, subscription_id=subscription_id, start=now
            )
        )
        await uow.commit()
    return discount


async def redeem_coupon(
    uow: UnitOfWork,
    coupon_id: str,
    *,
    currency: str,
    plan_ids: Collection[str] | None,
    now: datetime,
    field: tuple[str, ...] = COUPON_FIELD,
) -> Coupon:
    """Counts one redemption of the coupon for a customer billed in `currency`, on the
    plans `plan_ids` (None: any, such as a coupon applied to the customer), or raises why
    it cannot be redeemed. Call it inside the unit of work that stores the discount, so a
    refusal later in it gives the redemption back. The coupon answered carries the count
    read before the increment."""
    coupon = await uow.coupons.get(coupon_id) if prefix_of(coupon_id) == "cpn" else None
    if coupon is None:
        raise NotFound(field, "Coupon")
    check_redeemable(coupon, now=now, currency=currency, plan_ids=plan_ids, field=field)
    # The check above read the count before concurrent redemptions: the conditional
    # increment is what keeps the maximum.
    if not await uow.coupons.redeem(coupon.id):
        raise DomainError(
            [FieldError(ErrorCode.COUPON_EXHAUSTED, field, "The coupon has no redemptions left.")]
        )
    return coupon
