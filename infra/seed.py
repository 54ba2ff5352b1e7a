"""Demo data: a `demo` account with customers in several currencies and countries, billable
metrics, plans with every price model, tax rates, a week of usage for some customers and a
year of billing history (infra.seed_history).

Built through the same services the API calls, so the data is what users could create.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.billing_periods import truncate_to_second
from domain.customers import (
    Address,
    Customer,
    CustomerChanges,
    CustomerDraft,
    TaxId,
    TaxIdType,
)
from domain.invoices import NumberTemplate
from domain.metrics import Aggregation, MetricDraft
from domain.money import Money
from domain.plans import BillingMode, Interval, PlanDraft, PriceDraft
from domain.ports import Clock
from domain.pricing import (
    FlatFee,
    GraduatedTiers,
    Package,
    Percentage,
    PerUnit,
    Tier,
    VolumeTiers,
)
from domain.services.customers import archive_customer, create_customer, update_customer
from domain.services.metrics import create_billable_metric
from domain.services.plans import create_plan
from domain.services.tax_rates import create_tax_rate
from domain.services.usage import record_usage
from domain.taxes import TaxRateDraft
from domain.usage import UsageEventIn
from infra.clock import SYSTEM_CLOCK
from infra.repositories.accounts import ensure_account
from infra.repositories.invoices import SqlInvoiceRepository
from infra.seed_history import seed_history
from infra.tables import accounts, customers
from infra.uow import SqlUnitOfWork

DEMO_TENANT = "demo"
DEMO_INVOICE_NUMBERS = NumberTemplate(prefix="DEMO", include_year=True, padding=6)

DEMO_CUSTOMERS = [
    CustomerDraft(
        name="Acme Corporation",
        email="billing@acme.example",
        currency="USD",
        external_id="acme-001",
        address=Address(
            country="US", line1="1 Market St", city="San Francisco", state="CA", postal_code="94105"
        ),
        tax_ids=(TaxId(TaxIdType.US_EIN, "12-3456789"),),
        metadata={"plan_hint": "enterprise", "account_manager": "dana"},
    ),
    CustomerDraft(
        name="Bäckerei Müller GmbH",
        email="rechnung@mueller.example",
        currency="EUR",
        external_id="mueller-002",
        address=Address(country="DE", line1="Hauptstraße 5", city="Berlin", postal_code="10115"),
        tax_ids=(TaxId(TaxIdType.EU_VAT, "DE123456789"),),
        preferred_locale="de",
    ),
    CustomerDraft(
        name="Sakura Systems K.K.",
        email="keiri@sakura.example",
        currency="JPY",
        external_id="sakura-003",
        address=Address(country="JP", line1="1-1 Chiyoda", city="Tokyo", postal_code="100-0001"),
        preferred_locale="ja",
    ),
    CustomerDraft(
        name="Gulf Logistics W.L.L.",
        email="accounts@gulf.example",
        currency="KWD",
        address=Address(country="KW", city="Kuwait City"),
    ),
    CustomerDraft(
        name="Thames Analytics Ltd",
        email="finance@thames.example",
        currency="GBP",
        address=Address(country="GB", line1="10 Fleet St", city="London", postal_code="EC4Y 1AA"),
        tax_ids=(TaxId(TaxIdType.GB_VAT, "GB123456789"),),
        preferred_locale="en_GB",
    ),
    CustomerDraft(
        name="Maple Leaf Outfitters",
        email="ap@maple.example",
        currency="CAD",
        address=Address(country="CA", city="Toronto", state="ON", postal_code="M5H 2N2"),
    ),
    CustomerDraft(
        name="Rio Commerce Ltda",
        email="financeiro@rio.example",
        currency="BRL",
        address=Address(country="BR", city="Rio de Janeiro"),
        tax_ids=(TaxId(TaxIdType.BR_CNPJ, "12.345.678/0001-95"),),
    ),
    CustomerDraft(
        name="Atelier Lumière SARL",
        email="compta@lumiere.example",
        currency="EUR",
        external_id="lumiere-009",
        address=Address(country="FR", line1="12 rue de Rivoli", city="Paris", postal_code="75004"),
        tax_ids=(TaxId(TaxIdType.EU_VAT, "FR40123456789"),),
        preferred_locale="fr",
    ),
    # A business in another EU country than the merchant's: it accounts for the VAT itself.
    CustomerDraft(
        name="Van Dijk Logistiek B.V.",
        email="crediteuren@vandijk.example",
        currency="EUR",
        external_id="vandijk-010",
        address=Address(
            country="NL", line1="Keizersgracht 100", city="Amsterdam", postal_code="1015 AA"
        ),
        tax_ids=(TaxId(TaxIdType.EU_VAT, "NL123456789B01"),),
        tax_exempt="REVERSE",
        preferred_locale="nl",
        net_terms_days=14,
    ),
    CustomerDraft(
        name="Sunset Yoga Studio",
        email="hello@sunsetyoga.example",
        currency="USD",
        address=Address(
            country="US", line1="200 Ocean Ave", city="Los Angeles", state="CA", postal_code="90402"
        ),
    ),
    # Archived: the last of the list (seed_demo archives it).
    CustomerDraft(
        name="Alpine Tools AG",
        email="buchhaltung@alpine.example",
        currency="CHF",
        address=Address(country="CH", city="Zürich", postal_code="8001"),
    ),
]


DEMO_METRICS = [
    MetricDraft("api.calls", "API calls", Aggregation.COUNT),
    MetricDraft("storage.gb", "Storage (GB, peak)", Aggregation.MAX, "gb"),
    MetricDraft("payments.volume", "Payment volume", Aggregation.SUM, "amount"),
    MetricDraft("sms.sent", "SMS sent", Aggregation.COUNT),
]

_STRIPE_TIERS = (
    Tier(Decimal(5), Decimal("5.00")),
    Tier(Decimal(10), Decimal("4.00")),
    Tier(None, Decimal("3.00")),
)

DEMO_PLANS = [
    PlanDraft(
        code="starter-monthly",
        name="Starter",
        description="A flat monthly fee, priced in three currencies.",
        interval=Interval.MONTH,
        trial_days=14,
        prices=(
            PriceDraft(FlatFee(Money(1900, "USD"))),
            PriceDraft(FlatFee(Money(1800, "EUR"))),
            PriceDraft(FlatFee(Money(2500, "JPY"))),
            PriceDraft(FlatFee(Money(1500, "GBP"))),
        ),
    ),
    PlanDraft(
        code="team-seats",
        name="Team (per seat)",
        interval=Interval.MONTH,
        prices=(
            PriceDraft(PerUnit(Decimal("12.00"), "USD")),
            PriceDraft(PerUnit(Decimal("11.00"), "EUR")),
        ),
    ),
    PlanDraft(
        code="api-graduated",
        name="API usage, graduated",
        description="Stripe's graduated example: 1-5 at $5, 6-10 at $4, then $3.",
        interval=Interval.MONTH,
        prices=(
            PriceDraft(GraduatedTiers(_STRIPE_TIERS, "USD"), BillingMode.METERED, "api.calls"),
        ),
        minimum_commitments=(Money(5000, "USD"),),
    ),
    PlanDraft(
        code="storage-volume",
        name="Storage, volume tiers",
        interval=Interval.MONTH,
        prices=(PriceDraft(VolumeTiers(_STRIPE_TIERS, "EUR"), BillingMode.METERED, "storage.gb"),),
    ),
    PlanDraft(
        code="sms-packs",
        name="SMS packs",
        description="$5 per pack of 100 messages; a started pack counts whole.",
        interval=Interval.MONTH,
        prices=(PriceDraft(Package(Decimal("5.00"), 100, "USD"), BillingMode.METERED, "sms.sent"),),
    ),
    PlanDraft(
        code="payments-percentage",
        name="Payments, 2.9% + 30¢ (50¢ to $20 per payment)",
        interval=Interval.MONTH,
        prices=(
            PriceDraft(
                Percentage(
                    Decimal("2.9"), "USD", Money(30, "USD"), Money(50, "USD"), Money(2000, "USD")
                ),
                BillingMode.METERED,
                "payments.volume",
            ),
        ),
    ),
    PlanDraft(
        code="enterprise-yearly",
        name="Enterprise (yearly)",
        interval=Interval.YEAR,
        prices=(
            PriceDraft(FlatFee(Money(1_200_000, "USD"))),  # $12,000.00
            PriceDraft(FlatFee(Money(3_700_000, "KWD"))),  # KWD 3,700.000: three decimals
        ),
    ),
]

# The rates of the seeded customers' countries. Which applies is the customer's address's
# (domain.taxes.choose_rate): the Dutch customer's reverse charge wins over the Dutch rate.
DEMO_TAX_RATES = [
    TaxRateDraft("MwSt.", Decimal(19), inclusive=False, country="DE", description="Umsatzsteuer"),
    TaxRateDraft("TVA", Decimal(20), inclusive=False, country="FR", description="Taux normal"),
    TaxRateDraft("BTW", Decimal(21), inclusive=False, country="NL", description="Hoog tarief"),
    # UK consumer prices include VAT: the customer's £15.00 holds £2.50 of it.
    TaxRateDraft("VAT", Decimal(20), inclusive=True, country="GB", description="Standard rate"),
    TaxRateDraft(
        "Sales tax",
        Decimal("7.25"),
        inclusive=False,
        country="US",
        region="CA",
        description="California statewide base rate",
    ),
    TaxRateDraft(
        "消費税", Decimal(10), inclusive=False, country="JP", description="Consumption tax"
    ),
]


async def seed_demo(engine: AsyncEngine, clock: Clock = SYSTEM_CLOCK) -> bool:
    """Creates the demo account's data unless it is there already; True if it seeded.

    Each step is a service call whose unit of work owns its transaction, as all work outside
    a request does: a seed cut short keeps the steps it finished, and a later seed, finding
    customers, adds nothing. The billing history ends at the clock's time.
    """
    async with engine.begin() as conn:
        await ensure_account(conn, DEMO_TENANT, "Demo Merchant")
    uow = SqlUnitOfWork.owning(engine, DEMO_TENANT)
    async with uow:
        present = (await uow.connection.execute(select(customers.c.id).limit(1))).first()
    if present is not None:
        return False
    async with uow:
        # Set before the first invoice is numbered: DEMO-2026-000042.
        await SqlInvoiceRepository(uow.connection).set_template(DEMO_INVOICE_NUMBERS)
        await uow.commit()
    now = truncate_to_second(clock.now())
    created = [await create_customer(uow, draft) for draft in DEMO_CUSTOMERS]
    await update_customer(uow, created[0].id, CustomerChanges(metadata={"plan_hint": "growth"}))
    await archive_customer(uow, created[-1].id)
    for metric in DEMO_METRICS:
        await create_billable_metric(uow, metric)
    plans = [await create_plan(uow, plan) for plan in DEMO_PLANS]
    for rate in DEMO_TAX_RATES:
        await create_tax_rate(uow, rate)
    await record_usage(uow, _demo_usage(created[:3], now), now)
    await seed_history(engine, uow, {c.name: c for c in created}, {p.code: p for p in plans}, now)
    return True


def _demo_usage(customers_with_usage: list[Customer], now: datetime) -> list[UsageEventIn]:
    """A week of API calls, storage, card payments and text messages for a few customers,
    spread over the days before `now`. The payments show the percentage price's
    per-transaction minimum and maximum; the messages start a second pack of 100."""
    events: list[UsageEventIn] = []
    for c, customer in enumerate(customers_with_usage):
        for day in range(7):
            for n in range(5 + 3 * c):
                at = now - timedelta(days=day, minutes=7 * n + 1)
                events.append(
                    UsageEventIn(
                        index=len(events),
                        idempotency_key=f"demo-{customer.id}-{day}-{n}",
                        metric_code="api.calls",
                        timestamp=at,
                        properties={"endpoint": "/v1/search", "region": "eu"},
                        customer_id=customer.id,
                    )
                )
            events.append(
                UsageEventIn(
                    index=len(events),
                    idempotency_key=f"demo-{customer.id}-{day}-storage",
                    metric_code="storage.gb",
                    timestamp=now - timedelta(days=day, hours=1),
                    properties={"gb": str(Decimal(12 + 5 * c) + Decimal(day) / 4)},
                    customer_id=customer.id,
                )
            )
            for n in range(15 + 5 * c):
                events.append(
                    UsageEventIn(
                        index=len(events),
                        idempotency_key=f"demo-{customer.id}-{day}-sms-{n}",
                        metric_code="sms.sent",
                        timestamp=now - timedelta(days=day, hours=3, minutes=n),
                        properties={"country": "DE"},
                        customer_id=customer.id,
                    )
                )
            for n, amount in enumerate(_DEMO_PAYMENTS[(day + c) % 3 :]):
                events.append(
                    UsageEventIn(
                        index=len(events),
                        idempotency_key=f"demo-{customer.id}-{day}-payment-{n}",
                        metric_code="payments.volume",
                        timestamp=now - timedelta(days=day, hours=2, minutes=n),
                        properties={"amount": amount},
                        customer_id=customer.id,
                    )
                )
    return events


# 5.00 pays the 0.50 minimum fee, 980.00 the 20.00 maximum.
_DEMO_PAYMENTS = ("5.00", "49.90", "149.99", "980.00", "12.00")


async def is_empty(engine: AsyncEngine) -> bool:

    async with engine.connect() as conn:
        return (await conn.execute(select(accounts.c.id).limit(1))).first() is None
