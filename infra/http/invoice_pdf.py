"""`GET /invoices/{id}/pdf`: the invoice as a PDF, for a token holding invoices:read.

An invoice of another tenant, an unknown id and a malformed one are all 404: the answer
never tells whether an invoice exists elsewhere. A finalized invoice is printed with the
bill-to it kept at finalization; a draft with the customer as they are now.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from auth.backend import PrincipalUser
from auth.scopes import INVOICES_READ
from domain.customers import TaxId, TaxIdType, address_from_json
from domain.ids import prefix_of
from infra.db import tenant_transaction
from infra.http.errors import error_response
from infra.invoice_pdf import InvoiceDocument, render_invoice_pdf
from infra.repositories.accounts import SqlAccountReads
from infra.repositories.credit_notes import SqlCreditNoteRepository
from infra.repositories.customers import SqlCustomerRepository
from infra.repositories.invoices import SqlInvoiceRepository


class InvoicePdfEndpoint:
    def __init__(self, engine: AsyncEngine, statement_timeout: float) -> None:
        self.engine = engine
        self.statement_timeout = statement_timeout

    async def __call__(self, request: Request) -> Response:
        user = request.user
        if not isinstance(user, PrincipalUser):
            return error_response(
                401,
                "Authentication required: send Authorization: Bearer <access token>.",
                "UNAUTHENTICATED",
                {"WWW-Authenticate": 'Bearer realm="ledgerline"'},
            )
        principal = user.principal
        if not principal.has_scope(INVOICES_READ):
            return error_response(403, f"This needs the {INVOICES_READ} scope.", "FORBIDDEN")
        invoice_id = request.path_params["invoice_id"]
        document = None
        if prefix_of(invoice_id) == "inv":
            document = await self._document(principal.tenant_id, invoice_id)
        if document is None:
            return error_response(404, "Invoice not found.", "NOT_FOUND")
        # Rendering is CPU work (tens of milliseconds): off the event loop.
        pdf = await asyncio.to_thread(render_invoice_pdf, document)
        filename = (document.invoice.number or document.invoice.id) + ".pdf"
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )

    async def _document(self, tenant_id: str, invoice_id: str) -> InvoiceDocument | None:
        async with tenant_transaction(
            self.engine, tenant_id, statement_timeout=self.statement_timeout
        ) as db:
            invoice = await SqlInvoiceRepository(db).get(invoice_id)
            if invoice is None:
                return None
            customer = await SqlCustomerRepository(db).get(invoice.customer_id)
            credit_notes = tuple(await SqlCreditNoteRepository(db).of_invoice(invoice_id))
            [account] = await SqlAccountReads(db).by_ids([tenant_id])
        assert customer is not None  # a foreign key
        merchant = account.name if account is not None else tenant_id
        kept = invoice.customer_snapshot
        if kept:
            return InvoiceDocument(
                invoice=invoice,
                merchant_name=merchant,
                bill_to_name=kept["name"],
                bill_to_email=kept.get("email"),
                bill_to_address=address_from_json(kept.get("address")),
                bill_to_tax_ids=tuple(
                    TaxId(TaxIdType(t["type"]), t["value"]) for t in kept.get("taxIds", ())
                ),
                locale=kept.get("preferredLocale", "en"),
                credit_notes=credit_notes,
            )
        return InvoiceDocument(
            invoice=invoice,
            merchant_name=merchant,
            bill_to_name=customer.name,
            bill_to_email=customer.email,
            bill_to_address=customer.address,
            bill_to_tax_ids=customer.tax_ids,
            locale=customer.preferred_locale,
            credit_notes=credit_notes,
        )
