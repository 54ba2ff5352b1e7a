"""Payment lists cost a fixed number of SQL statements, whatever the page size (no N+1):
payments with their invoice, method and refunds; refunds with their payment; invoices
with their payments and those payments' refunds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.api.test_payments import open_invoice, pay, refund
from tests.api.test_query_counts import measured
from tests.conftest import StatementCounter, Tenant, make_tenant

PAID = 12
READS = ("invoices:read", "payments:read")

PAYMENTS_PAGE = """
query($first: Int!) {
  payments(first: $first) {
    totalCount
    edges { node {
      id status amount { amount } amountRefunded { amount }
      invoice { id status amountPaid { amount } }
      paymentMethod { id last4 }
      refunds { id amount { amount } status }
    } }
  }
}
"""
REFUNDS_PAGE = """
query($first: Int!) {
  refunds(first: $first) {
    totalCount
    edges { node { id amount { amount } payment { id status refunds { id } } } }
  }
}
"""
INVOICES_PAGE = """
query($first: Int!) {
  invoices(first: $first) {
    edges { node { id payments { id refunds { id } } } }
  }
}
"""


@pytest.fixture(scope="module")
async def paid_tenant(app: Any) -> AsyncIterator[Tenant]:
    """12 invoices, each paid in full and partly refunded (read-only for the tests)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ledgerline.test"
    ) as client:
        yield await _paid(await make_tenant(app, client))


async def _paid(tenant: Tenant) -> Tenant:
    for i in range(PAID):
        _, invoice_id, _ = await open_invoice(tenant, f"{10 + i}.00")
        payment = (await pay(tenant, invoiceId=invoice_id))["payment"]
        assert payment["status"] == "SUCCEEDED"
        assert (await refund(tenant, paymentId=payment["id"], amount="1.00"))["refund"]
    return tenant


@pytest.mark.parametrize(
    ("query", "root"),
    [(PAYMENTS_PAGE, "payments"), (REFUNDS_PAGE, "refunds"), (INVOICES_PAGE, "invoices")],
)
async def test_a_page_of_10_costs_as_many_statements_as_a_page_of_3(
    paid_tenant: Tenant, count_statements: StatementCounter, query: str, root: str
) -> None:
    await paid_tenant.gql(query, {"first": 1}, scopes=list(READS))  # warm-up
    small, small_sql, small_data = await measured(
        paid_tenant, count_statements, query, {"first": 3}, READS
    )
    large, large_sql, large_data = await measured(
        paid_tenant, count_statements, query, {"first": 10}, READS
    )
    nodes: list[dict[str, Any]] = [e["node"] for e in large_data[root]["edges"]]
    assert len(nodes) == 10 and len(small_data[root]["edges"]) == 3
    if root == "payments":
        assert all(n["invoice"]["status"] == "PAID" and n["refunds"] for n in nodes), nodes
        assert all(n["paymentMethod"]["last4"] == "4242" for n in nodes), nodes
    elif root == "refunds":
        assert all(n["payment"]["refunds"] for n in nodes), nodes
    else:
        assert all(n["payments"] and n["payments"][0]["refunds"] for n in nodes), nodes
    assert small > 0 and large == small, large_sql
    assert small <= 7, small_sql
