"""Credit note and balance lists cost a fixed number of SQL statements, whatever the page
size (no N+1): credit notes with their invoice and customer; invoices with their credit
notes; customers with their balance transactions and the documents behind them."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from domain.credit_notes import CreditNoteOutcome, CreditNoteReason, CreditNoteRequest
from domain.customers import CustomerDraft
from domain.services.balances import adjust_customer_balance
from domain.services.credit_notes import create_credit_note
from domain.services.customers import create_customer
from domain.services.invoices import OneOffLine, add_invoice_line, create_invoice, finalize_invoice
from infra.repositories.accounts import ensure_account
from infra.uow import SqlUnitOfWork
from tests.api.test_query_counts import measured
from tests.conftest import StatementCounter, Tenant

CUSTOMERS = 12
READS = ("customers:read", "invoices:read")

CREDIT_NOTES_PAGE = """
query CreditNotesPage($first: Int!) {
  creditNotes(first: $first) {
    totalCount
    edges { cursor node {
      id number amount { formatted } outcome lines { invoiceLineId amount { amount } }
      invoice { id number amountCredited { amount } creditNotes { id } }
      customer { id name balance { amount } }
    } }
  }
}
"""

INVOICES_PAGE = """
query InvoicesWithCredit($first: Int!) {
  invoices(first: $first) {
    edges { node {
      id amountCredited { amount } balanceApplied { amount } amountRemaining { amount }
      creditNotes { id number amount { amount } customer { id } }
    } }
  }
}
"""

CUSTOMERS_PAGE = """
query CustomersWithBalances($first: Int!) {
  customers(first: $first) {
    edges { node {
      id balance { amount }
      balanceTransactions(first: 5) {
        id kind amount { amount } endingBalance { amount }
        creditNote { id number } invoice { id number }
      }
    } }
  }
}
"""


@pytest.fixture(scope="module")
async def credited_tenant(app: Any) -> str:
    """A tenant of its own: each customer credited by hand, then invoiced (the credit
    applied), then credited twice on that invoice (one to the balance, one off what is
    due). Read-only for the tests of this module."""
    tenant_id = "t-" + secrets.token_hex(6)
    engine = app.state.engine
    async with engine.begin() as conn:
        await ensure_account(conn, tenant_id, f"Credit query count merchant {tenant_id}")

    def uow() -> Any:
        return SqlUnitOfWork.owning(engine, tenant_id)

    now = datetime.now(UTC)
    for i in range(CUSTOMERS):
        draft = CustomerDraft(name=f"Credited {i:02d}", currency="USD")
        customer = await create_customer(uow(), draft)
        await adjust_customer_balance(uow(), customer.id, Decimal("-5.00"), "Welcome", now)
        invoice = await create_invoice(uow(), customer.id, None, now)
        await add_invoice_line(uow(), invoice.id, OneOffLine("Plan", Decimal("50.00")), now)
        finalized = await finalize_invoice(uow(), invoice.id, now)
        for outcome in (CreditNoteOutcome.CREDIT_BALANCE, CreditNoteOutcome.REDUCE_AMOUNT_DUE):
            request = CreditNoteRequest(
                finalized.id, CreditNoteReason.OTHER, outcome, amount=Decimal("3.00")
            )
            await create_credit_note(uow(), request, now)
    return tenant_id


@pytest.mark.parametrize(
    ("query", "root"),
    [
        (CREDIT_NOTES_PAGE, "creditNotes"),
        (INVOICES_PAGE, "invoices"),
        (CUSTOMERS_PAGE, "customers"),
    ],
    ids=[
        "credit notes with invoice and customer",
        "invoices with credit notes",
        "customers with balance transactions",
    ],
)
async def test_a_page_of_10_costs_as_many_statements_as_a_page_of_3(
    credited_tenant: str,
    app: Any,
    client: httpx.AsyncClient,
    count_statements: StatementCounter,
    query: str,
    root: str,
) -> None:
    # given
    tenant = Tenant(id=credited_tenant, app=app, client=client)
    await tenant.gql(query, {"first": 1}, scopes=READS)  # warm-up
    # when
    small, small_sql, small_data = await measured(
        tenant, count_statements, query, {"first": 3}, READS
    )
    large, large_sql, large_data = await measured(
        tenant, count_statements, query, {"first": 10}, READS
    )
    # then
    assert len(small_data[root]["edges"]) == 3
    nodes = [edge["node"] for edge in large_data[root]["edges"]]
    assert len(nodes) == 10
    _assert_filled(root, nodes)
    assert small > 0 and large == small, large_sql
    # tenant setting, page, count, one batch per nested list or link
    assert small <= 7, small_sql


def _assert_filled(root: str, nodes: list[dict[str, Any]]) -> None:
    """Nested fields came from their batches: empty ones would prove nothing."""
    if root == "creditNotes":
        for node in nodes:
            assert len(node["invoice"]["creditNotes"]) == 2, node
            assert node["customer"]["balance"]["amount"] == "-3.00", node
    elif root == "invoices":
        for node in nodes:
            assert node["balanceApplied"] == {"amount": "5.00"}, node
            assert [n["amount"]["amount"] for n in node["creditNotes"]] == ["3.00", "3.00"]
            assert all(n["customer"]["id"] for n in node["creditNotes"]), node
    else:
        for node in nodes:
            kinds = [t["kind"] for t in node["balanceTransactions"]]
            assert kinds == ["CREDIT_NOTE", "APPLIED_TO_INVOICE", "ADJUSTMENT"], node
            assert node["balanceTransactions"][0]["creditNote"]["number"], node
            assert node["balanceTransactions"][1]["invoice"]["number"], node
