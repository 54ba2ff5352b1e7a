"""The invoice PDF: read back with pypdf, it says what the invoice says, in the customer's
language and the currency's format, over as many pages as the lines need."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

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
from domain.money import Money, format_money, line_amount, sum_money
from infra.invoice_labels import LABELS, STATUS_STAMPS, TAX_ID_NAMES
from infra.invoice_pdf import InvoiceDocument, invoice_locale, render_invoice_pdf

PERIOD_START = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 11, 1, tzinfo=UTC)


def a_line(
    number: int,
    unit: str,
    currency: str,
    quantity: str = "1",
    *,
    description: str | None = None,
    discounts: tuple[Money, ...] = (),
) -> InvoiceLine:
    return InvoiceLine(
        id=f"il_{number}",
        kind=LineKind.SUBSCRIPTION,
        description=description or f"Line {number:03d}",
        amount=line_amount(Decimal(unit), Decimal(quantity), currency),
        quantity=Decimal(quantity),
        unit_amount=Decimal(unit),
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        discounts=tuple(LineDiscount(f"di_{number}", amount) for amount in discounts),
    )


def an_invoice(
    lines: tuple[InvoiceLine, ...],
    *,
    tax_percentage: Decimal | None = None,
    inclusive: bool = False,
    amount_paid: Money | None = None,
    **changes: object,
) -> Invoice:
    """An open invoice whose totals add up: subtotal − discounts (+ exclusive tax)."""
    currency = lines[0].amount.currency
    subtotal = sum_money((line.amount for line in lines), currency)
    discounts = sum_money((line.discount_total for line in lines), currency)
    taxable = subtotal - discounts
    breakdown: tuple[TaxBreakdownEntry, ...] = ()
    tax = Money.zero(currency)
    if tax_percentage is not None:
        tax = Money.round_from(taxable.amount * tax_percentage / 100, currency)
        breakdown = (TaxBreakdownEntry("txr_1", "VAT", tax_percentage, inclusive, taxable, tax),)
    total = taxable if inclusive else taxable + tax
    invoice = Invoice(
        id="inv_1",
        customer_id="cus_1",
        subscription_id=None,
        status=InvoiceStatus.OPEN,
        currency=currency,
        billing_reason=BillingReason.MANUAL,
        number="INV-2026-000042",
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        totals=Totals(subtotal, discounts, tax, total),
        amount_paid=amount_paid or Money.zero(currency),
        amount_credited=Money.zero(currency),
        balance_applied=Money.zero(currency),
        due_date=date(2026, 12, 1),
        reverse_charge=False,
        created_at=datetime(2026, 10, 31, 23, 0, tzinfo=UTC),
        finalized_at=datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
        paid_at=None,
        voided_at=None,
        marked_uncollectible_at=None,
        lines=lines,
        tax_breakdown=breakdown,
    )
    return replace(invoice, **changes)  # type: ignore[arg-type]


def a_document(invoice: Invoice, locale: str = "en", **changes: object) -> InvoiceDocument:
    document = InvoiceDocument(
        invoice=invoice,
        merchant_name="Acme Analytics Ltd",
        bill_to_name="Brasserie Müller & Söhne",
        bill_to_email="billing@brasserie.example",
        bill_to_address=Address(
            country="DE", line1="Hauptstraße 5", postal_code="10115", city="Berlin"
        ),
        bill_to_tax_ids=(TaxId(TaxIdType.EU_VAT, "DE123456789"),),
        locale=locale,
    )
    return replace(document, **changes)  # type: ignore[arg-type]


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text, every run of whitespace (Babel's no-break spaces too) one space."""
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def text_of(document: InvoiceDocument) -> str:
    return " ".join(pages_text(render_invoice_pdf(document)))


def spaced(text: str) -> str:
    return " ".join(text.split())


BIG_USD_LINES = (
    a_line(1, "1000.00", "USD"),
    a_line(2, "78.28", "USD", "3"),
)  # subtotal 1,234.84


def test_english_invoice_shows_number_dates_bill_to_totals_and_amount_due() -> None:
    # given: $1,234.84 of lines, $0.28 off the second, $200 already paid
    lines = (
        BIG_USD_LINES[0],
        replace(BIG_USD_LINES[1], discounts=(LineDiscount("di", Money(28, "USD")),)),
    )
    invoice = an_invoice(lines, amount_paid=Money(20000, "USD"))
    # when
    text = text_of(a_document(invoice))
    # then
    assert "Acme Analytics Ltd" in text
    assert "Invoice" in text and "INV-2026-000042" in text
    assert "Date of issue November 1, 2026" in text
    assert "Date due December 1, 2026" in text
    assert "Billing period Oct 1, 2026 – Nov 1, 2026" in text
    assert "Brasserie Müller & Söhne" in text and "Hauptstraße 5" in text and "10115 Berlin" in text
    assert "Germany" in text and "VAT number: DE123456789" in text
    assert "Line 001" in text and "$1,000.00" in text and "$78.28" in text and "$234.84" in text
    assert "Subtotal $1,234.84" in text
    assert "Discounts -$0.28" in text
    assert "Total $1,234.56" in text
    assert "Amount paid $200.00" in text
    assert "Amount due $1,034.56" in text
    assert "$1,034.56 due December 1, 2026" in text
    assert "Page 1 of 1" in text


