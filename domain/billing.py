"""What a subscription owes for a period: the lines of its invoices, before discounts and
taxes (domain.invoice_totals applies those), each with an explanation a person can check.

At each boundary of its billing cycle a subscription is billed once (`renewal`): the
metered prices' usage of the period that ended (in arrears, free while trialing), the
minimum commitment's shortfall of that period, and the licensed and flat prices of the
period that starts (in advance). A first period shorter than a cycle (an anchor after the
start) is charged in proportion to its length, to the second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.billing_periods import BillingCycle, Period, first_period
from domain.invoices import LineKind
from domain.money import Money, format_decimal, sum_money
from domain.plans import BillingMode, Plan, PlanPrice, price_quantity
from domain.pricing import MinimumCommitment, PriceBreakdown, minimum_commitment_shortfall
from domain.proration import remaining_charge, unused_credit
from domain.subscriptions import Subscription, SubscriptionStatus, in_advance


@dataclass(frozen=True, slots=True)
class LineDraft:
    """An invoice line before it has an id, discounts or tax."""

    kind: LineKind
    description: str
    amount: Money
    quantity: Decimal
    unit_amount: Decimal | None
    period: Period | None
    price_id: str | None
    plan_id: str | None
    explanation: str


@dataclass(frozen=True, slots=True)
class Renewal:
    """One boundary's billing: the invoice's lines and what becomes of the subscription."""

    boundary: datetime  # the invoice's period start: a period is billed once
    lines: tuple[LineDraft, ...]
    next_period: Period | None  # None: the subscription ends at the boundary
    status: SubscriptionStatus


def cycle_of(plan: Plan, anchor: datetime) -> BillingCycle:
    return BillingCycle(plan.interval, plan.interval_count, anchor)


def describe(breakdown: PriceBreakdown) -> str:
    """The price's computation, line by line: `3 x 10 = 30.00; flat fee per period = 5.00`."""
    if not breakdown.lines:
        return f"nothing to charge = {format_decimal(breakdown.total.amount)}"
    parts = [
        f"{line.description} = {format_decimal(line.amount.amount)}" for line in breakdown.lines
    ]
    return "; ".join(parts)


class AdvancePricing:
    """What each in-advance price costs at each quantity for a full period, worked out once
    and kept: a billing run's batch renews hundreds of subscriptions on a handful of plans
    and seat counts. A price's terms never change (a plan's new terms are new prices), so
    a price id and a quantity name one breakdown; one instance serves one batch, to keep
    memory bounded."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, int], tuple[PriceBreakdown, str]] = {}

    def full_period(self, price: PlanPrice, quantity: int) -> tuple[PriceBreakdown, str]:
        """The breakdown of `quantity` under `price`, and its description (`describe`)."""
        key = (price.id, quantity)
        known = self._known.get(key)
        if known is None:
            breakdown = price_quantity(price.model, price.billing_mode, Decimal(quantity))
            known = self._known[key] = (breakdown, describe(breakdown))
        return known


def _advance_line(
    plan: Plan,
    price: PlanPrice,
    quantity: int,
    period: Period,
    full: Period,
    pricing: AdvancePricing,
) -> LineDraft:
    breakdown, described = pricing.full_period(price, quantity)
    if full.start == period.start and full.end == period.end:
        return LineDraft(
            kind=LineKind.SUBSCRIPTION,
            description=plan.name,
            amount=breakdown.total,
            quantity=Decimal(quantity),
            unit_amount=_unit_amount(breakdown, quantity),
            period=period,
            price_id=price.id,
            plan_id=plan.id,
            explanation=f"{price.id}: {described}",
        )
    # A stub: the part of a cycle's period from the start to the next boundary.
    label = f"{plan.name} ({format_decimal(Decimal(quantity))} x)"
    part = remaining_charge(breakdown.total, full, period.start, label)
    return LineDraft(
        kind=LineKind.PRORATION,
        description=f"{plan.name} (partial period)",
        amount=part.amount,
        quantity=Decimal(quantity),
        unit_amount=None,
        period=period,
        price_id=price.id,
        plan_id=plan.id,
        explanation=f"{price.id}: {described}; {part.explanation}",
    )


def _unit_amount(breakdown: PriceBreakdown, quantity: int) -> Decimal | None:
    if len(breakdown.lines) == 1 and breakdown.lines[0].unit_amount is not None:
        return breakdown.lines[0].unit_amount
    if quantity == 1:
        return breakdown.total.amount
    return None


def advance_lines(
    plan: Plan,
    prices: Sequence[PlanPrice],
    quantity: int,
    period: Period,
    cycle: BillingCycle,
    pricing: AdvancePricing | None = None,
) -> list[LineDraft]:
    """The licensed and flat prices of `period`, billed at its start. `pricing` keeps the
    prices' breakdowns for the next subscriptions priced with it."""
    in_advance_prices = [p for p in prices if in_advance(p)]
    if not in_advance_prices:
        return []
    full = cycle.period_containing(period.start)
    pricing = pricing or AdvancePricing()
    return [_advance_line(plan, p, quantity, period, full, pricing) for p in in_advance_prices]


def usage_lines(
    plan: Plan,
    prices: Sequence[PlanPrice],
    period: Period,
    usage: Mapping[str, PriceBreakdown],
) -> list[LineDraft]:
    """The metered prices of `period`, priced from its usage (`usage`: by price id, as
    domain.pricing priced it), billed at its end."""
    lines = []
    for price in prices:
        if price.billing_mode is not BillingMode.METERED:
            continue
        breakdown = usage.get(price.id) or PriceBreakdown(Money.zero(price.currency), ())
        quantity = sum((line.quantity for line in breakdown.lines), Decimal(0))
        lines.append(
            LineDraft(
                kind=LineKind.USAGE,
                description=f"{plan.name}: {price.metric_code}",
                amount=breakdown.total,
                quantity=quantity,
                unit_amount=None,
                period=period,
                price_id=price.id,
                plan_id=plan.id,
                explanation=f"{price.id} on {price.metric_code}: {describe(breakdown)}",
            )
        )
    return lines


