"""The demo account's year of billing: subscriptions, renewals, a plan change, cancellations,
coupons, one-off invoices, credit notes and balances, replayed in the order they happened.

Every step is a service call given the time it happened as its `now`, and before each
step the billing run bills what fell due by then, renewal after renewal, each at its
period's boundary: invoices are dated, numbered (gapless, in date order) and taxed as if
the account had been running for a year. The history is laid out relative to the seed's
day, so two seeds on the same day make the same history.

Usage is the one thing not replayed: `recordUsage` accepts events up to 31 days old, so
only the metered subscription started last month has usage on its invoices (the week
`infra.seed` records).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.billing_periods import add_interval
from domain.coupons import CouponDraft, CouponDuration
from domain.credit_notes import CreditNoteOutcome, CreditNoteReason, CreditNoteRequest
from domain.customers import Customer
from domain.dunning import DunningPolicy
from domain.money import Money
from domain.payments import PaymentProvider
from domain.plans import Interval, Plan
from domain.services.balances import adjust_customer_balance
from domain.services.coupons import apply_coupon, create_coupon
from domain.services.credit_notes import create_credit_note
from domain.services.invoices import (
    OneOffLine,
    add_invoice_line,
    create_invoice,
    finalize_invoice,
    mark_invoice_uncollectible,
    void_invoice,
)
from domain.services.payment_methods import attach_payment_method
from domain.services.payments import pay_invoice
from domain.services.subscriptions import (
    cancel_subscription,
    change_subscription_plan,
    create_subscription,
)
from domain.subscriptions import SubscriptionDraft, SubscriptionStatus
from infra.billing_worker import bill_tenant
from infra.collection_worker import collect_tenant
from infra.payments.sandbox import SandboxPaymentProvider
from infra.tables import subscriptions
from infra.uow import OwningUnitOfWork

Step = Callable[[datetime], Awaitable[object]]


@dataclass
class _Timeline:
    """Steps of the history by the time they happen; equal times keep the order given."""

    steps: list[tuple[datetime, int, Step]] = field(default_factory=list)

    def at(self, when: datetime, step: Step) -> None:
        self.steps.append((when, len(self.steps), step))


def history_start(now: datetime) -> datetime:
    """When the oldest subscription started: 09:00 UTC on the day after the seed's day a
    year earlier, so the year holds twelve of its monthly invoices and the twelfth renewal
    is the day after the seed."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return add_interval(day, Interval.MONTH, -12) + timedelta(days=1, hours=9)