def test_french_invoice_speaks_french_and_writes_euros_the_french_way() -> None:
    # given
    lines = (a_line(1, "1000.00", "EUR"), a_line(2, "234.56", "EUR", "1"))
    # when
    text = text_of(a_document(an_invoice(lines), "fr"))
    # then
    assert "Facture" in text and "Numéro de facture INV-2026-000042" in text
    assert "Date d’émission 1 novembre 2026" in text
    assert "Date d’échéance 1 décembre 2026" in text
    assert "Facturé à" in text and "Allemagne" in text and "N° de TVA : DE123456789" in text
    assert "Sous-total 1 234,56 €" in text
    assert "Montant dû 1 234,56 €" in text
    assert "Page 1 sur 1" in text
    assert "Invoice" not in text and "Amount due" not in text


def test_german_invoice_speaks_german_and_writes_euros_the_german_way() -> None:
    # given
    lines = (
        a_line(1, "1000.00", "EUR"),
        a_line(2, "234.56", "EUR"),
        a_line(3, "0.0125", "EUR", "1000"),
    )
    # when
    text = text_of(a_document(an_invoice(lines), "de_DE"))
    # then
    assert "Rechnung" in text and "Rechnungsnummer INV-2026-000042" in text
    assert "Rechnungsdatum 1. November 2026" in text
    assert "Fälligkeitsdatum 1. Dezember 2026" in text
    assert "USt-IdNr.: DE123456789" in text and "Deutschland" in text
    assert "1.000 0,0125 € 12,50 €" in text  # quantity, unit price, amount
    assert "Gesamtbetrag 1.247,06 €" in text
    assert "Offener Betrag 1.247,06 €" in text
    assert "Seite 1 von 1" in text


def test_regional_locale_keeps_its_language_labels_and_its_own_number_format() -> None:
    # given: Swiss German writes 1'234.56
    invoice = an_invoice((a_line(1, "1234.56", "CHF"),))
    # when
    text = text_of(a_document(invoice, "de-CH"))
    # then
    assert "Rechnung" in text
    assert f"Offener Betrag {spaced(format_money(Money(123456, 'CHF'), 'de_CH'))}" in text
    assert "CHF 1'234.56" in text


@pytest.mark.parametrize("locale", ["es", "xx_YY", "not a locale", ""])
def test_a_language_without_labels_prints_in_english(locale: str) -> None:
    # when
    text = text_of(a_document(an_invoice(BIG_USD_LINES), locale))
    # then
    assert invoice_locale(locale).language == "en"
    assert "Invoice" in text and "Amount due $1,234.84" in text and "Page 1 of 1" in text


def test_yen_invoice_has_no_decimals_anywhere() -> None:
    # given: 12,000 yen and a discount of 500
    lines = (a_line(1, "4000", "JPY", "3", discounts=(Money(500, "JPY"),)),)
    invoice = an_invoice(lines, tax_percentage=Decimal("10"))
    # when
    text = text_of(a_document(invoice))
    # then
    assert "Subtotal ¥12,000" in text
    assert "Discounts -¥500" in text
    assert "VAT 10% on ¥11,500 ¥1,150" in text
    assert "Total ¥12,650" in text and "Amount due ¥12,650" in text
    assert "¥12,000.00" not in text and ".00" not in text


def test_kuwaiti_dinar_invoice_has_three_decimals_throughout() -> None:
    # given: 3 × KWD 12.345 = 37.035, less 1.005, plus 5 % VAT of 36.030 = 1.8015 → 1.802
    lines = (a_line(1, "12.345", "KWD", "3", discounts=(Money(1005, "KWD"),)),)
    invoice = an_invoice(lines, tax_percentage=Decimal("5"))
    # when
    text = text_of(a_document(invoice))
    # then
    assert "KWD12.345" in text and "KWD37.035" in text
    assert "Discounts -KWD1.005" in text
    assert "VAT 5% on KWD36.030 KWD1.802" in text
    assert "Total KWD37.832" in text and "Amount due KWD37.832" in text


