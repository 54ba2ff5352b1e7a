"""The read path costs a fixed number of SQL statements, whatever the page size (no N+1)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from domain.coupons import CouponDraft, CouponDuration
from domain.customers import Address, CustomerChanges, CustomerDraft
from domain.metrics import Aggregation, MetricDraft
from domain.money import Money
from domain.plans import BillingMode, Interval, PlanDraft, PriceDraft
from domain.pricing import FlatFee, Percentage
from domain.services.coupons import create_coupon
from domain.services.customers import create_customer, update_customer
from domain.services.metrics import create_billable_metric
from domain.services.plans import create_plan
from domain.services.tax_rates import create_tax_rate
from domain.services.usage import record_usage
from domain.taxes import TaxRateDraft
from domain.usage import UsageEventIn
from infra.db import tenant_transaction
from infra.repositories.accounts import ensure_account
from infra.uow import SqlUnitOfWork
from tests.conftest import StatementCounter, Tenant

CUSTOMER_PAGE = """
query CustomerPage($first: Int!) {
  customers(first: $first) {
    edges {
      cursor
      node {
        id
        name
        email
        address { line1 city country }
        balance { amount currency formatted }
        recentEvents { id type subject { id ... on Customer { name } } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

CUSTOMER_PAGE_WITH_TOTAL = """
query CustomerPageWithTotal($first: Int!) {
  customers(first: $first) {
    totalCount
    edges {
      cursor
      node {
        id
        name
        email
        address { line1 city country }
        balance { amount currency formatted }
        recentEvents { id type subject { id ... on Customer { name } } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

NODES = """
query Nodes($ids: [ID!]!) {
  nodes(ids: $ids) {
    id
    ... on Customer {
      name
      address { city country }
      balance { amount currency formatted }
      recentEvents { id type subject { id ... on Customer { name } } }
    }
  }
}
"""

CROWD_SIZE = 100


@pytest.fixture(scope="module")
async def crowd_ids(app: Any) -> list[str]:
    """A tenant of its own with 100 customers (every other one updated once): its id first,
    then the customer ids, oldest first. Read-only for the tests of this module."""
    tenant_id = "t-" + secrets.token_hex(6)
    async with app.state.engine.begin() as conn:
        await ensure_account(conn, tenant_id, f"Query count merchant {tenant_id}")
    ids = []
    async with tenant_transaction(app.state.engine, tenant_id) as db:
        for i in range(CROWD_SIZE):
            draft = CustomerDraft(
                name=f"Customer {i:03d}",
                # USD: the crowd's usage is priced under USD prices, and a price charges
                # only customers billed in its currency
                currency="USD",
                email=f"customer{i}@example.com",
                address=Address(country="DE", line1=f"Strasse {i}", city="Berlin"),
            )
            created = await create_customer(SqlUnitOfWork(db), draft)
            if i % 2 == 0:
                await update_customer(
                    SqlUnitOfWork(db), created.id, CustomerChanges(name=f"Customer {i:03d} (b)")
                )
            ids.append(created.id)
        await _catalog_and_usage(db, ids)
    return [tenant_id, *ids]


METRIC = "payments"
USAGE_WINDOW = {
    "from": "2026-11-01T00:00:00+00:00",
    "to": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
}


async def _catalog_and_usage(db: Any, customer_ids: list[str]) -> None:
    """100 billable metrics, 100 plans (each with a percentage price on `payments`) and a
    usage event for every customer."""
    for i in range(CROWD_SIZE):
        await create_billable_metric(
            SqlUnitOfWork(db),
            MetricDraft(
                code=METRIC if i == 0 else f"metric-{i:03d}",
                name=f"Metric {i:03d}",
                aggregation=Aggregation.SUM,
                property="amount",
            ),
        )
    for i in range(CROWD_SIZE):
        prices = (
            PriceDraft(FlatFee(Money(1000 + i, "USD"))),
            PriceDraft(Percentage(Decimal("0.029"), "USD"), BillingMode.METERED, METRIC),
        )
        await create_plan(
            SqlUnitOfWork(db),
            PlanDraft(
                code=f"plan-{i:03d}", name=f"Plan {i:03d}", interval=Interval.MONTH, prices=prices
            ),
        )
    now = datetime.now(UTC)
    events = [
        UsageEventIn(
            i, f"usage-{i}", METRIC, now - timedelta(minutes=i), {"amount": 10 + i}, customer_id
        )
        for i, customer_id in enumerate(customer_ids)
    ]
    await record_usage(SqlUnitOfWork(db), events, now)


@pytest.fixture
def crowd(crowd_ids: list[str], app: Any, client: httpx.AsyncClient) -> Tenant:
    return Tenant(id=crowd_ids[0], app=app, client=client)


async def measured(
    tenant: Tenant,
    counter: StatementCounter,
    query: str,
    variables: dict[str, Any],
    scopes: tuple[str, ...] = ("customers:read",),
) -> tuple[int, list[str], dict[str, Any]]:
    """(statements issued, their SQL, response data) of one request."""
    with counter:
        body = await tenant.gql(query, variables, scopes=list(scopes))
    assert "errors" not in body, body
    return counter.count, list(counter.statements), body["data"]


def assert_nested_fields_resolved(customer: dict[str, Any]) -> None:
    assert customer["address"]["country"] == "DE"
    assert customer["balance"]["amount"] == "0.00"
    assert customer["recentEvents"], customer
    assert customer["recentEvents"][-1]["type"] == "customer.created"
    for event in customer["recentEvents"]:
        assert event["subject"] == {"id": customer["id"], "name": customer["name"]}


async def test_a_page_of_100_customers_costs_as_many_statements_as_a_page_of_5(
    crowd: Tenant, count_statements: StatementCounter
) -> None:
    # given
    await crowd.gql(CUSTOMER_PAGE, {"first": 1}, scopes=["customers:read"])  # warm-up

    # when
    small, small_sql, small_data = await measured(
        crowd, count_statements, CUSTOMER_PAGE, {"first": 5}
    )
    large, large_sql, large_data = await measured(
        crowd, count_statements, CUSTOMER_PAGE, {"first": 100}
    )

    # then
    assert len(small_data["customers"]["edges"]) == 5
    assert len(large_data["customers"]["edges"]) == CROWD_SIZE
    for edge in large_data["customers"]["edges"]:
        assert_nested_fields_resolved(edge["node"])
    assert small > 0 and large == small, large_sql
    assert small <= 4, small_sql  # tenant setting, page, recent events (+ one spare)


async def test_nodes_for_50_ids_cost_as_many_statements_as_for_5(
    crowd: Tenant, crowd_ids: list[str], count_statements: StatementCounter
) -> None:
    # given
    customer_ids = crowd_ids[1:]
    await crowd.gql(NODES, {"ids": customer_ids[:1]}, scopes=["customers:read"])  # warm-up

    # when
    small, small_sql, small_data = await measured(
        crowd, count_statements, NODES, {"ids": customer_ids[:5]}
    )
    large, large_sql, large_data = await measured(
        crowd, count_statements, NODES, {"ids": customer_ids[50:]}
    )

    # then
    assert [node["id"] for node in small_data["nodes"]] == customer_ids[:5]
    assert [node["id"] for node in large_data["nodes"]] == customer_ids[50:]
    for node in large_data["nodes"]:
        assert_nested_fields_resolved(node)
    assert small > 0 and large == small, large_sql
    assert small <= 4, small_sql  # tenant setting, customers, recent events (+ one spare)


async def test_total_count_costs_one_statement_and_only_when_asked(
    crowd: Tenant, count_statements: StatementCounter
) -> None:
    # given
    await crowd.gql(CUSTOMER_PAGE, {"first": 1}, scopes=["customers:read"])  # warm-up

    # when
    without_total, without_sql, _ = await measured(
        crowd, count_statements, CUSTOMER_PAGE, {"first": 20}
    )
    with_total, with_sql, with_data = await measured(
        crowd, count_statements, CUSTOMER_PAGE_WITH_TOTAL, {"first": 20}
    )

    # then
    assert with_data["customers"]["totalCount"] == CROWD_SIZE
    assert with_total == without_total + 1, with_sql
    assert not any("count(" in statement.lower() for statement in without_sql), without_sql
    assert sum("count(" in statement.lower() for statement in with_sql) == 1, with_sql


PLANS_PAGE = """
query PlansPage($first: Int!) {
  plans(first: $first) {
    totalCount
    edges { cursor node {
      id code name currencies minimumCommitments { formatted }
      prices { id model currency billingMode metricCode priceFor(quantity: "1500") {
        total { formatted } lines { description amount { formatted } } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

METRICS_PAGE = """
query MetricsPage($first: Int!) {
  billableMetrics(first: $first) {
    totalCount
    edges { cursor node { id code name aggregation property filters createdAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

EVENTS_PAGE = """
query EventsPage($first: Int!) {
  events(first: $first) {
    totalCount
    edges { cursor node {
      id type objectId createdAt
      subject { id ... on Customer { name recentEvents { id } } ... on Plan { code } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

CUSTOMER_USAGE_PAGE = """
query CustomerUsagePage($first: Int!, $metric: String!, $price: ID!,
                        $from: DateTime!, $to: DateTime!) {
  customers(first: $first) {
    totalCount
    edges { node {
      id
      usage(metricCode: $metric, from: $from, to: $to) { quantity eventCount metric { code } }
      usageCharge(priceId: $price, from: $from, to: $to) {
        quantity eventCount breakdown { total { formatted } }
      }
    } }
  }
}
"""

ALL_READS = ("customers:read", "catalog:read")


async def _metered_price(tenant: Tenant) -> str:
    body = await tenant.gql(PLANS_PAGE, {"first": 1}, scopes=ALL_READS)
    prices = body["data"]["plans"]["edges"][0]["node"]["prices"]
    return next(p["id"] for p in prices if p["billingMode"] == "METERED")


@pytest.mark.parametrize(
    ("query", "root", "extra"),
    [
        (PLANS_PAGE, "plans", {}),
        (METRICS_PAGE, "billableMetrics", {}),
        (EVENTS_PAGE, "events", {}),
        (CUSTOMER_USAGE_PAGE, "customers", {"metric": METRIC, **USAGE_WINDOW}),
    ],
    ids=["plans with prices", "billable metrics", "events with subjects", "customers with usage"],
)
async def test_every_list_costs_as_many_statements_for_100_items_as_for_5(
    crowd: Tenant,
    count_statements: StatementCounter,
    query: str,
    root: str,
    extra: dict[str, Any],
) -> None:
    # given
    variables = dict(extra)
    if query is CUSTOMER_USAGE_PAGE:
        variables["price"] = await _metered_price(crowd)
    await crowd.gql(query, {"first": 1, **variables}, scopes=ALL_READS)  # warm-up

    # when
    small, small_sql, small_data = await measured(
        crowd, count_statements, query, {"first": 5, **variables}, ALL_READS
    )
    large, large_sql, large_data = await measured(
        crowd, count_statements, query, {"first": 100, **variables}, ALL_READS
    )

    # then
    assert len(small_data[root]["edges"]) == 5
    assert len(large_data[root]["edges"]) == 100
    assert large_data[root]["totalCount"] >= 100
    assert small > 0 and large == small, large_sql
    # tenant setting, page, count, and per nested field its loaders' batches: usage and
    # usageCharge each read the metric and the quantities (the charge also the price and
    # the value counts), whatever the page size
    assert small <= 9, small_sql


async def test_nested_lists_are_resolved_with_their_statements(
    crowd: Tenant, count_statements: StatementCounter
) -> None:
    # given
    price = await _metered_price(crowd)

    # when
    _, _, data = await measured(
        crowd,
        count_statements,
        CUSTOMER_USAGE_PAGE,
        {"first": 100, "metric": METRIC, "price": price, **USAGE_WINDOW},
        ALL_READS,
    )

    # then every customer's usage and charge come from the batched statements
    for edge in data["customers"]["edges"]:
        node = edge["node"]
        assert node["usage"]["eventCount"] == 1, node
        assert node["usage"]["metric"]["code"] == METRIC
        assert node["usageCharge"]["eventCount"] == 1, node


COUPONS_PAGE = """
query CouponsPage($first: Int!) {
  coupons(first: $first) {
    totalCount
    edges { cursor node {
      id code name percentOff amountOff { amount currency formatted } duration
      durationInMonths maxRedemptions timesRedeemed redeemBy appliesToPlans createdAt
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

TAX_RATES_PAGE = """
query TaxRatesPage($first: Int!) {
  taxRates(first: $first, filter: {country: "DE"}) {
    totalCount
    edges { cursor node {
      id displayName description percentage inclusive country region active createdAt
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

DISCOUNTS_CATALOG_SIZE = 50


@pytest.fixture(scope="module")
async def discounts_catalog(app: Any) -> str:
    """A tenant of its own with 50 coupons and 50 German tax rates, made through the
    services; read-only for the tests of this module."""
    tenant_id = "t-" + secrets.token_hex(6)
    async with app.state.engine.begin() as conn:
        await ensure_account(conn, tenant_id, f"Query count merchant {tenant_id}")
    now = datetime.now(UTC)
    async with tenant_transaction(app.state.engine, tenant_id) as db:
        for i in range(DISCOUNTS_CATALOG_SIZE):
            draft = (
                CouponDraft(name=f"Coupon {i}", percent_off=Decimal(i % 100 + 1))
                if i % 2
                else CouponDraft(
                    name=f"Coupon {i}",
                    amount_off=Money(100 + i, "EUR"),
                    duration=CouponDuration.REPEATING,
                    duration_in_months=3,
                    max_redemptions=10,
                    redeem_by=now + timedelta(days=30),
                )
            )
            await create_coupon(SqlUnitOfWork(db), draft, now)
            rate = TaxRateDraft(f"VAT {i}", Decimal("19"), inclusive=bool(i % 2), country="DE")
            await create_tax_rate(SqlUnitOfWork(db), rate)
    return tenant_id


@pytest.mark.parametrize(
    ("query", "root"),
    [(COUPONS_PAGE, "coupons"), (TAX_RATES_PAGE, "taxRates")],
    ids=["coupons", "tax rates"],
)
async def test_a_page_of_50_coupons_or_tax_rates_costs_as_many_statements_as_a_page_of_5(
    discounts_catalog: str,
    app: Any,
    client: httpx.AsyncClient,
    count_statements: StatementCounter,
    query: str,
    root: str,
) -> None:
    # given
    tenant = Tenant(id=discounts_catalog, app=app, client=client)
    scopes = ("catalog:read",)
    await tenant.gql(query, {"first": 1}, scopes=list(scopes))  # warm-up

    # when
    small, small_sql, small_data = await measured(
        tenant, count_statements, query, {"first": 5}, scopes
    )
    large, large_sql, large_data = await measured(
        tenant, count_statements, query, {"first": 50}, scopes
    )

    # then
    assert len(small_data[root]["edges"]) == 5
    assert len(large_data[root]["edges"]) == DISCOUNTS_CATALOG_SIZE
    assert large_data[root]["totalCount"] == DISCOUNTS_CATALOG_SIZE
    assert small > 0 and large == small, large_sql
    assert small <= 3, small_sql  # tenant setting, page, count
