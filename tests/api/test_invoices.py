"""One-off invoices and the invoice lifecycle through the real app."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader

from tests.api.billing_documents import (
    ADD_LINE,
    CREATE_CUSTOMER,
    CREATE_INVOICE,
    FINALIZE,
    UNCOLLECTIBLE,
    VOID,
)
from tests.conftest import Tenant


async def customer(tenant: Tenant, currency: str = "USD", **extra: Any) -> str:
    body = await tenant.gql(
        CREATE_CUSTOMER, {"input": {"name": "Acme", "currency": currency, **extra}}
    )
    return str(body["data"]["createCustomer"]["customer"]["id"])


async def draft(tenant: Tenant, customer_id: str) -> dict[str, Any]:
    body = await tenant.gql(CREATE_INVOICE, {"input": {"customerId": customer_id}})
    result: dict[str, Any] = body["data"]["createInvoice"]
    assert result["userErrors"] == []
    return result["invoice"]


async def add_line(tenant: Tenant, invoice_id: str, **line: Any) -> dict[str, Any]:
    body = await tenant.gql(ADD_LINE, {"input": {"invoiceId": invoice_id, **line}})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["addInvoiceLine"]
    return result


async def test_a_one_off_invoice_goes_from_draft_to_open_with_a_number(tenant: Tenant) -> None:
    # given a draft with two lines
    cus = await customer(tenant)
    invoice = await draft(tenant, cus)
    assert invoice["status"] == "DRAFT" and invoice["number"] is None
    await add_line(tenant, invoice["id"], description="Setup", unitAmount="150")
    changed = await add_line(
        tenant, invoice["id"], description="Training hours", unitAmount="80.005", quantity="3"
    )
    assert changed["invoice"]["total"]["amount"] == "390.02"  # 150 + 240.015 rounded once

    # when it is finalized
    body = await tenant.gql(FINALIZE, {"input": {"id": invoice["id"]}})
    finalized = body["data"]["finalizeInvoice"]["invoice"]

    # then it is open, numbered, due on net terms, and its lines are explained
    assert finalized["status"] == "OPEN"
    assert finalized["number"].startswith("INV-") and finalized["number"].endswith("-000001")
    assert finalized["dueDate"] is not None
    assert finalized["amountDue"]["amount"] == "390.02"
    assert finalized["amountRemaining"]["amount"] == "390.02"
    assert [line["description"] for line in finalized["lines"]] == ["Setup", "Training hours"]
    assert "3 x 80.005" in finalized["lines"][1]["explanation"]


async def test_a_finalized_invoice_refuses_lines_and_a_second_finalization(
    tenant: Tenant,
) -> None:
    cus = await customer(tenant)
    invoice = await draft(tenant, cus)
    await add_line(tenant, invoice["id"], description="Setup", unitAmount="150")
    await tenant.gql(FINALIZE, {"input": {"id": invoice["id"]}})

    refused = await add_line(tenant, invoice["id"], description="Late", unitAmount="1")
    assert [e["code"] for e in refused["userErrors"]] == ["NOT_DRAFT"]
    again = await tenant.gql(FINALIZE, {"input": {"id": invoice["id"]}})
    assert [e["code"] for e in again["data"]["finalizeInvoice"]["userErrors"]] == ["NOT_DRAFT"]
    body = await tenant.gql(
        "query($id: ID!) { invoice(id: $id) { lines { id } } }", {"id": invoice["id"]}
    )
    assert len(body["data"]["invoice"]["lines"]) == 1


async def test_void_and_uncollectible_follow_the_lifecycle(tenant: Tenant) -> None:
    cus = await customer(tenant)
    invoice = await draft(tenant, cus)
    # a draft cannot be voided: only what was issued can be
    body = await tenant.gql(VOID, {"input": {"id": invoice["id"]}})
    assert [e["code"] for e in body["data"]["voidInvoice"]["userErrors"]] == ["NOT_OPEN"]
    await add_line(tenant, invoice["id"], description="Setup", unitAmount="150")
    await tenant.gql(FINALIZE, {"input": {"id": invoice["id"]}})

    written_off = await tenant.gql(UNCOLLECTIBLE, {"input": {"id": invoice["id"]}})
    assert written_off["data"]["markInvoiceUncollectible"]["invoice"]["status"] == "UNCOLLECTIBLE"
    voided = await tenant.gql(VOID, {"input": {"id": invoice["id"]}})
    assert voided["data"]["voidInvoice"]["invoice"] == {
        "id": invoice["id"],
        "status": "VOID",
        "amountDue": {"amount": "0.00"},
    }
    again = await tenant.gql(VOID, {"input": {"id": invoice["id"]}})
    assert [e["code"] for e in again["data"]["voidInvoice"]["userErrors"]] == ["NOT_OPEN"]


async def test_bad_lines_get_user_errors(tenant: Tenant) -> None:
    cus = await customer(tenant)
    invoice = await draft(tenant, cus)
    bad = await add_line(tenant, invoice["id"], description="", unitAmount="1", quantity="0")
    assert sorted(e["code"] for e in bad["userErrors"]) == ["INVALID", "INVALID"]
    unknown = await add_line(tenant, "inv_unknown", description="x", unitAmount="1")
    assert [e["code"] for e in unknown["userErrors"]] == ["NOT_FOUND"]


async def test_zero_and_three_decimal_currencies_through_an_invoice_and_its_pdf(
    tenant: Tenant,
) -> None:
    cases = (
        ("JPY", "1200.4", "3", "3601", "¥3,601"),
        ("KWD", "3700", "1", "3700.000", "KWD3,700.000"),
    )
    for currency, unit, quantity, total, printed in cases:
        invoice = await draft(tenant, await customer(tenant, currency))
        body = await add_line(
            tenant, invoice["id"], description="Seats", unitAmount=unit, quantity=quantity
        )
        assert body["invoice"]["total"] == {"amount": total}
        await tenant.gql(FINALIZE, {"input": {"id": invoice["id"]}})
        response = await tenant.client.get(
            f"/invoices/{invoice['id']}/pdf", headers={"Authorization": f"Bearer {tenant.token()}"}
        )
        assert response.status_code == 200
        text = " ".join(PdfReader(io.BytesIO(response.content)).pages[0].extract_text().split())
        assert printed in text, text


async def test_numbers_are_per_tenant(tenant: Tenant, other_tenant: Tenant) -> None:
    for who in (tenant, other_tenant):
        invoice = await draft(who, await customer(who))
        await add_line(who, invoice["id"], description="Setup", unitAmount="1")
        body = await who.gql(FINALIZE, {"input": {"id": invoice["id"]}})
        assert body["data"]["finalizeInvoice"]["invoice"]["number"].endswith("-000001")


async def test_invoices_list_filters_by_status_and_amount_due(tenant: Tenant) -> None:
    cus = await customer(tenant)
    open_one = await draft(tenant, cus)
    await add_line(tenant, open_one["id"], description="Setup", unitAmount="5")
    await tenant.gql(FINALIZE, {"input": {"id": open_one["id"]}})
    await draft(tenant, cus)
    query = """
    query($f: InvoiceFilterInput) { invoices(filter: $f) { totalCount edges { node { id } } } }
    """
    drafts = await tenant.gql(query, {"f": {"status": ["DRAFT"]}})
    assert drafts["data"]["invoices"]["totalCount"] == 1
    due = await tenant.gql(query, {"f": {"amountDuePositive": True, "customerId": cus}})
    assert [e["node"]["id"] for e in due["data"]["invoices"]["edges"]] == [open_one["id"]]


async def test_reading_invoices_needs_invoices_read(tenant: Tenant) -> None:
    body = await tenant.gql("{ invoices { totalCount } }", scopes=["customers:read"])
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await tenant.gql(
        CREATE_INVOICE, {"input": {"customerId": "cus_x"}}, scopes=["invoices:read"]
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


NUMBERING = """
mutation($input: UpdateInvoiceNumberingInput!) {
  updateInvoiceNumbering(input: $input) {
    numbering { prefix includeYear padding lastNumber example }
    userErrors { code field }
  }
}
"""


async def test_the_number_template_is_the_accounts_and_the_counter_goes_on(
    tenant: Tenant,
) -> None:
    # given one invoice numbered with the default template
    cus = await customer(tenant)
    first = await draft(tenant, cus)
    await add_line(tenant, first["id"], description="Setup", unitAmount="1")
    await tenant.gql(FINALIZE, {"input": {"id": first["id"]}})

    # when the template changes
    body = await tenant.gql(
        NUMBERING, {"input": {"prefix": "ACME", "includeYear": False, "padding": 4}}
    )
    numbering = body["data"]["updateInvoiceNumbering"]
    assert numbering["userErrors"] == []
    assert numbering["numbering"]["lastNumber"] == 1
    assert numbering["numbering"]["example"] == "ACME-0002"

    # then the next invoice has the new look and the next number
    second = await draft(tenant, cus)
    await add_line(tenant, second["id"], description="Setup", unitAmount="1")
    body = await tenant.gql(FINALIZE, {"input": {"id": second["id"]}})
    assert body["data"]["finalizeInvoice"]["invoice"]["number"] == "ACME-0002"


async def test_a_bad_number_template_is_refused(tenant: Tenant) -> None:
    body = await tenant.gql(NUMBERING, {"input": {"prefix": "acme inc", "padding": 40}})
    errors = body["data"]["updateInvoiceNumbering"]["userErrors"]
    assert sorted(e["field"][-1] for e in errors) == ["padding", "prefix"]
    body = await tenant.gql("{ invoiceNumbering { prefix lastNumber } }")
    assert body["data"]["invoiceNumbering"] == {"prefix": "INV", "lastNumber": 0}
