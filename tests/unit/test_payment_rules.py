"""Property tests of the money rules of payments and refunds: whatever amounts callers ask,
an invoice is never paid beyond what it owes (PAID exactly when nothing remains), and a
payment's refunds never exceed what it captured."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError, ErrorCode
from domain.invoice_payments import Payment, PaymentStatus, paid, payment_amount
from domain.invoices import BillingReason, Invoice, InvoiceStatus, Totals
from domain.money import Money
from domain.refunds import refund_amount

T0 = datetime(2026, 11, 29, tzinfo=UTC)
CURRENCIES = st.sampled_from(["USD", "JPY", "KWD"])


def open_invoice(total: Money) -> Invoice:
    zero = Money.zero(total.currency)
    return Invoice(
        id="inv_x",
        customer_id="cus_x",
        subscription_id=None,
        status=InvoiceStatus.OPEN,
        currency=total.currency,
        billing_reason=BillingReason.MANUAL,
        number="INV-1",
        period_start=None,
        period_end=None,
        totals=Totals(total, zero, zero, total),
        amount_paid=zero,
        amount_credited=zero,
        balance_applied=zero,
        due_date=None,
        reverse_charge=False,
        created_at=T0,
        finalized_at=T0,
        paid_at=None,
        voided_at=None,
        marked_uncollectible_at=None,
    )


def payment(amount: Money, status: PaymentStatus = PaymentStatus.SUCCEEDED) -> Payment:
    return Payment(
        id="pay_x",
        invoice_id="inv_x",
        customer_id="cus_x",
        payment_method_id="pm_x",
        amount=amount,
        status=status,
        decline_code=None,
        provider="sandbox",
        provider_reference="ch_x",
        provider_idempotency_key="k",
        request_key=None,
        attempt=None,
        amount_refunded=Money.zero(amount.currency),
        created_at=T0,
        settled_at=T0,
    )


@given(
    CURRENCIES,
    st.integers(1, 10**9),
    st.lists(st.one_of(st.none(), st.integers(-5, 10**9)), max_size=12),
)
def test_payments_never_exceed_what_is_owed(
    currency: str, total: int, asked: list[int | None]
) -> None:
    invoice = open_invoice(Money(total, currency))
    for minor in asked:
        requested = None if minor is None else Money(minor, currency).amount
        try:
            amount = payment_amount(requested, invoice.amount_remaining)
        except DomainError as error:
            [refusal] = error.errors
            assert refusal.code in (ErrorCode.INVALID, ErrorCode.AMOUNT_EXCEEDS_REMAINING)
            assert minor is None or minor <= 0 or minor > invoice.amount_remaining.minor_units
            continue
        assert 0 < amount.minor_units <= invoice.amount_remaining.minor_units
        invoice = paid(invoice, payment(amount), T0)
        assert invoice.amount_paid.minor_units <= total
        assert (invoice.status is InvoiceStatus.PAID) == invoice.amount_remaining.is_zero()
    if invoice.status is InvoiceStatus.PAID:
        assert invoice.amount_paid == invoice.totals.total


@given(
    CURRENCIES,
    st.integers(1, 10**9),
    st.lists(st.one_of(st.none(), st.integers(-5, 10**9)), max_size=12),
    st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_refunds_never_exceed_the_payment(
    currency: str, captured: int, asked: list[int | None], provider_fails: list[bool]
) -> None:
    made = payment(Money(captured, currency))
    reserved = Money.zero(currency)
    for minor, fails in zip(asked, provider_fails, strict=False):
        requested = None if minor is None else Money(minor, currency).amount
        try:
            amount = refund_amount(made, requested, reserved)
        except DomainError as error:
            [refusal] = error.errors
            assert refusal.code in (ErrorCode.INVALID, ErrorCode.REFUND_EXCEEDS_PAYMENT)
            continue
        if not fails:  # a failed refund gives its amount back to what may be refunded
            reserved = reserved + amount
            made = replace(made, amount_refunded=made.amount_refunded + amount)
        assert made.amount_refunded <= made.amount
        assert reserved <= made.amount


@given(st.sampled_from([PaymentStatus.PENDING, PaymentStatus.FAILED]))
def test_only_a_captured_payment_is_refunded(status: PaymentStatus) -> None:
    try:
        refund_amount(payment(Money(100, "USD"), status), Decimal("1"), Money.zero("USD"))
    except DomainError as error:
        assert [e.code for e in error.errors] == [ErrorCode.PAYMENT_NOT_REFUNDABLE]
    else:
        raise AssertionError("refunded a payment that captured nothing")
