"""Billing lists cost a fixed number of SQL statements, whatever the page size (no N+1):
invoices with their lines, customer and subscription; subscriptions with their customer,
plan and newest invoices; customers with their subscriptions and invoices."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from domain.customers import CustomerDraft
from domain.money import Money
from domain.services.billing import bill_due
from domain.services.customers import create_customer
from domain.services.invoices import OneOffLine, add_invoice_line, create_invoice, finalize_invoice
from infra.repositories.accounts import ensure_account
from tests.api.test_query_counts import measured
from tests.conftest import StatementCounter, Tenant
from tests.support.billing import Billing

SUBSCRIBERS = 55
ONE_OFF_INVOICES = 3
BILLING_READS = ("customers:read", "catalog:read", "subscriptions:read", "invoices:read")

INVOICES_PAGE = """
query InvoicesPage($first: Int!) {
  invoices(first: $first) {
    totalCount
    edges { cursor node {
      id number status billingReason total { amount currency formatted } amountDue { amount }
      lines { id kind description amount { amount formatted } quantity }
      customer { id name }
      subscription { id status }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SUBSCRIPTIONS_PAGE = """
query SubscriptionsPage($first: Int!) {
  subscriptions(first: $first) {
    totalCount
    edges { cursor node {
      id status currentPeriodEnd
      customer { id name }
      plan { id code prices { id } }
      invoices(first: 3) { id number billingReason total { formatted } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

CUSTOMERS_WITH_BILLING_PAGE = """
query CustomersWithBilling($first: Int!) {
  customers(first: $first) {
    totalCount
    edges { cursor node {
      id name
      subscriptions { id status plan { code } }
      invoices(first: 3) { id status total { formatted } lines { id amount { amount } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.fixture(scope="module")
async def billed_tenant(app: Any) -> str:
    """A tenant of its own, billed through the services: 55 customers each subscribed
    40 days ago (the first period's invoice), then one billing run (every renewal's
    invoice at once), and three one-off invoices: 113 invoices. Read-only for the tests of
    this module."""
    tenant_id = "t-" + secrets.token_hex(6)
    async with app.state.engine.begin() as conn:
        await ensure_account(conn, tenant_id, f"Billing query count merchant {tenant_id}")
    billing = Billing(app.state.engine, tenant_id)
    now = datetime.now(UTC)
    start = (now - timedelta(days=40)).replace(microsecond=0)
    seats = await billing.plan(code="seats", seat=Money(1_250, "USD"))
    flat = await billing.plan(code="flat", seat=None, flat=Money(4_900, "USD"))
    customer_ids = []
    for i in range(SUBSCRIBERS):
        draft = CustomerDraft(name=f"Subscriber {i:02d}", currency="USD")
        customer_ids.append((await create_customer(billing.uow(), draft)).id)
        plan = seats if i % 2 else flat
        await billing.subscribe(customer_ids[-1], plan.id, start, now=start, quantity=1 + i % 3)
    while (await bill_due(billing.uow(), now)).invoices:
        pass
    for customer_id in customer_ids[:ONE_OFF_INVOICES]:
        draft_invoice = await create_invoice(billing.uow(), customer_id, "One-off", now)
        line = OneOffLine("Setup", Decimal("99.00"))
        await add_invoice_line(billing.uow(), draft_invoice.id, line, now)
        await finalize_invoice(billing.uow(), draft_invoice.id, now)
    return tenant_id


@pytest.mark.parametrize(
    ("query", "root"),
    [
        (INVOICES_PAGE, "invoices"),
        (SUBSCRIPTIONS_PAGE, "subscriptions"),
        (CUSTOMERS_WITH_BILLING_PAGE, "customers"),
    ],
    ids=[
        "invoices with lines, customer, subscription",
        "subscriptions with customer, plan, invoices",
        "customers with subscriptions and invoices",
    ],
)
async def test_a_page_of_50_costs_as_many_statements_as_a_page_of_5(
    billed_tenant: str,
    app: Any,
    client: httpx.AsyncClient,
    count_statements: StatementCounter,
    query: str,
    root: str,
) -> None:
    # given
    tenant = Tenant(id=billed_tenant, app=app, client=client)
    await tenant.gql(query, {"first": 1}, scopes=BILLING_READS)  # warm-up

    # when
    small, small_sql, small_data = await measured(
        tenant, count_statements, query, {"first": 5}, BILLING_READS
    )
    large, large_sql, large_data = await measured(
        tenant, count_statements, query, {"first": 50}, BILLING_READS
    )

    # then
    assert len(small_data[root]["edges"]) == 5
    assert len(large_data[root]["edges"]) == 50
    assert_nested_lists_filled(root, [edge["node"] for edge in large_data[root]["edges"]])
    assert small > 0 and large == small, large_sql
    # tenant setting, page, count, and one batch per nested field (a by-id loader, lines,
    # newest invoices, subscriptions by customer, a plan's prices)
    assert small <= 8, small_sql


def assert_nested_lists_filled(root: str, nodes: list[dict[str, Any]]) -> None:
    """Every nested field was resolved from its batch: a test that passes with empty
    nested lists would prove nothing about their statements."""
    if root == "invoices":
        assert all(node["lines"] and node["customer"]["name"] for node in nodes), nodes
        with_subscription = [node for node in nodes if node["subscription"] is not None]
        assert len(with_subscription) >= 50 - ONE_OFF_INVOICES
        assert all(node["subscription"]["status"] == "ACTIVE" for node in with_subscription)
    elif root == "subscriptions":
        for node in nodes:
            assert node["customer"]["name"].startswith("Subscriber"), node
            assert node["plan"]["code"] in ("seats", "flat") and node["plan"]["prices"], node
            # the first period's invoice and the renewal's, newest first
            assert len(node["invoices"]) == 2, node
            reasons = [invoice["billingReason"] for invoice in node["invoices"]]
            assert reasons == ["SUBSCRIPTION_CYCLE", "SUBSCRIPTION_CREATE"], node
    else:
        for node in nodes:
            assert [s["status"] for s in node["subscriptions"]] == ["ACTIVE"], node
            assert node["subscriptions"][0]["plan"]["code"] in ("seats", "flat"), node
            assert 2 <= len(node["invoices"]) <= 3, node
            assert all(invoice["lines"] for invoice in node["invoices"]), node