async def seed_history(
    engine: AsyncEngine,
    uow: OwningUnitOfWork,
    customers: Mapping[str, Customer],
    plans: Mapping[str, Plan],
    now: datetime,
) -> None:
    """Replays the year before `now` (UTC, whole seconds) for the demo customers and plans,
    then bills what is due at `now`."""
    start = history_start(now)
    provider = SandboxPaymentProvider(engine, uow.tenant_id)
    today = now.replace(hour=0, minute=0, second=0)

    def month(n: int, days: int = 0, hours: int = 0) -> datetime:
        return add_interval(start, Interval.MONTH, n) + timedelta(days=days, hours=hours)

    def days_ago(days: int, hour: int) -> datetime:
        return today - timedelta(days=days) + timedelta(hours=hour)

    def customer(name: str) -> str:
        return customers[name].id

    def plan(code: str) -> str:
        return plans[code].id

    subscription_ids: dict[str, str] = {}
    coupon_ids: dict[str, str] = {}
    timeline = _Timeline()

    def coupon(key: str, draft: CouponDraft) -> Step:
        async def step(at: datetime) -> None:
            coupon_ids[key] = (await create_coupon(uow, draft, at)).id

        return step

    def subscribe(
        key: str,
        name: str,
        code: str,
        quantity: int = 1,
        *,
        trial_days: int | None = None,
        coupon: str | None = None,
    ) -> Step:
        async def step(at: datetime) -> None:
            draft = SubscriptionDraft(
                customer_id=customer(name),
                plan_id=plan(code),
                quantity=quantity,
                start=at,
                trial_days=trial_days,
                coupon_id=None if coupon is None else coupon_ids[coupon],
            )
            subscription, _ = await create_subscription(uow, draft, at)
            subscription_ids[key] = subscription.id

        return step

    # The offers: a launch discount, an apology credit, and a capped founders' deal.
    timeline.at(
        month(0, days=-1),
        coupon(
            "launch",
            CouponDraft(
                name="Launch offer: 20% off for 3 months",
                percent_off=Decimal(20),
                duration=CouponDuration.REPEATING,
                duration_in_months=3,
                code="launch-20",
            ),
        ),
    )
    timeline.at(
        month(0, days=-1),
        coupon(
            "founders",
            CouponDraft(
                name="Founding customer: 15% off forever",
                percent_off=Decimal(15),
                duration=CouponDuration.FOREVER,
                max_redemptions=3,
                code="founders-15",
            ),
        ),
    )

    # Cards on file (sandbox tokens): renewals are charged as the worker would; Rio's card
    # is declined.
    cards = {
        "Acme Corporation": "tok_visa",
        "Bäckerei Müller GmbH": "tok_mastercard",
        "Van Dijk Logistiek B.V.": "tok_visa",
        "Sakura Systems K.K.": "tok_visa",
        "Thames Analytics Ltd": "tok_visa",
        "Atelier Lumière SARL": "tok_mastercard",
        "Gulf Logistics W.L.L.": "tok_visa",
        "Maple Leaf Outfitters": "tok_visa",
        "Rio Commerce Ltda": "tok_card_declined",
    }

    async def attach_cards(at: datetime) -> None:
        for name, token in cards.items():
            await attach_payment_method(uow, provider, customer(name), token, now=at)

    timeline.at(month(0, days=-2), attach_cards)

    # Subscriptions started through the first weeks of the year, each renewing on its day.
    timeline.at(month(0), subscribe("acme", "Acme Corporation", "team-seats", 25, coupon="launch"))
    timeline.at(month(0, days=3), subscribe("mueller", "Bäckerei Müller GmbH", "starter-monthly"))
    timeline.at(
        month(0, days=5),
        subscribe("vandijk", "Van Dijk Logistiek B.V.", "team-seats", 8),
    )
    timeline.at(
        month(0, days=8),
        subscribe("sakura", "Sakura Systems K.K.", "starter-monthly", trial_days=0),
    )
    timeline.at(
        month(0, days=12),
        subscribe(
            "thames", "Thames Analytics Ltd", "starter-monthly", trial_days=0, coupon="founders"
        ),
    )
    timeline.at(month(0, days=15), subscribe("lumiere", "Atelier Lumière SARL", "team-seats", 3))
    timeline.at(
        month(0, days=20),
        subscribe("gulf", "Gulf Logistics W.L.L.", "enterprise-yearly"),
    )

    # One-off invoices: a workshop billed twice by mistake (the second voided), services a
    # customer never paid for, an open data migration, and a draft being prepared.
    async def one_off(name: str, memo: str | None, line: OneOffLine, at: datetime) -> str:
        draft = await create_invoice(uow, customer(name), memo, at)
        await add_invoice_line(uow, draft.id, line, at)
        return (await finalize_invoice(uow, draft.id, at)).id

    workshop = OneOffLine("Onboarding workshop (2 days, on site)", Decimal("1500.00"))
    one_offs: dict[str, str] = {}

    async def workshops(at: datetime) -> None:
        one_offs["workshop"] = await one_off("Acme Corporation", None, workshop, at)
        one_offs["duplicate"] = await one_off(
            "Acme Corporation", None, workshop, at + timedelta(minutes=5)
        )

    timeline.at(month(1, days=6, hours=2), workshops)

    # The workshop is paid by card; travel billed twice (150.00) is refunded to the card
    # through a credit note.
    async def workshop_paid(at: datetime) -> None:
        await pay_invoice(uow, provider, one_offs["workshop"], None, None, request_key=None, now=at)

    timeline.at(month(1, days=20), workshop_paid)
    timeline.at(
        month(2, days=1),
        lambda at: create_credit_note(
            uow,
            CreditNoteRequest(
                one_offs["workshop"],
                CreditNoteReason.DUPLICATE,
                CreditNoteOutcome.REFUND,
                amount=Decimal("150.00"),
                memo="Travel costs billed twice",
            ),
            at,
            refunds_by=provider,
        ),
    )
    timeline.at(
        month(1, days=7),
        lambda at: void_invoice(uow, one_offs["duplicate"], at),
    )

    # The workshop ended half a day early: 300.00 off what is due, and 200.00 credited to
    # Acme's balance, which its next renewal takes.
    def credit_workshop(amount: str, reason: CreditNoteReason, outcome: CreditNoteOutcome) -> Step:
        async def step(at: datetime) -> None:
            request = CreditNoteRequest(
                one_offs["workshop"],
                reason,
                outcome,
                amount=Decimal(amount),
                memo="Workshop shortened to one and a half days",
            )
            await create_credit_note(uow, request, at)

        return step

    timeline.at(
        month(1, days=9),
        credit_workshop(
            "300.00", CreditNoteReason.PRODUCT_UNSATISFACTORY, CreditNoteOutcome.REDUCE_AMOUNT_DUE
        ),
    )
    timeline.at(
        month(1, days=9, hours=1),
        credit_workshop("200.00", CreditNoteReason.ORDER_CHANGE, CreditNoteOutcome.CREDIT_BALANCE),
    )

    async def implementation(at: datetime) -> None:
        one_offs["implementation"] = await one_off(
            "Rio Commerce Ltda",
            "Implantação e integração com o ERP",
            OneOffLine("Implementation services", Decimal("450.00"), Decimal(10)),
            at,
        )

    timeline.at(month(4, days=2, hours=3), implementation)
    # Its payment is declined; months later it is written off.
    timeline.at(
        month(4, days=20),
        lambda at: pay_invoice(
            uow, provider, one_offs["implementation"], None, None, request_key=None, now=at
        ),
    )
    timeline.at(
        month(8, days=2),
        lambda at: mark_invoice_uncollectible(uow, one_offs["implementation"], at),
    )

    # Mid-year the German bakery grows into the team plan: prorated to the second.
    timeline.at(
        month(6, days=10, hours=5),
        lambda at: change_subscription_plan(
            uow, subscription_ids["mueller"], plan("team-seats"), 4, at
        ),
    )

    async def apology(at: datetime) -> None:
        created = await create_coupon(
            uow,
            CouponDraft(
                name="$50 off: apology for the API outage",
                amount_off=Money(5000, "USD"),
                duration=CouponDuration.ONCE,
            ),
            at,
        )
        await apply_coupon(uow, created.id, customer_id=customer("Acme Corporation"), now=at)

    timeline.at(month(7, days=2, hours=4), apology)
    # The Dutch customer leaves at once, credited for the rest of its month; the Japanese
    # one at the end of its period.
    timeline.at(
        month(8, days=19, hours=6),
        lambda at: cancel_subscription(
            uow, subscription_ids["vandijk"], at, at_period_end=False, prorate=True
        ),
    )
    timeline.at(
        month(9, days=20, hours=1),
        lambda at: cancel_subscription(uow, subscription_ids["sakura"], at, at_period_end=True),
    )

    # Last month: SMS billed in arrears (its first period ended with usage in it), a data
    # migration invoice still open, a new studio on its free trial, a draft in progress.
    timeline.at(
        add_interval(today - timedelta(days=3), Interval.MONTH, -1) + timedelta(hours=9),
        subscribe("acme-sms", "Acme Corporation", "sms-packs"),
    )

    async def migration(at: datetime) -> None:
        one_offs["migration"] = await one_off(
            "Maple Leaf Outfitters",
            None,
            OneOffLine("Data migration from the previous billing system", Decimal("1250.00")),
            at,
        )

    timeline.at(days_ago(10, hour=14), migration)
    # A first instalment of 500.00: the invoice is partly paid.
    timeline.at(
        days_ago(6, hour=10),
        lambda at: pay_invoice(
            uow, provider, one_offs["migration"], None, Decimal("500.00"), request_key=None, now=at
        ),
    )
    timeline.at(days_ago(4, hour=9), subscribe("sunset", "Sunset Yoga Studio", "starter-monthly"))
    # A referral credit on the studio's balance, for its first invoice after the trial.
    timeline.at(
        days_ago(3, hour=10),
        lambda at: adjust_customer_balance(
            uow, customer("Sunset Yoga Studio"), Decimal("-25.00"), "Referral credit", at
        ),
    )

    async def training(at: datetime) -> None:
        draft = await create_invoice(
            uow, customer("Atelier Lumière SARL"), "Formation sur site, à confirmer", at
        )
        await add_invoice_line(
            uow, draft.id, OneOffLine("Formation sur site (1 jour)", Decimal("800.00")), at
        )

    timeline.at(days_ago(2, hour=11), training)

    for at, _, step in sorted(timeline.steps, key=lambda s: (s[0], s[1])):
        if at > now:
            continue
        await _bill_until(engine, uow, provider, at)
        await step(at)
    await _bill_until(engine, uow, provider, now)


async def _bill_until(
    engine: AsyncEngine, uow: OwningUnitOfWork, provider: PaymentProvider, until: datetime
) -> None:
    """Runs the billing run, and automatic collection, at each period end up to `until`,
    so each renewal is dated (and paid) at its boundary, as a worker running all year
    would have done."""
    while (due := await _next_period_end(uow)) is not None and due <= until:
        await bill_tenant(engine, uow.tenant_id, due)
        await collect_tenant(engine, provider, uow.tenant_id, due, DunningPolicy())
    await collect_tenant(engine, provider, uow.tenant_id, until, DunningPolicy())


async def _next_period_end(uow: OwningUnitOfWork) -> datetime | None:
    async with uow:
        result = await uow.connection.execute(
            select(func.min(subscriptions.c.current_period_end)).where(
                subscriptions.c.tenant_id == uow.tenant_id,
                subscriptions.c.status != SubscriptionStatus.CANCELED.value,
            )
        )
        due: datetime | None = result.scalar_one()
    return due
