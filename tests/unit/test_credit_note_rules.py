"""Credit note and balance rules, pure: whatever is asked, in whatever order, the credit
notes of an invoice never exceed its total (nor a line's what it charged), reducing never
takes more than is left to pay, and credit applied is never more than held or owed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.balances import adjustment, credit_to_apply
from domain.credit_notes import (
    CreditNote,
    CreditNoteOutcome,
    CreditNoteReason,
    CreditNoteRequest,
    LineRequest,
    credit,
    line_creditable,
)
from domain.errors import DomainError
from domain.invoices import (
    BillingReason,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    Totals,
    settled,
)
from domain.money import Money

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def _invoice(line_cents: list[int], applied: int = 0) -> Invoice:
    lines = tuple(
        InvoiceLine(f"il_{i}", LineKind.ONE_OFF, f"Item {i}", Money(c, "USD"), Decimal(1), None)
        for i, c in enumerate(line_cents)
    )
    total = Money(sum(line_cents), "USD")
    zero = Money.zero("USD")
    return Invoice(
        id="inv_1",
        customer_id="cus_1",
        subscription_id=None,
        status=InvoiceStatus.OPEN,
        currency="USD",
        billing_reason=BillingReason.MANUAL,
        number="INV-1",
        period_start=None,
        period_end=None,
        totals=Totals(total, zero, zero, total),
        amount_paid=zero,
        amount_credited=zero,
        balance_applied=Money(min(applied, max(total.minor_units, 0)), "USD"),
        due_date=None,
        reverse_charge=False,
        created_at=NOW,
        finalized_at=NOW,
        paid_at=None,
        voided_at=None,
        marked_uncollectible_at=None,
        lines=lines,
    )


requests = st.lists(
    st.tuples(
        st.sampled_from(list(CreditNoteOutcome)),
        st.one_of(
            st.integers(min_value=-100, max_value=30_000).map(lambda c: ("amount", c)),
            st.lists(
                st.tuples(st.integers(0, 3), st.integers(min_value=1, max_value=30_000)),
                min_size=1,
                max_size=3,
            ).map(lambda lines: ("lines", lines)),
        ),
    ),
    max_size=15,
)


@given(
    line_cents=st.lists(st.integers(min_value=-5_000, max_value=20_000), min_size=1, max_size=4),
    applied=st.integers(min_value=0, max_value=10_000),
    asked=requests,
)
def test_credit_notes_never_exceed_the_total_nor_a_line_nor_what_is_left_to_pay(
    line_cents: list[int], applied: int, asked: list[tuple[CreditNoteOutcome, tuple[str, object]]]
) -> None:
    invoice = _invoice(line_cents, applied)
    made: list[CreditNote] = []
    for index, (outcome, (form, value)) in enumerate(asked):
        if form == "amount":
            request = CreditNoteRequest(
                invoice.id,
                CreditNoteReason.OTHER,
                outcome,
                amount=Decimal(value) / 100,  # type: ignore[arg-type]
            )
        else:
            request = CreditNoteRequest(
                invoice.id,
                CreditNoteReason.OTHER,
                outcome,
                lines=[LineRequest(f"il_{i}", Decimal(c) / 100) for i, c in value],  # type: ignore[attr-defined]
            )
        before = invoice.amount_remaining
        try:
            amount, lines = credit(invoice, made, request)
        except DomainError:
            continue
        assert outcome is not CreditNoteOutcome.REFUND  # nothing was paid
        assert amount.minor_units > 0
        made.append(
            CreditNote(
                f"cn_{index}",
                invoice.id,
                "cus_1",
                "CN",
                index + 1,
                amount,
                CreditNoteReason.OTHER,
                outcome,
                None,
                lines,
                NOW,
            )
        )
        if outcome is CreditNoteOutcome.REDUCE_AMOUNT_DUE:
            assert amount <= before
            invoice = settled(
                replace(invoice, amount_credited=invoice.amount_credited + amount), NOW
            )
            # nothing left to pay is PAID (THE rule of payment)
            assert (invoice.status is InvoiceStatus.PAID) == invoice.amount_remaining.is_zero()
    # then
    credited = sum(note.amount.minor_units for note in made)
    assert credited <= max(sum(line_cents), 0)
    covered = invoice.amount_paid + invoice.amount_credited + invoice.balance_applied
    assert covered <= invoice.creditable
    assert not invoice.amount_due.is_negative()
    assert invoice.status is not InvoiceStatus.PAID or invoice.amount_remaining.is_zero()
    for line in invoice.lines:
        on_line = sum(
            credited_line.amount.minor_units
            for note in made
            for credited_line in note.lines
            if credited_line.invoice_line_id == line.id
        )
        assert on_line <= line_creditable(line).minor_units


@given(
    balance=st.integers(min_value=-50_000, max_value=0),
    due=st.integers(min_value=-1_000, max_value=50_000),
)
def test_credit_applied_is_never_more_than_held_or_owed(balance: int, due: int) -> None:
    applied = credit_to_apply(Money(balance, "USD"), Money(due, "USD")).minor_units
    assert 0 <= applied <= -balance
    assert applied <= max(due, 0)
    assert applied == min(-balance, max(due, 0))


@given(
    balance=st.integers(min_value=-50_000, max_value=0),
    change=st.integers(min_value=-50_000, max_value=50_000),
)
def test_an_adjustment_never_leaves_a_balance_owed(balance: int, change: int) -> None:
    try:
        money, _ = adjustment(Decimal(change) / 100, "Why", Money(balance, "USD"))
    except DomainError as error:
        assert change == 0 or balance + change > 0, error
        return
    assert money.minor_units == change != 0
    assert balance + change <= 0
