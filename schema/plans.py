"""Plans and their prices: what a merchant sells and how a quantity becomes an amount.
Types, inputs and enums of the concept."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry

import domain.plans as plans_domain
import domain.pricing as pricing_domain
from resolvers import plans as plan_resolvers
from resolvers.errors import Outcome
from schema.connections import SortDirection
from schema.errors import UserError, user_errors_from
from schema.fields import returning
from schema.money import Money, MoneyInput, money_or_none
from schema.nodes import Node
from schema.scalars import CurrencyCode

# The domain's enum classes themselves, registered as GraphQL enums (see schema/errors.py).
strawberry.enum(
    plans_domain.Interval, name="Interval", description="The unit of a plan's billing period."
)
Interval = plans_domain.Interval


strawberry.enum(
    plans_domain.BillingMode,
    name="BillingMode",
    description="LICENSED: a quantity set on the subscription (seats). METERED: the period's "
    "usage of a billable metric.",
)
BillingMode = plans_domain.BillingMode


@strawberry.enum(description="How a price turns a quantity into an amount.")
class PriceModelKind(Enum):
    FLAT_FEE = "FLAT_FEE"
    PER_UNIT = "PER_UNIT"
    GRADUATED = "GRADUATED"
    VOLUME = "VOLUME"
    PACKAGE = "PACKAGE"
    PERCENTAGE = "PERCENTAGE"


@strawberry.type(description="One tier of a graduated or volume price.")
class PriceTier:
    up_to: Decimal | None = strawberry.field(
        description="Last quantity of the tier, inclusive; null for the open-ended last tier."
    )
    unit_amount: Decimal = strawberry.field(description="Price per unit, in major units.")
    flat_amount: Money | None = strawberry.field(description="Flat fee once the tier is reached.")


@strawberry.type(description="One line of a computed price.")
class PriceLine:
    description: str = strawberry.field(description='For people, e.g. "6 to 10".')
    tier: int | None = strawberry.field(description="Index of the tier (tiered prices).")
    quantity: Decimal = strawberry.field(description="Quantity priced on this line.")
    unit_amount: Decimal | None = strawberry.field(description="Price per unit on this line.")
    flat_amount: Money | None = strawberry.field(description="Flat fee on this line.")
    amount: Money = strawberry.field(description="The line's amount, rounded once (half-up).")
    count: int = strawberry.field(
        description="Transactions the line stands for (a PERCENTAGE price of usage: "
        "`quantity` is their volume, `amount` the sum of their fees); 1 otherwise."
    )


@strawberry.type(description="How a price turns a quantity into an amount, line by line.")
class PriceBreakdown:
    total: Money = strawberry.field(description="The sum of the lines.")
    lines: list[PriceLine] = strawberry.field(description="The computation, for dashboards.")

    @classmethod
    def from_domain(cls, breakdown: pricing_domain.PriceBreakdown) -> PriceBreakdown:
        return cls(
            total=Money.from_domain(breakdown.total),
            lines=[
                PriceLine(
                    description=line.description,
                    tier=line.tier,
                    quantity=line.quantity,
                    unit_amount=line.unit_amount,
                    flat_amount=Money.from_domain(line.flat_amount) if line.flat_amount else None,
                    amount=Money.from_domain(line.amount),
                    count=line.count,
                )
                for line in breakdown.lines
            ],
        )


@strawberry.type(description="A price of a plan. It never changes once created.")
class Price(Node):
    model: PriceModelKind = strawberry.field(description="How the price is computed.")
    currency: CurrencyCode = strawberry.field(description="ISO 4217 code.")
    billing_mode: BillingMode = strawberry.field(description="LICENSED or METERED.")
    metric_code: str | None = strawberry.field(description="The metric a METERED price charges.")
    amount: Money | None = strawberry.field(description="FLAT_FEE: the amount per period.")
    unit_amount: Decimal | None = strawberry.field(description="PER_UNIT: price per unit.")
    tiers: list[PriceTier] | None = strawberry.field(description="GRADUATED or VOLUME tiers.")
    package_amount: Decimal | None = strawberry.field(description="PACKAGE: price of a block.")
    package_size: int | None = strawberry.field(description="PACKAGE: units per block.")
    rate: Decimal | None = strawberry.field(description="PERCENTAGE: percent per transaction.")
    fixed_amount: Money | None = strawberry.field(description="PERCENTAGE: fixed fee.")
    min_amount: Money | None = strawberry.field(description="PERCENTAGE: minimum fee.")
    max_amount: Money | None = strawberry.field(description="PERCENTAGE: maximum fee.")
    price_for: PriceBreakdown = strawberry.field(
        resolver=returning(PriceBreakdown.from_domain, plan_resolvers.price_for),
        description="What a quantity costs under this price (whole for a LICENSED price; for "
        "PERCENTAGE: the fee of one transaction of that amount).",
    )
    price_model: strawberry.Private[pricing_domain.PriceModel]

    @classmethod
    def from_domain(cls, price: plans_domain.PlanPrice) -> Price:
        model = price.model
        money = Money.from_domain
        tiers = getattr(model, "tiers", None)
        return cls(
            id=strawberry.ID(price.id),
            model=PriceModelKind[plans_domain.MODEL_KINDS[type(model)]],
            currency=CurrencyCode(model.currency),
            billing_mode=price.billing_mode,
            metric_code=price.metric_code,
            amount=money(model.amount) if isinstance(model, pricing_domain.FlatFee) else None,
            unit_amount=getattr(model, "unit_amount", None),
            tiers=None
            if tiers is None
            else [
                PriceTier(
                    up_to=t.up_to,
                    unit_amount=t.unit_amount,
                    flat_amount=money(t.flat_amount) if t.flat_amount else None,
                )
                for t in tiers
            ],
            package_amount=getattr(model, "package_amount", None),
            package_size=getattr(model, "package_size", None),
            rate=getattr(model, "rate", None),
            fixed_amount=money_or_none(getattr(model, "fixed_amount", None)),
            min_amount=money_or_none(getattr(model, "min_amount", None)),
            max_amount=money_or_none(getattr(model, "max_amount", None)),
            price_model=model,
        )


@strawberry.type(description="What a merchant sells: a billing period and its prices.")
class Plan(Node):
    code: str = strawberry.field(description="Unique in your account.")
    name: str = strawberry.field(description="For people.")
    description: str | None = strawberry.field(description="For customers.")
    interval: Interval = strawberry.field(description="Unit of the billing period.")
    interval_count: int = strawberry.field(description="Units per billing period.")
    trial_days: int = strawberry.field(description="Free days before the first bill.")
    prices: list[Price] = strawberry.field(description="Its prices, in order of creation.")
    currencies: list[CurrencyCode] = strawberry.field(description="Currencies it is sold in.")
    minimum_commitments: list[Money] = strawberry.field(
        description="Minimum spend per period, per currency; a shortfall is charged."
    )
    created_at: datetime = strawberry.field(description="When the plan was created.")
    updated_at: datetime = strawberry.field(description="When its details last changed.")
    archived: bool = strawberry.field(description="Archived plans are not sold anymore.")
    archived_at: datetime | None = strawberry.field(description="When it was archived.")

    @classmethod
    def from_domain(cls, plan: plans_domain.Plan) -> Plan:
        return cls(
            id=strawberry.ID(plan.id),
            code=plan.code,
            name=plan.name,
            description=plan.description,
            interval=plan.interval,
            interval_count=plan.interval_count,
            trial_days=plan.trial_days,
            prices=[Price.from_domain(price) for price in plan.prices],
            currencies=[CurrencyCode(c) for c in plan.currencies],
            minimum_commitments=[Money.from_domain(m) for m in plan.minimum_commitments],
            created_at=plan.created_at,
            updated_at=plan.updated_at,
            archived=plan.archived,
            archived_at=plan.archived_at,
        )


@strawberry.type(description="Result of `previewPrice`: a breakdown, or what is wrong.")
class PricePreview:
    breakdown: PriceBreakdown | None = strawberry.field(description="Null on errors.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the price or quantity."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[pricing_domain.PriceBreakdown]) -> PricePreview:
        return cls(
            breakdown=None if outcome.value is None else PriceBreakdown.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.type(description="Result of `createPlan`.")
class CreatePlanPayload:
    plan: Plan | None = strawberry.field(description="The new plan; null on errors.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[plans_domain.Plan]) -> CreatePlanPayload:
        return cls(
            plan=None if outcome.value is None else Plan.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.type(description="Result of `updatePlan`.")
class UpdatePlanPayload:
    plan: Plan | None = strawberry.field(description="The plan after the change.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[plans_domain.Plan]) -> UpdatePlanPayload:
        return cls(
            plan=None if outcome.value is None else Plan.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.type(description="Result of `archivePlan`.")
class ArchivePlanPayload:
    plan: Plan | None = strawberry.field(description="The archived plan.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[plans_domain.Plan]) -> ArchivePlanPayload:
        return cls(
            plan=None if outcome.value is None else Plan.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.input(description="One tier of a graduated or volume price.")
class TierInput:
    up_to: Decimal | None = strawberry.field(
        default=None, description="Last quantity of the tier, inclusive; null for the last tier."
    )
    unit_amount: Decimal = strawberry.field(
        description="Price per unit in major units; may be finer than the minor unit."
    )
    flat_amount: Decimal | None = strawberry.field(
        default=None, description="A flat fee charged once the tier is reached."
    )


@strawberry.input(
    description="A price. Fill the fields of its model: FLAT_FEE `amount`; PER_UNIT "
    "`unitAmount`; GRADUATED and VOLUME `tiers`; PACKAGE `packageAmount` and `packageSize`; "
    "PERCENTAGE `rate` and optionally `fixedAmount`, `minAmount`, `maxAmount`."
)
class PriceInput:
    model: PriceModelKind = strawberry.field(description="How the price is computed.")
    currency: CurrencyCode = strawberry.field(description="ISO 4217 code of the price.")
    billing_mode: BillingMode = strawberry.field(
        default=BillingMode.LICENSED, description="LICENSED (default) or METERED."
    )
    metric_code: str | None = strawberry.field(
        default=None, description="The billable metric a METERED price charges for."
    )
    amount: Decimal | None = strawberry.field(default=None, description="FLAT_FEE per period.")
    unit_amount: Decimal | None = strawberry.field(default=None, description="PER_UNIT price.")
    tiers: list[TierInput] | None = strawberry.field(
        default=None, description="GRADUATED or VOLUME tiers, ascending; the last open-ended."
    )
    package_amount: Decimal | None = strawberry.field(
        default=None, description="PACKAGE: the price of one block."
    )
    package_size: int | None = strawberry.field(
        default=None, description="PACKAGE: units per block; a partial block counts whole."
    )
    rate: Decimal | None = strawberry.field(
        default=None, description='PERCENTAGE: percent of each transaction ("2.9").'
    )
    fixed_amount: Decimal | None = strawberry.field(
        default=None, description="PERCENTAGE: fixed fee per transaction."
    )
    min_amount: Decimal | None = strawberry.field(
        default=None, description="PERCENTAGE: minimum fee per transaction."
    )
    max_amount: Decimal | None = strawberry.field(
        default=None, description="PERCENTAGE: maximum fee per transaction."
    )


@strawberry.input(description="A new plan with its prices.")
class CreatePlanInput:
    code: str = strawberry.field(description="Unique in your account, e.g. `pro-monthly`.")
    name: str = strawberry.field(description="1 to 200 characters.")
    interval: Interval = strawberry.field(description="The unit of the billing period.")
    prices: list[PriceInput] = strawberry.field(
        description="1 to 20 prices, in one or more currencies. They can be replaced only "
        "while no subscription uses the plan."
    )
    interval_count: int = strawberry.field(default=1, description="Periods of 1 to 36 units.")
    description: str | None = strawberry.field(default=None, description="For customers.")
    trial_days: int = strawberry.field(default=0, description="Free days before billing.")
    minimum_commitments: list[MoneyInput] | None = strawberry.field(
        default=None, description="A minimum spend per period, at most one per currency."
    )


@strawberry.input(
    description="Changes to a plan; omitted fields stay as they are. Name, description and "
    "trial can always change. Prices and minimum commitments can be replaced only while no "
    "subscription uses the plan (else `IN_USE`: create a new plan, a new version, instead)."
)
class UpdatePlanInput:
    id: strawberry.ID = strawberry.field(description="The plan (`plan_…`).")
    name: str | None = strawberry.field(default=None, description="A new name.")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new description; null clears it."
    )
    trial_days: int | None = strawberry.field(default=None, description="A new trial length.")
    prices: list[PriceInput] | None = strawberry.field(
        default=None,
        description="Replaces all prices (1 to 20); each gets a new id. Checked like "
        "`createPlan`'s.",
    )
    minimum_commitments: list[MoneyInput] | None = strawberry.field(
        default=None,
        description="Replaces the minimum commitments; [] removes them.",
    )


@strawberry.input(description="The plan to archive.")
class ArchivePlanInput:
    id: strawberry.ID = strawberry.field(description="The plan (`plan_…`).")


@strawberry.input(description="Narrows the plans list.")
class PlanFilter:
    archived: bool | None = strawberry.field(
        default=None, description="true: only archived; false: only active; null: both."
    )


@strawberry.input(description="Sort order of the plans list (by creation time).")
class PlanOrder:
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="DESC lists the newest first."
    )