def test_long_invoice_continues_over_pages_with_page_numbers_and_the_table_header() -> None:
    # given: 120 lines, one with a long description that wraps
    lines = tuple(a_line(n, "10.00", "USD") for n in range(1, 121))
    long = "Enterprise support with a named engineer, on call around the clock " * 3
    lines = (*lines[:60], replace(lines[60], description=long.strip()), *lines[61:])
    invoice = an_invoice(lines)
    # when
    pages = pages_text(render_invoice_pdf(a_document(invoice)))
    # then
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert page.count("Description Period Qty Unit price Amount") == 1 or number == len(pages)
    everything = " ".join(pages)
    for n in range(1, 121):
        if n != 61:
            assert everything.count(f"Line {n:03d} ") == 1, n
    assert "Enterprise support with a named engineer" in everything
    assert "INV-2026-000042" in pages[1]  # the running title of a continuation page
    assert "Amount due $1,200.00" in pages[-1] and "Amount due" not in pages[0]


def test_tax_breakdown_shows_each_rate_and_says_incl_for_an_inclusive_one() -> None:
    # given
    exclusive = an_invoice(BIG_USD_LINES, tax_percentage=Decimal("20"))
    inclusive = an_invoice(BIG_USD_LINES, tax_percentage=Decimal("7.7"), inclusive=True)
    # when
    exclusive_text = text_of(a_document(exclusive))
    inclusive_text = text_of(a_document(inclusive))
    german_text = text_of(a_document(inclusive, "de"))
    # then: 20 % of 1,234.84 = 246.968 → 246.97
    assert "VAT 20% on $1,234.84 $246.97" in exclusive_text
    assert "Total $1,481.81" in exclusive_text
    assert "VAT 7.7% incl. on $1,234.84 $95.08" in inclusive_text
    assert "Total $1,234.84" in inclusive_text
    assert "VAT 7,7 % inkl. auf 1.234,84 $ 95,08 $" in german_text


def test_reverse_charge_mention_appears_only_on_a_reverse_charge_invoice() -> None:
    # given
    invoice = an_invoice(BIG_USD_LINES, tax_percentage=Decimal("0"))
    charged = replace(invoice, reverse_charge=True)
    # when / then
    assert "Reverse charge" in text_of(a_document(charged))
    assert "Autoliquidation" in text_of(a_document(charged, "fr"))
    assert "Steuerschuldnerschaft des Leistungsempfängers" in text_of(a_document(charged, "de"))
    assert "Reverse charge" not in text_of(a_document(invoice))


def test_each_discount_shows_beneath_its_line() -> None:
    # given
    discounted = a_line(2, "50.00", "USD", discounts=(Money(500, "USD"), Money(250, "USD")))
    invoice = an_invoice((a_line(1, "20.00", "USD"), discounted, a_line(3, "30.00", "USD")))
    # when
    text = text_of(a_document(invoice))
    # then
    assert "Line 002" in text
    after_line_2 = text[text.index("Line 002") : text.index("Line 003")]
    assert "Discount -$5.00" in after_line_2 and "Discount -$2.50" in after_line_2
    assert "Discounts -$7.50" in text and "Total $92.50" in text


def test_a_draft_says_draft_where_the_number_goes() -> None:
    # given
    draft = an_invoice(
        BIG_USD_LINES, status=InvoiceStatus.DRAFT, number=None, finalized_at=None, due_date=None
    )
    # when
    text = text_of(a_document(draft, "fr"))
    # then: issued (for now) on the day it was created
    assert "Numéro de facture Brouillon" in text and "31 octobre 2026" in text
    assert "régler au plus tard" not in text


def test_paid_and_void_invoices_carry_a_stamp_and_owe_nothing_more() -> None:
    # given
    paid = an_invoice(BIG_USD_LINES, status=InvoiceStatus.PAID, amount_paid=Money(123484, "USD"))
    void = an_invoice(BIG_USD_LINES, status=InvoiceStatus.VOID)
    # when
    paid_text, void_text = text_of(a_document(paid)), text_of(a_document(void, "de"))
    # then
    assert "PAID" in paid_text and "Amount due $0.00" in paid_text
    assert "STORNIERT" in void_text and "Offener Betrag 0,00 $" in void_text


def test_the_same_invoice_always_prints_the_same_bytes() -> None:
    # given
    document = a_document(an_invoice(BIG_USD_LINES, tax_percentage=Decimal("19")), "de")
    # when
    first, second = render_invoice_pdf(document), render_invoice_pdf(document)
    # then: dated when the invoice was issued, not when it was printed
    assert first == second
    metadata = PdfReader(io.BytesIO(first)).metadata
    assert metadata is not None and metadata.creation_date == document.invoice.finalized_at
    assert metadata.title == "Rechnung INV-2026-000042"


def test_every_language_has_every_label() -> None:
    assert all(labels.keys() == LABELS["en"].keys() for labels in LABELS.values())
    assert LABELS.keys() == STATUS_STAMPS.keys() == TAX_ID_NAMES.keys()
