"""A customer's balance: credit carried to their next invoices, as an append-only ledger.

Every change is a balance transaction (a credit note credited to the balance, a manual
adjustment, credit applied to an invoice at its finalization, credit given back when that
invoice is voided); the balance is their sum, in the customer's currency. The sign is
Stripe's, as `Customer.balance` shows it: negative is credit in the customer's favour. A
balance here only ever holds credit (it is never above zero): what a customer owes is
invoiced, not carried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Final, Protocol

from domain.errors import ErrorCode, FieldErrors
from domain.money import InvalidAmount, Money, format_decimal

DESCRIPTION_MAX_LENGTH: Final = 500
# How many of a customer's transactions `customer.balanceTransactions` lists at most.
LISTED_PER_CUSTOMER: Final = 100


class BalanceTransactionKind(str, Enum):
    CREDIT_NOTE = "CREDIT_NOTE"  # a credit note's outcome CREDIT_BALANCE (negative)
    ADJUSTMENT = "ADJUSTMENT"  # adjustCustomerBalance (either sign)
    APPLIED_TO_INVOICE = "APPLIED_TO_INVOICE"  # credit used by an invoice (positive)
    UNAPPLIED_FROM_INVOICE = "UNAPPLIED_FROM_INVOICE"  # given back when it is voided


@dataclass(frozen=True, slots=True)
class BalanceTransaction:
    id: str
    customer_id: str
    kind: BalanceTransactionKind
    amount: Money  # negative credits the customer
    created_at: datetime
    # The balance after it; the ledger's trigger sets it when the transaction is written.
    ending_balance: Money | None = None
    description: str | None = None
    credit_note_id: str | None = None
    invoice_id: str | None = None


def available_credit(balance: Money) -> Money:
    """The credit a balance holds (positive), nothing for a zero balance."""
    return Money.zero(balance.currency) if not balance.is_negative() else -balance


def credit_to_apply(balance: Money, amount_due: Money) -> Money:
    """What of a balance's credit goes to an invoice: as much as it owes."""
    credit = available_credit(balance)
    if amount_due.is_negative():
        return Money.zero(amount_due.currency)
    return credit if credit <= amount_due else amount_due


def adjustment(amount: Decimal, description: str | None, balance: Money) -> tuple[Money, str]:
    """A manual adjustment of `balance` by `amount` (major units, negative credits the
    customer), checked: a nonzero amount in the currency's minor units, a description, and
    a balance left holding credit or nothing."""
    errors = FieldErrors()
    currency = balance.currency
    money = Money.zero(currency)
    try:
        money = Money.from_decimal(amount, currency)
    except InvalidAmount as error:
        errors.add(ErrorCode.INVALID, ("input", "amount"), str(error))
    else:
        if money.is_zero():
            errors.add(ErrorCode.INVALID, ("input", "amount"), "An adjustment is not zero.")
    text = (description or "").strip()
    if not 1 <= len(text) <= DESCRIPTION_MAX_LENGTH:
        errors.add(
            ErrorCode.INVALID,
            ("input", "description"),
            f"Say why, in 1 to {DESCRIPTION_MAX_LENGTH} characters.",
        )
    errors.raise_if_any()
    try:
        after = balance + money
    except InvalidAmount:
        errors.add(ErrorCode.INVALID, ("input", "amount"), "The balance would be out of range.")
        errors.raise_if_any()
        raise
    if after.minor_units > 0:
        errors.add(
            ErrorCode.BALANCE_INSUFFICIENT,
            ("input", "amount"),
            f"The customer has {format_decimal(available_credit(balance).amount)} {currency} "
            "of credit: a balance holds credit only (negative amounts credit the customer).",
        )
        errors.raise_if_any()
    return money, text


class BalanceRepository(Protocol):
    async def lock_credits(self, customer_ids: Sequence[str]) -> dict[str, Money]:
        """The balances of those customers who hold credit, their rows locked (in id order,
        one statement) until the transaction ends, so no credit is applied twice."""
        ...

    async def add(self, transactions: Sequence[BalanceTransaction]) -> list[BalanceTransaction]:
        """Writes the transactions in order, in one statement; each moves its customer's
        balance. Answers them with their ending balances."""
        ...


class BalanceReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[BalanceTransaction | None]: ...

    async def by_customers(
        self, customer_ids: Sequence[str], limit: int
    ) -> list[list[BalanceTransaction]]:
        """Each customer's newest transactions (at most `limit`), in one statement."""
        ...
