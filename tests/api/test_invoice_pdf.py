"""`GET /invoices/{id}/pdf` through the real app: the numbers on the page, and 404 for
what the caller may not see."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from tests.api.billing_documents import FINALIZE
from tests.api.test_invoices import add_line, customer, draft
from tests.conftest import Tenant


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


async def get_pdf(tenant: Tenant, invoice_id: str, scopes: list[str] | None = None) -> object:
    return await tenant.client.get(
        f"/invoices/{invoice_id}/pdf",
        headers={"Authorization": f"Bearer {tenant.token(scopes)}"},
    )


async def test_the_pdf_shows_the_number_the_lines_and_the_amount_due(tenant: Tenant) -> None:
    # given a finalized invoice
    cus = await customer(tenant, "EUR")
    invoice = await draft(tenant, cus)
    await add_line(tenant, invoice["id"], description="Mise en service", unitAmount="1234.5")
    body = await tenant.gql(FINALIZE, {"input": {"id": invoice["id"]}})
    number = body["data"]["finalizeInvoice"]["invoice"]["number"]

    # when its PDF is asked for
    response = await get_pdf(tenant, invoice["id"])

    # then it is a PDF with the number, the line and the amount due
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/pdf"  # type: ignore[attr-defined]
    text = pdf_text(response.content)  # type: ignore[attr-defined]
    assert number in text
    assert "Mise en service" in text
    assert "1,234.50" in text


async def test_a_pdf_of_another_tenants_invoice_is_not_found(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    invoice = await draft(tenant, await customer(tenant))
    response = await get_pdf(other_tenant, invoice["id"])
    assert response.status_code == 404  # type: ignore[attr-defined]
    response = await get_pdf(tenant, "inv_doesnotexist")
    assert response.status_code == 404  # type: ignore[attr-defined]
    response = await get_pdf(tenant, "../graphql")
    assert response.status_code == 404  # type: ignore[attr-defined]


async def test_the_pdf_needs_a_token_with_invoices_read(tenant: Tenant) -> None:
    invoice = await draft(tenant, await customer(tenant))
    response = await get_pdf(tenant, invoice["id"], scopes=["customers:read"])
    assert response.status_code == 403  # type: ignore[attr-defined]
    response = await tenant.client.get(f"/invoices/{invoice['id']}/pdf")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
