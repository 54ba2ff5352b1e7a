"""The words of an invoice PDF in each language it is printed in (infra/invoice_pdf.py).

A small table rather than gettext catalogs: an invoice has a few dozen fixed labels, and
numbers, dates and currencies are Babel's (CLDR's) job, not ours. A language missing here
prints in English. The reverse-charge mention is the wording each language's VAT law
expects on the invoice (VAT Directive 2006/112/EC, art. 226(11a); UStG §14a(5) in German,
CGI art. 242 nonies A in French).
"""

from __future__ import annotations

from typing import Final

from domain.customers import TaxIdType
from domain.invoices import InvoiceStatus

FALLBACK_LANGUAGE: Final = "en"

LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "title": "Invoice",
        "draft": "Draft",
        "number": "Invoice number",
        "issue_date": "Date of issue",
        "due_date": "Date due",
        "billing_period": "Billing period",
        "bill_to": "Bill to",
        "tax_id": "{name}: {value}",
        "due_by": "{amount} due {date}",
        "description": "Description",
        "period": "Period",
        "quantity": "Qty",
        "unit_price": "Unit price",
        "amount": "Amount",
        "discount": "Discount",
        "subtotal": "Subtotal",
        "discounts": "Discounts",
        "tax": "{name} {percentage} on {taxable}",
        "tax_inclusive": "{name} {percentage} incl. on {taxable}",
        "total": "Total",
        "balance_applied": "Applied balance",
        "credited": "Credited",
        "credit_notes": "Credit notes",
        "credit_note": "{number} of {date}: {amount}, {outcome}",
        "outcome_REDUCE_AMOUNT_DUE": "taken off the amount due",
        "outcome_CREDIT_BALANCE": "credited to your balance",
        "outcome_REFUND": "refunded",
        "amount_paid": "Amount paid",
        "amount_due": "Amount due",
        "reverse_charge": "Reverse charge: VAT to be accounted for by the customer.",
        "memo": "Note",
        "page": "Page {page} of {pages}",
    },
    "fr": {
        "title": "Facture",
        "draft": "Brouillon",
        "number": "Numéro de facture",
        "issue_date": "Date d’émission",
        "due_date": "Date d’échéance",
        "billing_period": "Période de facturation",
        "bill_to": "Facturé à",
        "tax_id": "{name}\u00a0: {value}",
        "due_by": "{amount} à régler au plus tard le {date}",
        "description": "Description",
        "period": "Période",
        "quantity": "Qté",
        "unit_price": "Prix unitaire",
        "amount": "Montant",
        "discount": "Remise",
        "subtotal": "Sous-total",
        "discounts": "Remises",
        "tax": "{name} {percentage} sur {taxable}",
        "tax_inclusive": "{name} {percentage} incl. sur {taxable}",
        "total": "Total",
        "balance_applied": "Solde créditeur imputé",
        "credited": "Avoirs imputés",
        "credit_notes": "Avoirs",
        "credit_note": "{number} du {date} : {amount}, {outcome}",
        "outcome_REDUCE_AMOUNT_DUE": "déduit du montant dû",
        "outcome_CREDIT_BALANCE": "porté au crédit de votre solde",
        "outcome_REFUND": "remboursé",
        "amount_paid": "Montant payé",
        "amount_due": "Montant dû",
        "reverse_charge": "Autoliquidation : TVA due par le preneur.",
        "memo": "Note",
        "page": "Page {page} sur {pages}",
    },
    "de": {
        "title": "Rechnung",
        "draft": "Entwurf",
        "number": "Rechnungsnummer",
        "issue_date": "Rechnungsdatum",
        "due_date": "Fälligkeitsdatum",
        "billing_period": "Abrechnungszeitraum",
        "bill_to": "Rechnung an",
        "tax_id": "{name}: {value}",
        "due_by": "{amount} fällig am {date}",
        "description": "Beschreibung",
        "period": "Zeitraum",
        "quantity": "Menge",
        "unit_price": "Einzelpreis",
        "amount": "Betrag",
        "discount": "Rabatt",
        "subtotal": "Zwischensumme",
        "discounts": "Rabatte",
        "tax": "{name} {percentage} auf {taxable}",
        "tax_inclusive": "{name} {percentage} inkl. auf {taxable}",
        "total": "Gesamtbetrag",
        "balance_applied": "Verrechnetes Guthaben",
        "credited": "Gutschriften",
        "credit_notes": "Gutschriften",
        "credit_note": "{number} vom {date}: {amount}, {outcome}",
        "outcome_REDUCE_AMOUNT_DUE": "vom offenen Betrag abgezogen",
        "outcome_CREDIT_BALANCE": "Ihrem Guthaben gutgeschrieben",
        "outcome_REFUND": "erstattet",
        "amount_paid": "Bereits bezahlt",
        "amount_due": "Offener Betrag",
        "reverse_charge": "Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge).",
        "memo": "Hinweis",
        "page": "Seite {page} von {pages}",
    },
}

# A stamp beside the title for the states a customer must not misread as "please pay".
STATUS_STAMPS: Final[dict[str, dict[InvoiceStatus, str]]] = {
    "en": {InvoiceStatus.PAID: "Paid", InvoiceStatus.VOID: "Void"},
    "fr": {InvoiceStatus.PAID: "Payée", InvoiceStatus.VOID: "Annulée"},
    "de": {InvoiceStatus.PAID: "Bezahlt", InvoiceStatus.VOID: "Storniert"},
}

# How each language names a tax id on an invoice; a type missing here prints as its code.
TAX_ID_NAMES: Final[dict[str, dict[TaxIdType, str]]] = {
    "en": {TaxIdType.EU_VAT: "VAT number", TaxIdType.GB_VAT: "VAT number"},
    "fr": {TaxIdType.EU_VAT: "N° de TVA", TaxIdType.GB_VAT: "N° de TVA"},
    "de": {TaxIdType.EU_VAT: "USt-IdNr.", TaxIdType.GB_VAT: "USt-IdNr."},
}
