"""The billing rules over time, pure: renewals cover a year without gap or overlap,
prorations never credit more than was charged, lifecycles refuse what they must."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.billing import AdvancePricing, change_lines, opening, renewal
from domain.errors import DomainError, ErrorCode
from domain.invoices import (
    BillingReason,
    Invoice,
    InvoiceStatus,
    LineKind,
    NumberTemplate,
    Totals,
    require_transition,
)
from domain.money import Money
from domain.plans import BillingMode, Interval, Plan, PlanPrice
from domain.pricing import FlatFee, PerUnit
from domain.subscriptions import Subscription, SubscriptionStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def plan(interval: Interval = Interval.MONTH, count: int = 1, unit: str = "10") -> Plan:
    return Plan(
        id="plan_x",
        code="x",
        name="X",
        description=None,
        interval=interval,
        interval_count=count,
        trial_days=0,
        minimum_commitments=(),
        prices=(
            PlanPrice("price_seat", PerUnit(Decimal(unit), "USD"), BillingMode.LICENSED, None),
            PlanPrice("price_base", FlatFee(Money(500, "USD")), BillingMode.LICENSED, None),
        ),
        created_at=T0,
        updated_at=T0,
        archived_at=None,
    )


def subscription(
    start: datetime, quantity: int = 2, anchor: datetime | None = None
) -> Subscription:
    return Subscription(
        id="sub_x",
        customer_id="cus_x",
        plan_id="plan_x",
        status=SubscriptionStatus.ACTIVE,
        currency="USD",
        quantity=quantity,
        price_ids=("price_seat", "price_base"),
        start=start,
        billing_cycle_anchor=anchor or start,
        trial_end=None,
        current_period_start=start,
        current_period_end=start + timedelta(seconds=1),
        cancel_at_period_end=False,
        canceled_at=None,
        ended_at=None,
        created_at=start,
        updated_at=start,
    )


def _valid(year: int, month: int, day: int) -> bool:
    try:
        datetime(year, month, day)
    except ValueError:
        return False
    return True


@st.composite
def anchor_days(draw: st.DrawFn) -> datetime:
    year = draw(st.sampled_from([2023, 2024, 2027, 2028]))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 31).filter(lambda d: _valid(year, month, d)))
    return datetime(year, month, day, draw(st.integers(0, 23)), tzinfo=UTC)


@given(anchor_days())
def test_a_year_of_monthly_renewals_bills_twelve_periods_without_gap_or_overlap(
    start: datetime,
) -> None:
    # given a monthly subscription opened at `start`
    x = plan()
    current = subscription(start)
    period, lines = opening(current, x, x.prices)
    current = replace(current, current_period_start=period.start, current_period_end=period.end)
    periods = [(period.start, period.end)]
    assert sum((line.amount for line in lines), Money.zero("USD")) == Money(2_500, "USD")
    # when it renews eleven times
    for _ in range(11):
        renewed = renewal(current, x, x.prices, {})
        assert renewed.next_period is not None and renewed.boundary == current.current_period_end
        nxt = renewed.next_period
        periods.append((nxt.start, nxt.end))
        current = replace(current, current_period_start=nxt.start, current_period_end=nxt.end)
    # then twelve periods follow each other and end a year after the start (clamped)
    assert all(a[1] == b[0] for a, b in zip(periods, periods[1:], strict=False))
    assert len(periods) == 12
    end = periods[-1][1]
    assert (end.year, end.month) == (start.year + 1, start.month)
    assert end.day == min(start.day, end.day) and end.hour == start.hour


@given(
    st.lists(
        st.tuples(st.integers(1, 4), anchor_days(), st.integers(0, 40), st.booleans()),
        min_size=1,
        max_size=8,
    )
)
def test_renewals_priced_together_bill_what_each_would_alone(
    subscriptions: list[tuple[int, datetime, int, bool]],
) -> None:
    # given a plan with a minimum, and subscriptions of a few seat counts, some opened on a
    # stub (anchor days ahead), some ending at the boundary
    x = replace(plan(), minimum_commitments=(Money(3_000, "USD"),))
    shared = AdvancePricing()
    for quantity, start, anchor_in_days, ending in subscriptions:
        anchor = start + timedelta(days=anchor_in_days)
        current = replace(subscription(start, quantity, anchor), cancel_at_period_end=ending)
        period, _ = opening(current, x, x.prices)
        current = replace(current, current_period_start=period.start, current_period_end=period.end)
        # when it renews with the batch's pricing, and on its own
        together = renewal(current, x, x.prices, {}, pricing=shared)
        alone = renewal(current, x, x.prices, {})
        # then both bill the same lines
        assert together == alone


def test_a_renewal_below_the_minimum_bills_the_ended_periods_shortfall() -> None:
    # given a full month of 1 seat (10.00 + 5.00) on a plan with a 30.00 minimum
    x = replace(plan(), minimum_commitments=(Money(3_000, "USD"),))
    start = datetime(2026, 4, 1, tzinfo=UTC)
    current = replace(
        subscription(start, quantity=1), current_period_end=datetime(2026, 5, 1, tzinfo=UTC)
    )
    # when it renews
    renewed = renewal(current, x, x.prices, {}, pricing=AdvancePricing())
    # then the ended month's spend is topped up to the minimum, then May is billed ahead
    shortfall = [line for line in renewed.lines if line.kind is LineKind.MINIMUM_COMMITMENT]
    assert [line.amount for line in shortfall] == [Money(1_500, "USD")]
    assert [line.amount for line in renewed.lines if line.kind is LineKind.SUBSCRIPTION] == [
        Money(1_000, "USD"),
        Money(500, "USD"),
    ]


@given(
    st.integers(1, 20),
    st.integers(1, 20),
    st.integers(0, 30 * 86400 - 1),
    st.sampled_from(["0.01", "9.99", "10", "1234.5678"]),
)
def test_a_proration_credit_never_exceeds_what_was_charged_for_the_period(
    old_quantity: int, new_quantity: int, offset: int, unit: str
) -> None:
    x = plan(unit=unit)
    start = datetime(2026, 4, 1, tzinfo=UTC)  # a 30-day period
    current = replace(
        subscription(start, old_quantity), current_period_end=datetime(2026, 5, 1, tzinfo=UTC)
    )
    _, billed = opening(current, x, x.prices)
    charged = {line.price_id: line.amount for line in billed}
    lines = change_lines(
        current, x, x.prices, x, x.prices, new_quantity, start + timedelta(seconds=offset)
    )
    credits = [line for line in lines if line.description.startswith("Unused time")]
    assert len(credits) == len(x.prices)
    for credit in credits:
        assert Money.zero("USD") <= -credit.amount <= charged[credit.price_id]


def _invoice(status: InvoiceStatus) -> Invoice:
    zero = Money.zero("USD")
    return Invoice(
        id="inv_x",
        customer_id="cus_x",
        subscription_id=None,
        status=status,
        currency="USD",
        billing_reason=BillingReason.MANUAL,
        number=None,
        period_start=None,
        period_end=None,
        totals=Totals.zero("USD"),
        amount_paid=zero,
        amount_credited=zero,
        balance_applied=zero,
        due_date=None,
        reverse_charge=False,
        created_at=T0,
        finalized_at=None,
        paid_at=None,
        voided_at=None,
        marked_uncollectible_at=None,
    )


@pytest.mark.parametrize(
    ("status", "to", "code"),
    [
        (InvoiceStatus.PAID, InvoiceStatus.VOID, ErrorCode.NOT_OPEN),
        (InvoiceStatus.VOID, InvoiceStatus.VOID, ErrorCode.NOT_OPEN),
        (InvoiceStatus.DRAFT, InvoiceStatus.VOID, ErrorCode.NOT_OPEN),
        (InvoiceStatus.OPEN, InvoiceStatus.OPEN, ErrorCode.NOT_DRAFT),
        (InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE, ErrorCode.NOT_OPEN),
    ],
)
def test_the_lifecycle_refuses_what_it_must(
    status: InvoiceStatus, to: InvoiceStatus, code: ErrorCode
) -> None:
    with pytest.raises(DomainError) as refused:
        require_transition(_invoice(status), to)
    assert [e.code for e in refused.value.errors] == [code]


@pytest.mark.parametrize(
    ("template", "number", "expected"),
    [
        (NumberTemplate("DEMO", True, 6), 42, "DEMO-2026-000042"),
        (NumberTemplate("INV", False, 4), 7, "INV-0007"),
        (NumberTemplate("A", True, 2), 1234, "A-2026-1234"),
    ],
)
def test_invoice_numbers_follow_the_template(
    template: NumberTemplate, number: int, expected: str
) -> None:
    assert template.format(number, datetime(2026, 12, 31, 23, tzinfo=UTC)) == expected
