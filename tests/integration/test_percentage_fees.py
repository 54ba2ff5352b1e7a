"""A percentage price's fees summed in PostgreSQL are the fees `domain.pricing` computes on
the same transactions, to the minor unit: each fee rounded once, half-up, and held within
its minimum and maximum, whatever the currency's decimals."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.currency import exponent_of
from domain.customers import CustomerDraft
from domain.metrics import Aggregation, MetricDraft
from domain.money import Money, format_decimal
from domain.pricing import (
    MeteredUsage,
    Percentage,
    TransactionFees,
    price_transaction_fees,
    price_transactions,
    price_usage,
)
from domain.services.customers import create_customer
from domain.services.metrics import create_billable_metric
from domain.services.usage import record_usage
from domain.usage import UsageEventIn
from infra.db import tenant_transaction
from infra.reads import SqlReads
from infra.repositories.accounts import ensure_account
from infra.uow import SqlUnitOfWork

CURRENCIES = ["JPY", "USD", "KWD"]  # 0, 2 and 3 decimals


def decimal_of(digits: int, places: int) -> Decimal:
    return Decimal(f"{digits}E-{places}")


# 0 to 100 percent with up to 4 decimals ("2.9", "0.0125", "100")
rates = st.integers(0, 4).flatmap(
    lambda places: st.builds(decimal_of, st.integers(0, 100 * 10**places), st.just(places))
)


@st.composite
def percentage_prices(draw: st.DrawFn) -> Percentage:
    currency = draw(st.sampled_from(CURRENCIES))
    money = st.integers(0, 10**5).map(lambda minor: Money(minor, currency))
    low, high = sorted(draw(st.lists(money, min_size=2, max_size=2)))
    return Percentage(
        rate=draw(rates),
        currency=currency,
        fixed_amount=draw(st.none() | money),
        min_amount=draw(st.none() | st.just(low)),
        max_amount=draw(st.none() | st.just(high)),
    )


# Transaction amounts: exact to the minor unit of some currency, or finer (a usage value has
# up to 12 decimals), drawn from a small pool so that amounts repeat as real prices do.
amounts = st.builds(decimal_of, st.integers(0, 10**9), st.sampled_from([0, 2, 3, 12]))
transaction_lists = st.lists(amounts, min_size=1, max_size=5).flatmap(
    lambda pool: st.lists(st.sampled_from(pool), max_size=12)
)


async def _fresh_tenant(engine: AsyncEngine, currency: str) -> tuple[str, list[str]]:
    """A new merchant with two customers billed in `currency` and a SUM metric `payments`."""
    tenant_id = "t-" + secrets.token_hex(6)
    async with engine.begin() as conn:
        await ensure_account(conn, tenant_id, "Percentage fees merchant")
    async with tenant_transaction(engine, tenant_id) as db:
        customers = [
            (await create_customer(SqlUnitOfWork(db), CustomerDraft(name, currency))).id
            for name in ("Acme Payments", "Globex Payments")
        ]
        await create_billable_metric(
            SqlUnitOfWork(db), MetricDraft("payments", "Payments", Aggregation.SUM, "amount")
        )
    return tenant_id, customers


def _expected(model: Percentage, transactions: list[Decimal]) -> TransactionFees | None:
    """What domain.pricing charges for the transactions, None for none."""
    if not transactions:
        return None
    counted = tuple(Counter(transactions).items())
    fees = price_usage(model, MeteredUsage(sum(transactions, Decimal(0)), counted)).total
    exponent = exponent_of(model.currency)
    if all(amount == amount.quantize(Decimal(1).scaleb(-exponent)) for amount in transactions):
        # exact to the minor unit: one line per transaction gives the same fees
        one_by_one = [Money.from_decimal(amount, model.currency) for amount in transactions]
        assert price_transactions(model, one_by_one).total == fees
    return TransactionFees(len(transactions), sum(transactions, Decimal(0)), fees)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(model=percentage_prices(), first=transaction_lists, second=transaction_lists)
# 50 % of 0.01 is a tie at half a cent: half-up, away from zero, is 0.01 (banker's is 0.00)
@example(
    model=Percentage(Decimal("50"), "USD"),
    first=[Decimal("0.01"), Decimal("0.03")],
    second=[Decimal("0.05")],
)
# held at the minimum below it and at the maximum above it, once per transaction
@example(
    model=Percentage(Decimal("2.9"), "USD", Money(30, "USD"), Money(50, "USD"), Money(2000, "USD")),
    first=[Decimal("10.00"), Decimal("1000.00"), Decimal("10.00"), Decimal("0.05")],
    second=[],
)
async def test_fees_summed_in_the_database_are_the_fees_of_each_transaction(
    engine: AsyncEngine, model: Percentage, first: list[Decimal], second: list[Decimal]
) -> None:
    # given a fresh merchant whose two customers paid the amounts, recorded as users do
    tenant_id, customers = await _fresh_tenant(engine, model.currency)
    now = datetime.now(UTC)
    events = [
        UsageEventIn(
            index=index,
            idempotency_key=f"payment-{index}",
            metric_code="payments",
            timestamp=now - timedelta(hours=1),
            properties={"amount": format_decimal(amount)},
            customer_id=customer,
        )
        for index, (customer, amount) in enumerate(
            [(customers[0], a) for a in first] + [(customers[1], a) for a in second]
        )
    ]
    if events:
        async with tenant_transaction(engine, tenant_id) as db:
            result = await record_usage(SqlUnitOfWork(db), events, now)
        assert (result.accepted, result.rejected) == (len(events), [])
    start, end = now - timedelta(days=1), now + timedelta(days=1)

    # when the billing run's unit of work and a preview's reads sum the fees
    async with tenant_transaction(engine, tenant_id) as db:
        uow = SqlUnitOfWork(db)
        async with uow:
            [metric] = (await uow.metrics.by_codes({"payments"})).values()
            billed = await uow.usage.percentage_fees(customers, metric, model, start, end)
        previewed = await SqlReads(db).usage.percentage_fees(customers, metric, model, start, end)

    # then both are what domain.pricing charges, customer by customer, to the minor unit
    expected = {
        customer: fees
        for customer, transactions in zip(customers, (first, second), strict=True)
        if (fees := _expected(model, transactions)) is not None
    }
    assert billed == expected
    assert previewed == expected
    for customer, fees in billed.items():
        breakdown = price_transaction_fees(model, fees)
        assert breakdown.total == fees.fees
        assert [(line.count, line.quantity) for line in breakdown.lines] == [
            (fees.count, fees.volume)
        ]


async def test_a_window_without_transactions_charges_no_customer(
    engine: AsyncEngine,
) -> None:
    # given a merchant with customers but no usage
    tenant_id, customers = await _fresh_tenant(engine, "USD")
    model = Percentage(Decimal("2.9"), "USD", fixed_amount=Money(30, "USD"))
    now = datetime.now(UTC)
    async with tenant_transaction(engine, tenant_id) as db:
        [metric] = (await SqlReads(db).metrics.by_codes({"payments"})).values()
        # when / then: no transaction, no fee (not a fixed fee charged on nothing)
        reads = SqlReads(db).usage
        assert await reads.percentage_fees(customers, metric, model, now, now) == {}
        assert await reads.percentage_fees([], metric, model, now, now) == {}
