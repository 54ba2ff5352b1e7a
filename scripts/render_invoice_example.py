"""Draw docs/invoice-example.png, the README's picture of an invoice PDF's first page.

A sample French invoice in euros (discounts, a proration credit, metered usage, VAT),
rendered by infra/invoice_pdf.py and rasterised with pypdfium2 (a dev dependency):

    .venv/bin/python scripts/render_invoice_example.py [--pdf out.pdf]

Not run by the tests; run it again when the invoice layout changes.
"""

from __future__ import annotations

import argparse
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pypdfium2
from PIL import Image

from domain.customers import Address, TaxId, TaxIdType
from domain.invoices import (
    BillingReason,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineDiscount,
    LineKind,
    TaxBreakdownEntry,
    Totals,
)
from domain.money import Money, line_amount, sum_money
from infra.invoice_pdf import InvoiceDocument, render_invoice_pdf

PICTURE = Path(__file__).resolve().parent.parent / "docs" / "invoice-example.png"
CURRENCY = "EUR"
VAT = Decimal("20")
PERIOD = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


def sample_invoice() -> Invoice:
    def line(
        number: int,
        kind: LineKind,
        description: str,
        quantity: str,
        unit: str,
        discount_percent: int = 0,
    ) -> InvoiceLine:
        amount = line_amount(Decimal(unit), Decimal(quantity), CURRENCY)
        discounts: tuple[LineDiscount, ...] = ()
        if discount_percent:
            off = Money.round_from(amount.amount * discount_percent / 100, CURRENCY)
            discounts = (LineDiscount("cpn_rentree", off),)
        return InvoiceLine(
            id=f"il_{number}",
            kind=kind,
            description=description,
            amount=amount,
            quantity=Decimal(quantity),
            unit_amount=Decimal(unit),
            period_start=PERIOD[0],
            period_end=PERIOD[1],
            discounts=discounts,
        )

    lines = (
        line(1, LineKind.SUBSCRIPTION, "Offre Pro — abonnement mensuel", "1", "249.00"),
        line(2, LineKind.SUBSCRIPTION, "Sièges supplémentaires", "12", "18.50", 10),
        line(3, LineKind.USAGE, "SMS envoyés (France métropolitaine)", "4250", "0.0125"),
        line(4, LineKind.USAGE, "Stockage d’archives (Go-mois)", "152.5", "0.02"),
        line(5, LineKind.USAGE, "Appels API au-delà du forfait", "18400", "0.0008"),
        line(6, LineKind.PRORATION, "Crédit au prorata — offre Starter", "1", "-12.34"),
    )
    subtotal = sum_money((item.amount for item in lines), CURRENCY)
    discount_total = sum_money((item.discount_total for item in lines), CURRENCY)
    taxable = subtotal - discount_total
    tax = Money.round_from(taxable.amount * VAT / 100, CURRENCY)
    return Invoice(
        id="inv_example",
        customer_id="cus_example",
        subscription_id="sub_example",
        status=InvoiceStatus.OPEN,
        currency=CURRENCY,
        billing_reason=BillingReason.SUBSCRIPTION_CYCLE,
        number="ATL-2026-000042",
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        totals=Totals(subtotal, discount_total, tax, taxable + tax),
        amount_paid=Money.zero(CURRENCY),
        amount_credited=Money.zero(CURRENCY),
        balance_applied=Money.zero(CURRENCY),
        due_date=date(2026, 12, 1),
        reverse_charge=False,
        created_at=datetime(2026, 11, 1, 0, 5, tzinfo=UTC),
        finalized_at=datetime(2026, 11, 1, 1, 0, tzinfo=UTC),
        paid_at=None,
        voided_at=None,
        marked_uncollectible_at=None,
        lines=lines,
        tax_breakdown=(TaxBreakdownEntry("txr_fr", "TVA", VAT, False, taxable, tax),),
        memo="Merci de votre confiance. Paiement par virement ou carte sur votre espace client.",
    )


def sample_document() -> InvoiceDocument:
    return InvoiceDocument(
        invoice=sample_invoice(),
        merchant_name="Atelier Lumière SAS",
        bill_to_name="Café de l’Étoile SARL",
        bill_to_email="compta@cafe-etoile.example",
        bill_to_address=Address(
            country="FR", line1="12 rue des Martyrs", postal_code="75009", city="Paris"
        ),
        bill_to_tax_ids=(TaxId(TaxIdType.EU_VAT, "FR40303265045"),),
        locale="fr_FR",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdf", type=Path, help="also write the PDF here")
    arguments = parser.parse_args()
    pdf = render_invoice_pdf(sample_document())
    if arguments.pdf:
        arguments.pdf.write_bytes(pdf)
    page = pypdfium2.PdfDocument(pdf)[0]
    picture = page.render(scale=1.4).to_pil().convert("RGB")
    # A few dozen greys and accents are all an invoice has: a palette keeps the file small.
    quantized = picture.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    quantized.save(buffer, format="PNG", optimize=True)
    PICTURE.parent.mkdir(exist_ok=True)
    PICTURE.write_bytes(buffer.getvalue())
    print(f"{PICTURE} ({len(buffer.getvalue()) // 1024} KB, {len(pdf) // 1024} KB of PDF)")


if __name__ == "__main__":
    main()
