"""Subscribing, changing and canceling; the preview of the next invoice."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from domain import events
from domain.billing import (
    LineDraft,
    advance_lines,
    cancel_credit_lines,
    change_lines,
    cycle_of,
    opening,
    renewal,
    usage_lines,
)
from domain.billing_periods import Period, first_period, truncate_to_second
from domain.coupons import CouponDuration, Discount, discount_end
from domain.customers import Customer
from domain.errors import DomainError, ErrorCode, FieldError, FieldErrors, NotFound
from domain.ids import new_id, prefix_of
from domain.invoices import BillingReason, Invoice
from domain.plans import Plan
from domain.ports import UnitOfWork
from domain.services.billing import Billable, usage_by_price
from domain.services.coupons import redeem_coupon
from domain.services.customers import billable_customer
from domain.services.invoicing import (
    applicable,
    default_tax_provider,
    draft_invoice,
    finalize_all,
    priced,
    record_invoice_events,
)
from domain.subscriptions import (
    Subscription,
    SubscriptionDraft,
    SubscriptionStatus,
    check_quantity,
    check_subscribable,
    prices_in,
    require_not_canceled,
    trial_end_of,
    validate_draft,
)
from domain.taxes import TaxProvider

_ID_FIELD = ("input", "id")


async def create_subscription(
    uow: UnitOfWork, draft: SubscriptionDraft, now: datetime, tax: TaxProvider | None = None
) -> tuple[Subscription, Invoice | None]:
    """Subscribes a customer; answers the subscription and its first invoice (none while
    it is trialing: a trial is free)."""
    now = truncate_to_second(now)
    validate_draft(draft, now)
    async with uow:
        customer = await billable_customer(uow, draft.customer_id, ("input", "customerId"))
        # A share lock: updatePlan holds FOR UPDATE while it replaces prices, so the
        # subscription never lands on prices being replaced.
        plan = await _plan(uow, draft.plan_id, for_share=True)
        check_subscribable(plan, customer.currency)
        coupon = None
        if draft.coupon_id is not None:
            coupon = await redeem_coupon(
                uow, draft.coupon_id, currency=customer.currency, plan_ids=[plan.id], now=now
            )
        start = truncate_to_second(draft.start or now)
        trial_end = trial_end_of(draft, plan, start)
        trial_end = None if trial_end is None else truncate_to_second(trial_end)
        anchor = draft.billing_cycle_anchor
        anchor = None if anchor is None else truncate_to_second(anchor)
        prices = prices_in(plan, customer.currency)
        subscription = Subscription(
            id=new_id("sub"),
            customer_id=customer.id,
            plan_id=plan.id,
            status=SubscriptionStatus.TRIALING if trial_end else SubscriptionStatus.ACTIVE,
            currency=customer.currency,
            quantity=draft.quantity,
            price_ids=tuple(p.id for p in prices),
            start=start,
            billing_cycle_anchor=anchor or trial_end or start,
            trial_end=trial_end,
            current_period_start=start,
            current_period_end=start + timedelta(seconds=1),
            cancel_at_period_end=False,
            canceled_at=None,
            ended_at=None,
            created_at=now,
            updated_at=now,
            collection_method=draft.collection_method,
        )
        period, lines = opening(subscription, plan, prices)
        subscription = replace(
            subscription, current_period_start=period.start, current_period_end=period.end
        )
        subscription = await uow.subscriptions.add(subscription)
        discounts = []
        if coupon is not None:
            discount = Discount(
                id=new_id("di"),
                coupon=coupon,
                customer_id=customer.id,
                subscription_id=subscription.id,
                start=start,
                end=discount_end(start, coupon),
                invoiced_once=False,
            )
            discounts.append(await uow.discounts.add(discount))
        await uow.events.add(events.SUBSCRIPTION_CREATED, subscription.id, subscription.snapshot())
        invoice = None
        if subscription.trial_end is None:
            invoice = await _issue(
                uow,
                tax,
                customer,
                subscription,
                BillingReason.SUBSCRIPTION_CREATE,
                period,
                lines,
                now,
                extra_discounts=discounts,
            )
        await uow.commit()
    return subscription, invoice


async def cancel_subscription(
    uow: UnitOfWork,
    subscription_id: str,
    now: datetime,
    *,
    at_period_end: bool,
    prorate: bool = False,
    tax: TaxProvider | None = None,
) -> tuple[Subscription, Invoice | None]:
    """Cancels now (with a credit for the unused time when `prorate`, and the usage so far
    billed) or at the end of the period (undone by `reactivate_subscription` until then)."""
    now = truncate_to_second(now)
    async with uow:
        current = await _subscription(uow, subscription_id)
        require_not_canceled(current)
        if at_period_end:
            canceled = await uow.subscriptions.save(
                replace(current, cancel_at_period_end=True, canceled_at=now, updated_at=now)
            )
            await uow.events.add(events.SUBSCRIPTION_UPDATED, canceled.id, canceled.snapshot())
            await uow.commit()
            return canceled, None
        billable = await _billable(uow, current)
        lines: list[LineDraft] = []
        if not current.trialing:
            so_far = Period(
                current.current_period_start,
                max(now, current.current_period_start + timedelta(seconds=1)),
            )
            usage = await usage_by_price(uow, [(billable, so_far)])
            lines += usage_lines(
                billable.plan,
                billable.prices,
                so_far,
                usage.get(current.id, {}),
            )
            if prorate:
                lines += cancel_credit_lines(current, billable.plan, billable.prices, now)
        canceled = await uow.subscriptions.save(
            replace(
                current,
                status=SubscriptionStatus.CANCELED,
                canceled_at=now,
                ended_at=now,
                cancel_at_period_end=False,
                updated_at=now,
            )
        )
        await uow.events.add(events.SUBSCRIPTION_CANCELED, canceled.id, canceled.snapshot())
        invoice = None
        if lines:
            invoice = await _issue(
                uow,
                tax,
                billable.customer,
                canceled,
                BillingReason.SUBSCRIPTION_UPDATE,
                Period(current.current_period_start, current.current_period_end),
                lines,
                now,
            )
        await uow.commit()
    return canceled, invoice


async def reactivate_subscription(
    uow: UnitOfWork, subscription_id: str, now: datetime
) -> Subscription:
    """Undoes a cancellation at period end, while the period has not ended."""
    now = truncate_to_second(now)
    async with uow:
        current = await _subscription(uow, subscription_id)
        require_not_canceled(current)
        if not current.cancel_at_period_end:
            raise DomainError(
                [
                    FieldError(
                        ErrorCode.INVALID,
                        _ID_FIELD,
                        "The subscription is not set to cancel at the end of its period.",
                    )
                ]
            )
        resumed = await uow.subscriptions.save(
            replace(current, cancel_at_period_end=False, canceled_at=None, updated_at=now)
        )
        await uow.events.add(events.SUBSCRIPTION_UPDATED, resumed.id, resumed.snapshot())
        await uow.commit()
    return resumed


async def change_subscription_plan(
    uow: UnitOfWork,
    subscription_id: str,
    plan_id: str,
    quantity: int | None,
    now: datetime,
    *,
    prorate: bool = True,
    tax: TaxProvider | None = None,
) -> tuple[Subscription, Invoice | None]:
    """Moves the subscription to another plan or quantity from `now`. With `prorate`, an
    invoice credits the unused part of the current period on the old price and charges
    the rest of it on the new one, to the second, as separate proration lines. A plan of
    the same interval bills on the same cycle (the period's metered usage is billed at its
    end under the new plan's metered prices); a plan of another interval restarts the
    cycle now: the usage so far is billed, the unused time credited, a new period
    charged."""
    now = truncate_to_second(now)
    errors = FieldErrors()
    if quantity is not None:
        check_quantity(errors, quantity, ("input", "quantity"))
    errors.raise_if_any()
    async with uow:
        current = await _subscription(uow, subscription_id)
        require_not_canceled(current)
        billable = await _billable(uow, current)
        new_plan = await _plan(uow, plan_id, for_share=True)
        check_subscribable(new_plan, current.currency)
        new_quantity = current.quantity if quantity is None else quantity
        new_prices = prices_in(new_plan, current.currency)
        same_cycle = (new_plan.interval, new_plan.interval_count) == (
            billable.plan.interval,
            billable.plan.interval_count,
        )
        changed = replace(
            current,
            plan_id=new_plan.id,
            price_ids=tuple(p.id for p in new_prices),
            quantity=new_quantity,
            updated_at=now,
        )
        lines: list[LineDraft] = []
        billed = Period(now, current.current_period_end)
        in_period = current.current_period_start <= now < current.current_period_end
        if current.trialing or not in_period:
            pass  # a trial stays free; its end starts the new plan's cycle
        elif same_cycle:
            if prorate:
                lines = change_lines(
                    current, billable.plan, billable.prices, new_plan, new_prices, new_quantity, now
                )
        else:
            # Another interval: as Stripe does, the cycle restarts now. The old period ends
            # here (its usage billed, its unused time credited) and a full new period is
            # charged from now.
            so_far = (
                Period(current.current_period_start, now)
                if now > current.current_period_start
                else None
            )
            if so_far is not None:
                usage = await usage_by_price(uow, [(billable, so_far)])
                lines += usage_lines(
                    billable.plan,
                    billable.prices,
                    so_far,
                    usage.get(current.id, {}),
                )
            if prorate:
                lines += cancel_credit_lines(current, billable.plan, billable.prices, now)
            cycle = cycle_of(new_plan, now)
            billed = first_period(cycle, now)
            lines += advance_lines(new_plan, new_prices, new_quantity, billed, cycle)
            changed = replace(
                changed,
                billing_cycle_anchor=now,
                current_period_start=billed.start,
                current_period_end=billed.end,
            )
        changed = await uow.subscriptions.save(changed)
        await uow.events.add(events.SUBSCRIPTION_UPDATED, changed.id, changed.snapshot())
        invoice = None
        if lines:
            invoice = await _issue(
                uow,
                tax,
                billable.customer,
                changed,
                BillingReason.SUBSCRIPTION_UPDATE,
                billed,
                lines,
                now,
            )
        await uow.commit()
    return changed, invoice


async def upcoming_invoice(
    uow: UnitOfWork, subscription_id: str, now: datetime, tax: TaxProvider | None = None
) -> Invoice | None:
    """The invoice the subscription's next renewal would make, with the usage so far:
    nothing is written (the unit of work is never committed)."""
    now = truncate_to_second(now)
    async with uow:
        current = await uow.subscriptions.get(subscription_id)
        if current is None or current.status is SubscriptionStatus.CANCELED:
            return None
        billable = await _billable(uow, current)
        period = Period(current.current_period_start, current.current_period_end)
        usage = await usage_by_price(uow, [(billable, period)])
        renewed = renewal(
            current,
            billable.plan,
            billable.prices,
            usage.get(current.id, {}),
        )
        invoice = draft_invoice(
            billable.customer,
            now=now,
            billing_reason=BillingReason.SUBSCRIPTION_CYCLE,
            subscription_id=current.id,
            period_start=renewed.boundary,
            period_end=renewed.boundary if renewed.next_period is None else renewed.next_period.end,
            lines=renewed.lines,
        )
        discounts = await uow.discounts.live_for([current.customer_id])
        return await priced(
            tax or default_tax_provider(uow),
            billable.customer,
            invoice,
            applicable(discounts, current.id, renewed.boundary),
        )


async def _issue(
    uow: UnitOfWork,
    tax: TaxProvider | None,
    customer: Customer,
    subscription: Subscription,
    reason: BillingReason,
    period: Period,
    lines: list[LineDraft],
    now: datetime,
    extra_discounts: list[Discount] | None = None,
) -> Invoice:
    """Makes, prices, finalizes and stores one invoice of the subscription."""
    invoice = draft_invoice(
        customer,
        now=now,
        billing_reason=reason,
        subscription_id=subscription.id,
        period_start=period.start,
        period_end=period.end,
        lines=lines,
    )
    known = await uow.discounts.live_for([customer.id])
    every = [*known, *(d for d in extra_discounts or () if d.id not in {k.id for k in known})]
    live = applicable(every, subscription.id, period.start)
    invoice = await priced(tax or default_tax_provider(uow), customer, invoice, live)
    [finalized] = await finalize_all(uow, [(invoice, customer)], now)
    await uow.invoices.add([finalized])
    once = [d.id for d in live if d.coupon.duration is CouponDuration.ONCE]
    if once:
        await uow.discounts.mark_invoiced_once(once)
    await record_invoice_events(uow, [finalized])
    return finalized


async def _plan(uow: UnitOfWork, plan_id: str, *, for_share: bool = False) -> Plan:
    plan = (
        await uow.plans.get(plan_id, for_share=for_share) if prefix_of(plan_id) == "plan" else None
    )
    if plan is None:
        raise NotFound(("input", "planId"), "Plan")
    return plan


async def _subscription(uow: UnitOfWork, subscription_id: str) -> Subscription:
    """The subscription, locked: changes to one subscription apply one after the other."""
    found = None
    if prefix_of(subscription_id) == "sub":
        found = await uow.subscriptions.get(subscription_id, for_update=True)
    if found is None:
        raise NotFound(_ID_FIELD, "Subscription")
    return found


async def _billable(uow: UnitOfWork, subscription: Subscription) -> Billable:
    plan = await uow.plans.get(subscription.plan_id)
    customer = await uow.customers.get(subscription.customer_id)
    assert plan is not None and customer is not None  # foreign keys
    return Billable(subscription, plan, customer)
