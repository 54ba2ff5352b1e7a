"""GraphQL documents and helpers the credit note and balance tests share."""

from __future__ import annotations

from typing import Any

from tests.api.billing_documents import ADD_LINE, CREATE_CUSTOMER, CREATE_INVOICE, FINALIZE
from tests.conftest import Tenant

CREDIT_NOTE_FIELDS = """
  id number amount { amount currency } reason outcome memo
  lines { invoiceLineId description amount { amount } }
  invoice { id status amountDue { amount } amountCredited { amount }
            amountRemaining { amount } paidAt }
"""

CREATE_CREDIT_NOTE = f"""
mutation($input: CreateCreditNoteInput!) {{
  createCreditNote(input: $input) {{
    creditNote {{ {CREDIT_NOTE_FIELDS} }}
    userErrors {{ code field message }}
  }}
}}
"""

ADJUST_BALANCE = """
mutation($input: AdjustCustomerBalanceInput!) {
  adjustCustomerBalance(input: $input) {
    balanceTransaction { id kind amount { amount currency } endingBalance { amount }
                         description customer { id balance { amount } } }
    userErrors { code field message }
  }
}
"""

CUSTOMER_BALANCE = """
query($id: ID!) {
  customer(id: $id) {
    id balance { amount currency }
    balanceTransactions(first: 20) {
      id kind amount { amount } endingBalance { amount } description
      creditNote { id number } invoice { id number }
    }
  }
}
"""

INVOICE_CREDITS = """
query($id: ID!) {
  invoice(id: $id) {
    id status total { amount } amountDue { amount } amountPaid { amount }
    amountCredited { amount } balanceApplied { amount } amountRemaining { amount } paidAt
    lines { id amount { amount } }
    creditNotes { id number amount { amount } outcome }
  }
}
"""


async def customer(tenant: Tenant, currency: str = "USD", name: str = "Acme") -> str:
    body = await tenant.gql(CREATE_CUSTOMER, {"input": {"name": name, "currency": currency}})
    return str(body["data"]["createCustomer"]["customer"]["id"])


async def invoice_of(
    tenant: Tenant, customer_id: str, *amounts: str, finalize: bool = True
) -> dict[str, Any]:
    """A one-off invoice with a line per amount, finalized unless asked not to; answers
    the invoice with its line ids."""
    body = await tenant.gql(CREATE_INVOICE, {"input": {"customerId": customer_id}})
    invoice_id = body["data"]["createInvoice"]["invoice"]["id"]
    for i, amount in enumerate(amounts):
        added = await tenant.gql(
            ADD_LINE,
            {"input": {"invoiceId": invoice_id, "description": f"Item {i}", "unitAmount": amount}},
        )
        assert added["data"]["addInvoiceLine"]["userErrors"] == [], added
    if finalize:
        finalized = await tenant.gql(FINALIZE, {"input": {"id": invoice_id}})
        assert finalized["data"]["finalizeInvoice"]["userErrors"] == [], finalized
    return await read_invoice(tenant, invoice_id)


async def read_invoice(tenant: Tenant, invoice_id: str) -> dict[str, Any]:
    body = await tenant.gql(INVOICE_CREDITS, {"id": invoice_id})
    assert "errors" not in body, body
    invoice: dict[str, Any] = body["data"]["invoice"]
    return invoice


async def credit(tenant: Tenant, invoice_id: str, **given: Any) -> dict[str, Any]:
    """createCreditNote's payload; `amount` or `lines` as given, reason OTHER and outcome
    CREDIT_BALANCE unless given."""
    body = await tenant.gql(
        CREATE_CREDIT_NOTE,
        {
            "input": {
                "invoiceId": invoice_id,
                "reason": "OTHER",
                "outcome": "CREDIT_BALANCE",
                **given,
            }
        },
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createCreditNote"]
    return payload


async def adjust(
    tenant: Tenant, customer_id: str, amount: str, description: str = "Goodwill"
) -> dict[str, Any]:
    body = await tenant.gql(
        ADJUST_BALANCE,
        {"input": {"customerId": customer_id, "amount": amount, "description": description}},
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["adjustCustomerBalance"]
    return payload


async def balance_of(tenant: Tenant, customer_id: str) -> dict[str, Any]:
    body = await tenant.gql(CUSTOMER_BALANCE, {"id": customer_id})
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]["customer"]
    return found
