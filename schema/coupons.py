"""Coupons and discounts: a merchant's offers, and an offer applied to a customer or one of
their subscriptions. Types, inputs and enums of the concept."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

import domain.coupons as coupons_domain
from resolvers.errors import Outcome
from schema.connections import SortDirection
from schema.errors import UserError, user_errors_from
from schema.money import Money, MoneyInput, money_or_none
from schema.nodes import Node

# The domain's enum class itself, registered as a GraphQL enum (see schema/errors.py).
strawberry.enum(
    coupons_domain.CouponDuration,
    name="CouponDuration",
    description="How long a discount lasts once the coupon is applied. ONCE: the first "
    "invoice for a period starting at or after it was applied. REPEATING: `durationInMonths` "
    "calendar months. FOREVER: every invoice.",
)
CouponDuration = coupons_domain.CouponDuration


@strawberry.type(
    description="An offer: a percentage or an amount off invoices, for a while. Apply it "
    "with `applyCoupon`, or pass it when subscribing."
)
class Coupon(Node):
    code: str | None = strawberry.field(
        description="Your own code for it (e.g. `spring-25`), unique in your account."
    )
    name: str = strawberry.field(description="For people; may be printed on invoices.")
    percent_off: Decimal | None = strawberry.field(
        description='Percent taken off ("25", "12.5"); null when the coupon takes an amount off.'
    )
    amount_off: Money | None = strawberry.field(
        description="Amount taken off each discounted invoice, in one currency: it applies "
        "only to customers billed in that currency. Null for a percentage coupon."
    )
    duration: CouponDuration = strawberry.field(description="How long a discount lasts.")
    duration_in_months: int | None = strawberry.field(
        description="Months a REPEATING discount lasts; null otherwise."
    )
    max_redemptions: int | None = strawberry.field(
        description="How many times it can be applied in all; null: no limit."
    )
    times_redeemed: int = strawberry.field(description="How many times it has been applied.")
    redeem_by: datetime | None = strawberry.field(
        description="Last moment it can be applied (exclusive); discounts already applied "
        "keep running after it. Null: no deadline."
    )
    applies_to_plans: list[strawberry.ID] = strawberry.field(
        description="The plans (`plan_…`) whose subscriptions it can discount; empty: all."
    )
    created_at: datetime = strawberry.field(description="When the coupon was created.")

    @classmethod
    def from_domain(cls, coupon: coupons_domain.Coupon) -> Coupon:
        return cls(
            id=strawberry.ID(coupon.id),
            code=coupon.code,
            name=coupon.name,
            percent_off=coupon.percent_off,
            amount_off=money_or_none(coupon.amount_off),
            duration=coupon.duration,
            duration_in_months=coupon.duration_in_months,
            max_redemptions=coupon.max_redemptions,
            times_redeemed=coupon.times_redeemed,
            redeem_by=coupon.redeem_by,
            applies_to_plans=[strawberry.ID(plan_id) for plan_id in coupon.applies_to_plans],
            created_at=coupon.created_at,
        )


@strawberry.type(
    description="A coupon applied to a customer (all their invoices) or to one of their "
    "subscriptions (its invoices only)."
)
class Discount(Node):
    coupon: Coupon = strawberry.field(description="The coupon applied.")
    customer_id: strawberry.ID = strawberry.field(description="The customer (`cus_…`).")
    subscription_id: strawberry.ID | None = strawberry.field(
        description="The subscription (`sub_…`) it discounts; null: all the customer's invoices."
    )
    start: datetime = strawberry.field(
        description="When it was applied: it discounts invoices for periods from then."
    )
    end: datetime | None = strawberry.field(
        description="When a REPEATING discount stops (exclusive); null for ONCE and FOREVER."
    )

    @classmethod
    def from_domain(cls, discount: coupons_domain.Discount) -> Discount:
        return cls(
            id=strawberry.ID(discount.id),
            coupon=Coupon.from_domain(discount.coupon),
            customer_id=strawberry.ID(discount.customer_id),
            subscription_id=(
                strawberry.ID(discount.subscription_id) if discount.subscription_id else None
            ),
            start=discount.start,
            end=discount.end,
        )


@strawberry.type(description="Result of `createCoupon`.")
class CreateCouponPayload:
    coupon: Coupon | None = strawberry.field(description="The new coupon; null on errors.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[coupons_domain.Coupon]) -> CreateCouponPayload:
        return cls(
            coupon=None if outcome.value is None else Coupon.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.type(description="Result of `applyCoupon`.")
class ApplyCouponPayload:
    discount: Discount | None = strawberry.field(
        description="The discount the coupon became; null on errors."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why the coupon could not be applied (COUPON_EXPIRED, COUPON_EXHAUSTED, "
        "COUPON_NOT_APPLICABLE, CURRENCY_MISMATCH, NOT_FOUND...); empty on success."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[coupons_domain.Discount]) -> ApplyCouponPayload:
        return cls(
            discount=None if outcome.value is None else Discount.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.input(
    description="A new coupon: exactly one of `percentOff` and `amountOff`. It cannot be "
    "changed afterwards."
)
class CreateCouponInput:
    name: str = strawberry.field(description="1 to 200 characters.")
    code: str | None = strawberry.field(
        default=None,
        description="Your own code: 1 to 64 lowercase letters, digits, `_`, `.` or `-`; "
        "unique in your account.",
    )
    percent_off: Decimal | None = strawberry.field(
        default=None, description='More than 0 to 100, up to 4 decimals ("25", "12.5").'
    )
    amount_off: MoneyInput | None = strawberry.field(
        default=None,
        description="A positive amount, exact to its currency's minor unit; the coupon then "
        "applies only to customers billed in that currency.",
    )
    duration: CouponDuration = strawberry.field(
        default=CouponDuration.ONCE, description="How long a discount lasts; ONCE by default."
    )
    duration_in_months: int | None = strawberry.field(
        default=None, description="REPEATING only, and required for it: 1 to 120 months."
    )
    max_redemptions: int | None = strawberry.field(
        default=None, description="At least 1; omitted: no limit."
    )
    redeem_by: datetime | None = strawberry.field(
        default=None, description="A future moment after which it can no longer be applied."
    )
    applies_to_plans: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Up to 50 plans (`plan_…`) of your account whose subscriptions it can "
        "discount; omitted or empty: all plans.",
    )


@strawberry.input(
    description="A coupon to apply, from now on, to a customer or to one subscription: "
    "give exactly one of `customerId` and `subscriptionId`."
)
class ApplyCouponInput:
    coupon_id: strawberry.ID = strawberry.field(description="The coupon (`cpn_…`).")
    customer_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A customer (`cus_…`): the discount applies to all their invoices.",
    )
    subscription_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A subscription (`sub_…`): the discount applies to its invoices only, "
        "and only if the coupon applies to its plan.",
    )


@strawberry.input(description="Narrows the coupons list.")
class CouponFilter:
    code: str | None = strawberry.field(default=None, description="Exactly this code.")


@strawberry.input(description="Sort order of the coupons list (by creation time).")
class CouponOrder:
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="DESC lists the newest first."
    )
