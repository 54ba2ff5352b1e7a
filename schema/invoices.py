"""Invoices and their lines: what a customer owes and why. Types, inputs and enums."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

import domain.invoices as invoices_domain
from auth.scopes import CUSTOMERS_READ, PAYMENTS_READ, SUBSCRIPTIONS_READ, requires
from domain.money import Money as DomainMoney
from resolvers import credit_notes as credit_note_resolvers
from resolvers import invoices as invoice_resolvers
from resolvers import payments as payment_resolvers
from resolvers.errors import Outcome
from schema.connections import SortDirection
from schema.errors import UserError, user_errors_from
from schema.fields import each, returning
from schema.money import Money
from schema.nodes import Node, node_from_domain
from schema.scalars import CurrencyCode

if TYPE_CHECKING:
    from schema.credit_notes import CreditNote
    from schema.customers import Customer
    from schema.payments import Payment
    from schema.subscriptions import Subscription

strawberry.enum(
    invoices_domain.InvoiceStatus,
    name="InvoiceStatus",
    description="DRAFT (lines may change) → OPEN (finalized: numbered, frozen, due) → PAID, "
    "VOID (nothing owed) or UNCOLLECTIBLE (written off; may still be paid).",
)
InvoiceStatus = invoices_domain.InvoiceStatus

strawberry.enum(
    invoices_domain.BillingReason,
    name="BillingReason",
    description="Why the invoice exists: a one-off (MANUAL), a subscription's start, its "
    "renewal (CYCLE), or a change or cancellation (UPDATE).",
)
BillingReason = invoices_domain.BillingReason

strawberry.enum(
    invoices_domain.LineKind,
    name="InvoiceLineKind",
    description="SUBSCRIPTION: a licensed or flat price, in advance. USAGE: a metered price, "
    "in arrears. PRORATION: part of a period, credited or charged. MINIMUM_COMMITMENT: "
    "what the period's spend fell short by. ONE_OFF: added by hand.",
)
InvoiceLineKind = invoices_domain.LineKind

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]
SubscriptionRef = Annotated["Subscription", strawberry.lazy("schema.subscriptions")]
PaymentRef = Annotated["Payment", strawberry.lazy("schema.payments")]
CreditNoteRef = Annotated["CreditNote", strawberry.lazy("schema.credit_notes")]


@strawberry.type(description="A discount's share of a line.")
class LineDiscount:
    discount_id: strawberry.ID = strawberry.field(description="The discount (`di_…`).")
    amount: Money = strawberry.field(description="Taken off the line.")


@strawberry.type(description="One line of an invoice and why it is what it is.")
class InvoiceLine:
    id: strawberry.ID = strawberry.field(description="The line (`il_…`).")
    kind: InvoiceLineKind = strawberry.field(description="What the line charges for.")
    description: str = strawberry.field(description="For the customer.")
    amount: Money = strawberry.field(
        description="Before discounts and exclusive tax; negative for a credit."
    )
    quantity: Decimal = strawberry.field(description="Units, seats or usage quantity.")
    unit_amount: Decimal | None = strawberry.field(
        description="Price per unit in major units, when one unit price explains the line."
    )
    period_start: datetime | None = strawberry.field(description="Start of what it covers.")
    period_end: datetime | None = strawberry.field(description="End (exclusive).")
    price_id: strawberry.ID | None = strawberry.field(
        description="The price (`price_…`) it was billed from."
    )
    plan_id: strawberry.ID | None = strawberry.field(description="The plan of that price.")
    proration: bool = strawberry.field(description="A credit or charge for part of a period.")
    explanation: str = strawberry.field(
        description="How the amount was computed, checkable by hand: the price and its tiers, "
        "and for a proration the time used, the rate and the result."
    )
    discounts: list[LineDiscount] = strawberry.field(description="Discounts on this line.")
    discount_amount: Money = strawberry.field(description="Their sum.")
    tax_rate_id: strawberry.ID | None = strawberry.field(description="The tax rate applied.")
    tax_percentage: Decimal | None = strawberry.field(description="Its percentage.")
    tax_inclusive: bool = strawberry.field(description="Tax included in `amount`.")
    tax_amount: Money = strawberry.field(description="Tax on the discounted amount.")

    @classmethod
    def from_domain(cls, line: invoices_domain.InvoiceLine) -> InvoiceLine:
        currency = line.amount.currency
        return cls(
            id=strawberry.ID(line.id),
            kind=line.kind,
            description=line.description,
            amount=Money.from_domain(line.amount),
            quantity=line.quantity,
            unit_amount=line.unit_amount,
            period_start=line.period_start,
            period_end=line.period_end,
            price_id=None if line.price_id is None else strawberry.ID(line.price_id),
            plan_id=None if line.plan_id is None else strawberry.ID(line.plan_id),
            proration=line.proration,
            explanation=line.explanation,
            discounts=[
                LineDiscount(
                    discount_id=strawberry.ID(d.discount_id), amount=Money.from_domain(d.amount)
                )
                for d in line.discounts
            ],
            discount_amount=Money.from_domain(line.discount_total),
            tax_rate_id=None if line.tax_rate_id is None else strawberry.ID(line.tax_rate_id),
            tax_percentage=line.tax_percentage,
            tax_inclusive=line.tax_inclusive,
            tax_amount=Money.from_domain(line.tax_amount or DomainMoney.zero(currency)),
        )


@strawberry.type(description="The invoice's tax for one rate.")
class TaxBreakdownEntry:
    tax_rate_id: strawberry.ID = strawberry.field(description="The rate (`txr_…`).")
    name: str = strawberry.field(description="Its display name.")
    percentage: Decimal = strawberry.field(description='Percent, e.g. "20".')
    inclusive: bool = strawberry.field(description="Included in the line amounts.")
    taxable_amount: Money = strawberry.field(
        description="What the rate applies to (for inclusive rates, the gross)."
    )
    tax_amount: Money = strawberry.field(description="The tax, summed over the lines.")


@strawberry.type(description="What a customer owes, line by line.")
class Invoice(Node):
    number: str | None = strawberry.field(
        description="Gapless per account, given at finalization (e.g. `DEMO-2026-000042`); "
        "null for a draft."
    )
    status: InvoiceStatus = strawberry.field(description="Where it is in its lifecycle.")
    billing_reason: BillingReason = strawberry.field(description="Why it exists.")
    currency: CurrencyCode = strawberry.field(description="Every amount's currency.")
    customer_id: strawberry.ID = strawberry.field(description="The customer billed.")
    subscription_id: strawberry.ID | None = strawberry.field(description="Its subscription.")
    period_start: datetime | None = strawberry.field(description="The billing period billed.")
    period_end: datetime | None = strawberry.field(description="Its end (exclusive).")
    subtotal: Money = strawberry.field(description="The lines' amounts summed.")
    discount_total: Money = strawberry.field(description="All discounts.")
    tax_total: Money = strawberry.field(description="All tax, inclusive and exclusive.")
    total: Money = strawberry.field(
        description="Subtotal − discounts + exclusive tax; negative for a credit."
    )
    amount_due: Money = strawberry.field(
        description="What is owed: the total less `amountCredited` and `balanceApplied` "
        "(0 when void or a credit)."
    )
    amount_paid: Money = strawberry.field(description="Paid so far.")
    amount_credited: Money = strawberry.field(
        description="Taken off what is due by credit notes (outcome REDUCE_AMOUNT_DUE)."
    )
    balance_applied: Money = strawberry.field(
        description="The customer's credit balance applied to it at finalization."
    )
    amount_remaining: Money = strawberry.field(
        description="Still to pay: amount due less amount paid."
    )
    due_date: date | None = strawberry.field(description="From the customer's net terms.")
    reverse_charge: bool = strawberry.field(
        description="The customer self-accounts the tax (B2B reverse charge)."
    )
    tax_breakdown: list[TaxBreakdownEntry] = strawberry.field(description="Tax per rate.")
    memo: str | None = strawberry.field(description="A note for the customer.")
    created_at: datetime = strawberry.field(description="When it was created.")
    finalized_at: datetime | None = strawberry.field(description="When it was finalized.")
    paid_at: datetime | None = strawberry.field(description="When it was paid.")
    voided_at: datetime | None = strawberry.field(description="When it was voided.")
    marked_uncollectible_at: datetime | None = strawberry.field(
        description="When it was written off."
    )
    pdf_path: str = strawberry.field(
        description="Where its PDF is (`GET` with a token holding invoices:read)."
    )
    lines: list[InvoiceLine] = strawberry.field(
        resolver=returning(each(InvoiceLine.from_domain), invoice_resolvers.invoice_lines),
        description="Its lines, in order.",
    )
    customer: CustomerRef | None = strawberry.field(
        resolver=returning(node_from_domain, invoice_resolvers.invoice_customer),
        description="The customer billed.",
        permission_classes=[requires(CUSTOMERS_READ)],
    )
    credit_notes: list[CreditNoteRef] = strawberry.field(
        resolver=returning(each(node_from_domain), credit_note_resolvers.invoice_credit_notes),
        description="Its credit notes, oldest first (at most 100).",
    )
    subscription: SubscriptionRef | None = strawberry.field(
        resolver=returning(node_from_domain, invoice_resolvers.invoice_subscription),
        description="The subscription billed, if any.",
        permission_classes=[requires(SUBSCRIPTIONS_READ)],
    )
    payments: list[PaymentRef] = strawberry.field(
        resolver=returning(each(node_from_domain), payment_resolvers.invoice_payments),
        description="Its payments (every attempt, failed ones too), oldest first.",
        permission_classes=[requires(PAYMENTS_READ)],
    )
    collection_attempts: int = strawberry.field(
        description="How many times automatic collection charged it."
    )
    next_collection_at: datetime | None = strawberry.field(
        description="When automatic collection charges it next (dunning); null when it will not."
    )

    @classmethod
    def from_domain(cls, invoice: invoices_domain.Invoice) -> Invoice:
        totals = invoice.totals
        return cls(
            id=strawberry.ID(invoice.id),
            number=invoice.number,
            status=invoice.status,
            billing_reason=invoice.billing_reason,
            currency=CurrencyCode(invoice.currency),
            customer_id=strawberry.ID(invoice.customer_id),
            subscription_id=None
            if invoice.subscription_id is None
            else strawberry.ID(invoice.subscription_id),
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            subtotal=Money.from_domain(totals.subtotal),
            discount_total=Money.from_domain(totals.discount_total),
            tax_total=Money.from_domain(totals.tax_total),
            total=Money.from_domain(totals.total),
            amount_due=Money.from_domain(invoice.amount_due),
            amount_paid=Money.from_domain(invoice.amount_paid),
            amount_credited=Money.from_domain(invoice.amount_credited),
            balance_applied=Money.from_domain(invoice.balance_applied),
            amount_remaining=Money.from_domain(invoice.amount_remaining),
            due_date=invoice.due_date,
            reverse_charge=invoice.reverse_charge,
            tax_breakdown=[
                TaxBreakdownEntry(
                    tax_rate_id=strawberry.ID(e.tax_rate_id),
                    name=e.name,
                    percentage=e.percentage,
                    inclusive=e.inclusive,
                    taxable_amount=Money.from_domain(e.taxable_amount),
                    tax_amount=Money.from_domain(e.tax_amount),
                )
                for e in invoice.tax_breakdown
            ],
            memo=invoice.memo,
            created_at=invoice.created_at,
            finalized_at=invoice.finalized_at,
            paid_at=invoice.paid_at,
            voided_at=invoice.voided_at,
            marked_uncollectible_at=invoice.marked_uncollectible_at,
            pdf_path=f"/invoices/{invoice.id}/pdf",
            collection_attempts=invoice.collection_attempts,
            next_collection_at=invoice.next_collection_at,
        )


def invoice_or_none(invoice: invoices_domain.Invoice | None) -> Invoice | None:
    return None if invoice is None else Invoice.from_domain(invoice)


@strawberry.type(description="Result of an invoice mutation.")
class InvoicePayload:
    invoice: Invoice | None = strawberry.field(description="The invoice; null on errors.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[invoices_domain.Invoice]) -> InvoicePayload:
        return cls(
            invoice=invoice_or_none(outcome.value), user_errors=user_errors_from(outcome.errors)
        )


@strawberry.input(description="A new one-off draft invoice, in the customer's currency.")
class CreateInvoiceInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer (`cus_…`).")
    memo: str | None = strawberry.field(default=None, description="A note, up to 2,000 chars.")


@strawberry.input(description="A line added by hand to a draft: quantity × unit amount.")
class AddInvoiceLineInput:
    invoice_id: strawberry.ID = strawberry.field(description="The draft (`inv_…`).")
    description: str = strawberry.field(description="1 to 500 characters.")
    unit_amount: Decimal = strawberry.field(
        description="Per unit in major units; negative for a credit."
    )
    quantity: Decimal = strawberry.field(default=Decimal(1), description="Positive.")
    period_start: datetime | None = strawberry.field(default=None, description="Optional.")
    period_end: datetime | None = strawberry.field(default=None, description="Optional.")


@strawberry.input(description="The invoice to act on.")
class InvoiceIdInput:
    id: strawberry.ID = strawberry.field(description="The invoice (`inv_…`).")


@strawberry.input(description="Narrows the invoices list.")
class InvoiceFilterInput:
    status: list[InvoiceStatus] | None = strawberry.field(
        default=None, description="Any of these statuses."
    )
    customer_id: strawberry.ID | None = strawberry.field(default=None, description="One customer.")
    subscription_id: strawberry.ID | None = strawberry.field(
        default=None, description="One subscription."
    )
    created_after: datetime | None = strawberry.field(default=None, description="Inclusive.")
    created_before: datetime | None = strawberry.field(default=None, description="Exclusive.")
    amount_due_positive: bool | None = strawberry.field(
        default=None,
        description="true: only open or uncollectible invoices with something left to pay.",
    )


@strawberry.input(description="Sort order of the invoices list (by creation time).")
class InvoiceOrder:
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="DESC lists the newest first."
    )


@strawberry.type(
    description="How the account's invoice numbers look: `DEMO-2026-000042` is prefix DEMO, "
    "the year of finalization, 42 padded to 6 digits. One counter per account, never reset: "
    "numbers are gapless and strictly increasing."
)
class InvoiceNumbering:
    prefix: str = strawberry.field(description="1 to 12 capital letters, digits or '-'.")
    include_year: bool = strawberry.field(description="The year of finalization after it.")
    padding: int = strawberry.field(description="Digits the number is padded to (1 to 12).")
    last_number: int = strawberry.field(description="The last number given; 0 before any.")
    example: str = strawberry.field(description="What the next number looks like this year.")

    @classmethod
    def from_domain(cls, numbering: tuple[invoices_domain.NumberTemplate, int]) -> InvoiceNumbering:
        template, last = numbering
        return cls(
            prefix=template.prefix,
            include_year=template.include_year,
            padding=template.padding,
            last_number=last,
            example=template.format(last + 1, datetime.now(UTC)),
        )


@strawberry.type(description="Result of `updateInvoiceNumbering`.")
class UpdateInvoiceNumberingPayload:
    numbering: InvoiceNumbering | None = strawberry.field(description="Null on errors.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(
        cls, outcome: Outcome[tuple[invoices_domain.NumberTemplate, int]]
    ) -> UpdateInvoiceNumberingPayload:
        return cls(
            numbering=None
            if outcome.value is None
            else InvoiceNumbering.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.input(description="The account's invoice number template from now on.")
class UpdateInvoiceNumberingInput:
    prefix: str = strawberry.field(description="1 to 12 capital letters, digits or '-'.")
    include_year: bool = strawberry.field(
        default=True, description="The year of finalization after the prefix."
    )
    padding: int = strawberry.field(default=6, description="Digits to pad to (1 to 12).")