def commitment_lines(
    plan: Plan, currency: str, period: Period, period_lines: Sequence[LineDraft]
) -> list[LineDraft]:
    """The shortfall of the period's spend in `currency` below the plan's minimum."""
    lines = []
    for minimum in plan.minimum_commitments:
        if minimum.currency != currency:
            continue
        spent = sum_money((line.amount for line in period_lines), currency)
        shortfall = minimum_commitment_shortfall(MinimumCommitment(minimum), spent)
        if shortfall.total.is_zero():
            continue
        lines.append(
            LineDraft(
                kind=LineKind.MINIMUM_COMMITMENT,
                description=f"{plan.name}: minimum commitment",
                amount=shortfall.total,
                quantity=Decimal(1),
                unit_amount=shortfall.total.amount,
                period=period,
                price_id=None,
                plan_id=plan.id,
                explanation=describe(shortfall),
            )
        )
    return lines


def opening(
    subscription: Subscription, plan: Plan, prices: Sequence[PlanPrice]
) -> tuple[Period, list[LineDraft]]:
    """The first period and what is billed at the start: nothing in a trial."""
    cycle = cycle_of(plan, subscription.billing_cycle_anchor)
    if subscription.trial_end is not None:
        return Period(subscription.start, subscription.trial_end), []
    period = first_period(cycle, subscription.start)
    return period, advance_lines(plan, prices, subscription.quantity, period, cycle)


def renewal(
    subscription: Subscription,
    plan: Plan,
    prices: Sequence[PlanPrice],
    usage: Mapping[str, PriceBreakdown],
    advance_billed: Sequence[LineDraft] = (),
    pricing: AdvancePricing | None = None,
) -> Renewal:
    """The billing at the end of the current period. `usage` prices the period's metered
    usage; `advance_billed` are the in-advance lines billed for it, recomputed when not
    given (a minimum commitment counts the whole period's spend); `pricing` keeps the
    in-advance prices' breakdowns for the other renewals of a batch."""
    ended = Period(subscription.current_period_start, subscription.current_period_end)
    boundary = ended.end
    lines: list[LineDraft] = []
    cycle = cycle_of(plan, subscription.billing_cycle_anchor)
    pricing = pricing or AdvancePricing()
    if not subscription.trialing:
        arrears = usage_lines(plan, prices, ended, usage)
        lines += arrears
        if plan.minimum_commitments:  # the period's spend matters only to a minimum
            billed = advance_billed or advance_lines(
                plan, prices, subscription.quantity, ended, cycle, pricing
            )
            lines += commitment_lines(plan, subscription.currency, ended, [*billed, *arrears])
    if subscription.cancel_at_period_end:
        return Renewal(boundary, tuple(lines), None, SubscriptionStatus.CANCELED)
    period = first_period(cycle, boundary)
    lines += advance_lines(plan, prices, subscription.quantity, period, cycle, pricing)
    status = (
        SubscriptionStatus.ACTIVE
        if subscription.status is SubscriptionStatus.TRIALING
        else subscription.status
    )
    return Renewal(boundary, tuple(lines), period, status)


def change_lines(
    subscription: Subscription,
    old_plan: Plan,
    old_prices: Sequence[PlanPrice],
    new_plan: Plan,
    new_prices: Sequence[PlanPrice],
    new_quantity: int,
    at: datetime,
) -> list[LineDraft]:
    """Proration for a change of plan or quantity at `at`, to the second: a credit for the
    unused part of each in-advance price billed for the current period, and a charge for
    the rest of the period on each new one."""
    period = Period(subscription.current_period_start, subscription.current_period_end)
    if subscription.trialing:
        return []
    rest = Period(max(at, period.start), period.end)
    lines: list[LineDraft] = []
    for price in old_prices:
        if not in_advance(price):
            continue
        billed = price_quantity(price.model, price.billing_mode, Decimal(subscription.quantity))
        label = f"{old_plan.name} ({subscription.quantity} x)"
        credit = unused_credit(billed.total, period, at, label)
        lines.append(
            LineDraft(
                kind=LineKind.PRORATION,
                description=f"Unused time on {old_plan.name}",
                amount=-credit.amount,
                quantity=Decimal(subscription.quantity),
                unit_amount=None,
                period=rest,
                price_id=price.id,
                plan_id=old_plan.id,
                explanation=credit.explanation,
            )
        )
    for price in new_prices:
        if not in_advance(price):
            continue
        full = price_quantity(price.model, price.billing_mode, Decimal(new_quantity))
        label = f"{new_plan.name} ({new_quantity} x)"
        charge = remaining_charge(full.total, period, at, label)
        lines.append(
            LineDraft(
                kind=LineKind.PRORATION,
                description=f"Remaining time on {new_plan.name}",
                amount=charge.amount,
                quantity=Decimal(new_quantity),
                unit_amount=None,
                period=rest,
                price_id=price.id,
                plan_id=new_plan.id,
                explanation=f"{price.id}: {describe(full)}; {charge.explanation}",
            )
        )
    return lines


def cancel_credit_lines(
    subscription: Subscription, plan: Plan, prices: Sequence[PlanPrice], at: datetime
) -> list[LineDraft]:
    """The credit for the unused part of the current period when canceled now."""
    return change_lines(subscription, plan, prices, plan, (), subscription.quantity, at)
