"""An invoice as a PDF a customer can file: merchant, bill-to, lines, taxes, what is due.

Printed in the customer's language and locale (labels from infra/invoice_labels.py; dates,
quantities, percentages and amounts by Babel, amounts through `format_money`, so the PDF
reads like the API's `formatted`). Set in Roboto, which the `font-roboto` package ships:
fpdf2's built-in fonts are Latin-1 only, and a customer's name, a French narrow no-break
space or a currency sign must print as written. The output is byte-for-byte reproducible:
its creation date is the invoice's issue date, not the time it was printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib.resources import files
from typing import Final

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from domain.credit_notes import CreditNote
from domain.customers import Address, TaxId
from domain.invoices import Invoice, InvoiceLine, InvoiceStatus
from domain.money import Money, format_money, format_unit_price
from infra.invoice_labels import FALLBACK_LANGUAGE, LABELS, STATUS_STAMPS, TAX_ID_NAMES

_FONT: Final = "Roboto"
_FONT_FILES: Final = {"": "Roboto-Regular.ttf", "B": "Roboto-Bold.ttf"}
# A4 in millimetres; the table stops above the footer's page number.
_MARGIN: Final = 18.0
_CONTENT_BOTTOM: Final = 297.0 - 24.0
_WIDTH: Final = 210.0 - 2 * _MARGIN
_LINE: Final = 4.6
_PAGE_COUNT_ALIAS: Final = "{nb}"
# The lines table: (label key, width in mm, alignment); the widths add up to _WIDTH.
_COLUMNS: Final = (
    ("description", 62.0, Align.L),
    ("period", 40.0, Align.L),
    ("quantity", 16.0, Align.R),
    ("unit_price", 28.0, Align.R),
    ("amount", 28.0, Align.R),
)
_INK: Final = (33, 37, 41)
_MUTED: Final = (108, 117, 125)
_RULE: Final = (206, 212, 218)
_HEADER_FILL: Final = (241, 243, 245)
_STAMP_INK: Final = {InvoiceStatus.PAID: (25, 135, 84), InvoiceStatus.VOID: (176, 42, 55)}


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    """What an invoice PDF shows besides the invoice: who bills, who is billed, in what
    language. The bill-to is the customer as the invoice was finalized with (its snapshot)."""

    invoice: Invoice
    merchant_name: str
    bill_to_name: str
    bill_to_email: str | None = None
    bill_to_address: Address | None = None
    bill_to_tax_ids: tuple[TaxId, ...] = ()
    # "en", "fr", "de" or a full locale ("fr_CH", "de-AT"); a language without labels
    # here, or no locale at all, prints in English.
    locale: str = FALLBACK_LANGUAGE
    # The invoice's credit notes, oldest first: listed under its totals.
    credit_notes: tuple[CreditNote, ...] = ()


def render_invoice_pdf(document: InvoiceDocument) -> bytes:
    """The invoice as PDF bytes, as many A4 pages as its lines need."""
    return _InvoicePrinter(document).print()


def invoice_locale(tag: str) -> Locale:
    """The Babel locale an invoice prints in: `tag` if we have labels for its language."""
    try:
        locale = Locale.parse(tag.strip().replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return Locale(FALLBACK_LANGUAGE)
    return locale if locale.language in LABELS else Locale(FALLBACK_LANGUAGE)


class _Pages(FPDF):
    """FPDF with the running header and the "Page n of N" footer of an invoice."""

    def __init__(self, running_title: str, page_label: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.running_title = running_title
        self.page_label = page_label

    def header(self) -> None:
        if self.page_no() > 1:  # the first page has the full header instead
            self.set_font(_FONT, "", 8)
            self.set_text_color(*_MUTED)
            self.set_xy(_MARGIN, _MARGIN - 6)
            self.cell(_WIDTH, _LINE, self.running_title)
            self.set_y(_MARGIN)

    def footer(self) -> None:
        self.set_font(_FONT, "", 8)
        self.set_text_color(*_MUTED)
        self.set_xy(_MARGIN, 297.0 - 16.0)
        # An alias for the page count, which fpdf2 fills in once the document is done.
        text = self.page_label.format(page=self.page_no(), pages=_PAGE_COUNT_ALIAS)
        self.cell(_WIDTH, _LINE, text, align=Align.C)


class _InvoicePrinter:
    def __init__(self, document: InvoiceDocument) -> None:
        self.document = document
        self.invoice = document.invoice
        self.locale = invoice_locale(document.locale)
        self.locale_tag = str(self.locale)
        self.labels = LABELS[self.locale.language]
        number = self.invoice.number or self.labels["draft"]
        self.title = f"{self.labels['title']} {number}"
        self.pdf = _Pages(f"{self.title} · {document.merchant_name}", self.labels["page"])

    def print(self) -> bytes:
        pdf = self.pdf
        for style, file_name in _FONT_FILES.items():
            pdf.add_font(_FONT, style, str(files("font_roboto") / "files" / file_name))
        pdf.alias_nb_pages(_PAGE_COUNT_ALIAS, align=Align.L)
        pdf.set_creation_date(self._issued_at())
        pdf.set_creator("Ledgerline")
        pdf.set_author(self.document.merchant_name)
        pdf.set_title(self.title)
        pdf.set_lang(self.locale_tag.replace("_", "-"))
        pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
        # Rows are placed by hand (a line and its discounts stay together, the table's
        # header repeats), so fpdf2 must not break pages in the middle of one.
        pdf.set_auto_page_break(False)
        pdf.add_page()
        self._heading()
        self._lines()
        self._totals()
        self._credit_notes()
        self._notes()
        return bytes(pdf.output())

    # -- the first page's header -------------------------------------------------------

    def _heading(self) -> None:
        pdf, labels, invoice = self.pdf, self.labels, self.invoice
        self._font("B", 16)
        pdf.set_xy(_MARGIN, _MARGIN)
        self._wrapped(_WIDTH * 0.6, 7, self.document.merchant_name)
        merchant_bottom = pdf.get_y()
        self._font("B", 20)
        pdf.set_xy(_MARGIN, _MARGIN)
        pdf.cell(_WIDTH, 8, labels["title"], align=Align.R)
        stamp = STATUS_STAMPS[self.locale.language].get(invoice.status)
        if stamp is not None:
            self._font("B", 11, _STAMP_INK[invoice.status])
            pdf.set_xy(_MARGIN, _MARGIN + 9)
            pdf.cell(_WIDTH, 6, stamp.upper(), align=Align.R)
        top = max(merchant_bottom, _MARGIN + 16) + 2

        meta = [(labels["number"], invoice.number or labels["draft"])]
        meta.append((labels["issue_date"], self._date(self._issued_at().date())))
        if invoice.due_date is not None:
            meta.append((labels["due_date"], self._date(invoice.due_date)))
        if invoice.period_start is not None and invoice.period_end is not None:
            period = self._period(invoice.period_start, invoice.period_end, "medium")
            meta.append((labels["billing_period"], period))
        y = top
        for label, value in meta:
            self._font("", 9, _MUTED)
            pdf.set_xy(_MARGIN + 96, y)
            pdf.cell(34, _LINE, label)
            self._font("", 9)
            pdf.set_xy(_MARGIN + 130, y)
            self._wrapped(_WIDTH - 130, _LINE, value)
            y = pdf.get_y() + 0.8
        meta_bottom = y

        self._font("", 9, _MUTED)
        pdf.set_xy(_MARGIN, top)
        pdf.cell(90, _LINE, labels["bill_to"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self._font("B", 10)
        self._wrapped(90, 5, self.document.bill_to_name)
        self._font("", 9)
        for text in self._bill_to_lines():
            self._wrapped(90, _LINE, text)
        pdf.set_y(max(pdf.get_y(), meta_bottom) + 6)

        if invoice.due_date is not None and invoice.status in (
            InvoiceStatus.OPEN,
            InvoiceStatus.UNCOLLECTIBLE,
        ):
            self._font("B", 13)
            remaining = self._money(invoice.amount_remaining)
            due_by = labels["due_by"].format(amount=remaining, date=self._date(invoice.due_date))
            pdf.cell(_WIDTH, 7, due_by, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(4)

    def _bill_to_lines(self) -> list[str]:
        document = self.document
        lines = [document.bill_to_email] if document.bill_to_email else []
        address = document.bill_to_address
        if address is not None:
            lines += [line for line in (address.line1, address.line2) if line]
            lines += [line for line in _locality_lines(address) if line]
            lines.append(self.locale.territories.get(address.country, address.country))
        names = TAX_ID_NAMES[self.locale.language]
        for tax_id in document.bill_to_tax_ids:
            name = names.get(tax_id.type, tax_id.type.value.replace("_", " "))
            lines.append(self.labels["tax_id"].format(name=name, value=tax_id.value))
        return lines

    # -- the lines table ---------------------------------------------------------------

    def _lines(self) -> None:
        self._table_header()
        for line in self.invoice.lines:
            self._line(line)
            for discount in line.discounts:
                self._room(_LINE + 0.6, table=True)
                y = self.pdf.get_y()
                self._font("", 8, _MUTED)
                self._cell(_MARGIN + 4, y, _COLUMNS[0][1] - 4, self.labels["discount"], Align.L)
                self._cell(*self._column(4, y), self._money(-discount.amount), Align.R)
                self.pdf.set_y(y + _LINE)
            self._rule(self.pdf.get_y() + 0.6)
            self.pdf.set_y(self.pdf.get_y() + 1.6)

    def _table_header(self) -> None:
        pdf = self.pdf
        y = pdf.get_y()
        pdf.set_fill_color(*_HEADER_FILL)
        pdf.rect(_MARGIN, y, _WIDTH, 7, style="F")
        self._font("B", 8.5)
        for index, (key, _, align) in enumerate(_COLUMNS):
            x, _, width = self._column(index, y)
            self._cell(x + 1, y + 1.2, width - 2, self.labels[key], align)
        pdf.set_y(y + 9)

    def _line(self, line: InvoiceLine) -> None:
        pdf = self.pdf
        self._font("", 9)
        width = _COLUMNS[0][1] - 2
        wrapped = pdf.multi_cell(width, _LINE, line.description, dry_run=True, output="LINES")
        description = list(wrapped) if isinstance(wrapped, list) else [line.description]
        period = self._line_period(line)
        self._room(max(len(description), len(period), 1) * _LINE + 1, table=True)
        self._font("", 9)
        y = pdf.get_y()
        for offset, text in enumerate(description):
            self._cell(_MARGIN + 1, y + offset * _LINE, width, text, Align.L)
        self._font("", 8, _MUTED)
        for offset, text in enumerate(period):
            x, _, column_width = self._column(1, y)
            self._cell(x + 1, y + offset * _LINE, column_width - 2, text, Align.L)
        self._font("", 9)
        numbers = [format_decimal(line.quantity, locale=self.locale, decimal_quantization=False)]
        unit = line.unit_amount
        numbers.append(
            "" if unit is None else format_unit_price(unit, line.amount.currency, self.locale_tag)
        )
        numbers.append(self._money(line.amount))
        for index, text in enumerate(numbers, start=2):
            x, _, column_width = self._column(index, y)
            self._cell(x + 1, y, column_width - 2, text, Align.R)
        pdf.set_y(y + max(len(description), len(period), 1) * _LINE)

    def _line_period(self, line: InvoiceLine) -> list[str]:
        """The line's period on one line of its column, or on two when it is too wide."""
        if line.period_start is None or line.period_end is None:
            return []
        start = self._date(line.period_start.date(), "medium")
        end = self._date(line.period_end.date(), "medium")
        self._font("", 8, _MUTED)
        one_line = f"{start} – {end}"
        if self.pdf.get_string_width(one_line) <= _COLUMNS[1][1] - 2:
            return [one_line]
        return [f"{start} –", end]

    # -- totals and notes --------------------------------------------------------------

    def _totals(self) -> None:
        invoice, labels = self.invoice, self.labels
        totals = invoice.totals
        rows: list[tuple[str, Money, bool]] = [(labels["subtotal"], totals.subtotal, False)]
        if not totals.discount_total.is_zero():
            rows.append((labels["discounts"], -totals.discount_total, False))
        for entry in invoice.tax_breakdown:
            template = labels["tax_inclusive" if entry.inclusive else "tax"]
            label = template.format(
                name=entry.name,
                percentage=self._percentage(entry.percentage),
                taxable=self._money(entry.taxable_amount),
            )
            rows.append((label, entry.tax_amount, False))
        rows.append((labels["total"], totals.total, True))
        if not invoice.balance_applied.is_zero():
            rows.append((labels["balance_applied"], -invoice.balance_applied, False))
        if not invoice.amount_credited.is_zero():
            rows.append((labels["credited"], -invoice.amount_credited, False))
        rows.append((labels["amount_paid"], invoice.amount_paid, False))
        rows.append((labels["amount_due"], invoice.amount_remaining, True))
        self._room(len(rows) * (_LINE + 1.4) + 4, table=False)
        y = self.pdf.get_y() + 2
        for label, amount, emphasised in rows:
            if emphasised:
                self._rule(y - 0.7, left=_MARGIN + 84)
            self._font("B" if emphasised else "", 9.5 if emphasised else 9)
            self._cell(_MARGIN + 84, y, _WIDTH - 84 - 36, label, Align.L)
            self._cell(_MARGIN + _WIDTH - 36, y, 36, self._money(amount), Align.R)
            y += _LINE + 1.4
        self.pdf.set_y(y + 4)

    def _credit_notes(self) -> None:
        notes, labels, pdf = self.document.credit_notes, self.labels, self.pdf
        if not notes:
            return
        self._room(_LINE * 3, table=False)
        self._font("", 8, _MUTED)
        pdf.cell(_WIDTH, _LINE, labels["credit_notes"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self._font("", 9)
        for note in notes:
            self._room(_LINE, table=False)
            text = labels["credit_note"].format(
                number=note.number,
                date=self._date(note.created_at.date(), "medium"),
                amount=self._money(note.amount),
                outcome=labels[f"outcome_{note.outcome.value}"],
            )
            self._wrapped(_WIDTH, _LINE, text)
        pdf.ln(2)

    def _notes(self) -> None:
        pdf = self.pdf
        if self.invoice.reverse_charge:
            self._room(_LINE * 2, table=False)
            self._font("B", 9)
            self._wrapped(_WIDTH, _LINE, self.labels["reverse_charge"])
            pdf.ln(2)
        if self.invoice.memo:
            self._room(_LINE * 3, table=False)
            self._font("", 8, _MUTED)
            pdf.cell(_WIDTH, _LINE, self.labels["memo"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self._font("", 9)
            for paragraph in self.invoice.memo.splitlines() or [""]:
                self._room(_LINE, table=False)
                self._wrapped(_WIDTH, _LINE, paragraph)

    # -- drawing and formatting --------------------------------------------------------

    def _room(self, height: float, *, table: bool) -> None:
        """A new page when `height` does not fit on this one; the table's header repeats."""
        if self.pdf.get_y() + height > _CONTENT_BOTTOM:
            self.pdf.add_page()
            self.pdf.set_y(_MARGIN + 2)
            if table:
                self._table_header()

    def _font(self, style: str, size: float, ink: tuple[int, int, int] = _INK) -> None:
        self.pdf.set_font(_FONT, style, size)
        self.pdf.set_text_color(*ink)

    def _wrapped(self, width: float, height: float, text: str) -> None:
        """Text wrapped to `width` from the cursor, left-aligned (fpdf2 justifies by default);
        the cursor ends at the left margin of the next line."""
        self.pdf.multi_cell(width, height, text, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def _cell(self, x: float, y: float, width: float, text: str, align: Align) -> None:
        """One line of text at (x, y), shrunk (never cut) when it is wider than its cell."""
        pdf = self.pdf
        size = pdf.font_size_pt
        while pdf.font_size_pt > 5 and pdf.get_string_width(text) > width:
            pdf.set_font_size(pdf.font_size_pt - 0.5)
        pdf.set_xy(x, y)
        pdf.cell(width, _LINE, text, align=align)
        pdf.set_font_size(size)

    @staticmethod
    def _column(index: int, y: float) -> tuple[float, float, float]:
        x = _MARGIN + sum(width for _, width, _ in _COLUMNS[:index])
        return x, y, _COLUMNS[index][1]

    def _rule(self, y: float, left: float = _MARGIN) -> None:
        self.pdf.set_draw_color(*_RULE)
        self.pdf.set_line_width(0.2)
        self.pdf.line(left, y, _MARGIN + _WIDTH, y)

    def _issued_at(self) -> datetime:
        return self.invoice.finalized_at or self.invoice.created_at

    def _money(self, money: Money) -> str:
        return format_money(money, self.locale_tag)

    def _date(self, day: date, length: str = "long") -> str:
        return format_date(day, format=length, locale=self.locale)

    def _period(self, start: datetime, end: datetime, length: str) -> str:
        return f"{self._date(start.date(), length)} – {self._date(end.date(), length)}"

    def _percentage(self, percentage: Decimal) -> str:
        # A tax rate's percentage is in points (20 for 20 %), as the API takes it.
        return format_percent(percentage.scaleb(-2), locale=self.locale, decimal_quantization=False)


def _locality_lines(address: Address) -> list[str]:
    """Postal code, city and state in the order the address's country writes them."""
    city, state, postal = address.city or "", address.state or "", address.postal_code or ""
    if address.country in {"US", "CA", "AU"}:
        head = ", ".join(part for part in (city, state) if part)
        return [" ".join(part for part in (head, postal) if part)]
    lines = [" ".join(part for part in (postal, city) if part)]
    return [*lines, state] if state else lines
