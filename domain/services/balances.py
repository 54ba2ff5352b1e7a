"""Customer balances: manual adjustments, and credit applied to invoices as they are
finalized (or given back when one is voided)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from domain.balances import BalanceTransaction, BalanceTransactionKind, adjustment, credit_to_apply
from domain.errors import DomainError, ErrorCode, FieldError, NotFound
from domain.ids import new_id, prefix_of
from domain.invoices import Invoice, settled
from domain.ports import UnitOfWork

CUSTOMER_FIELD = ("input", "customerId")


async def adjust_customer_balance(
    uow: UnitOfWork, customer_id: str, amount: Decimal, description: str | None, now: datetime
) -> BalanceTransaction:
    """Credits (negative amount) or takes back credit (positive) from a customer's balance,
    in their currency, with the reason recorded."""
    async with uow:
        # The customer's row lock orders balance changes: the balance read here is the one
        # the adjustment moves.
        customer = None
        if prefix_of(customer_id) == "cus":
            customer = await uow.customers.get(customer_id, for_update=True)
        if customer is None:
            raise NotFound(CUSTOMER_FIELD, "Customer")
        if customer.archived:
            raise DomainError(
                [FieldError(ErrorCode.ARCHIVED, CUSTOMER_FIELD, "The customer is archived.")]
            )
        money, text = adjustment(amount, description, customer.balance)
        [written] = await uow.balances.add(
            [
                BalanceTransaction(
                    id=new_id("cbtxn"),
                    customer_id=customer.id,
                    kind=BalanceTransactionKind.ADJUSTMENT,
                    amount=money,
                    description=text,
                    created_at=now,
                )
            ]
        )
        await uow.commit()
    return written


async def apply_balances(
    uow: UnitOfWork, invoices: Sequence[Invoice], now: datetime
) -> list[Invoice]:
    """The invoices being finalized with their customers' credit applied to what they owe,
    in order (a customer's credit goes to their first invoices first); one fully covered is
    PAID. One statement locks the customers holding credit, one writes the applications:
    a billing run's batch pays two statements, whatever its size."""
    owing = [invoice.customer_id for invoice in invoices if invoice.amount_due.minor_units > 0]
    credits = await uow.balances.lock_credits(owing)
    if not credits:
        return list(invoices)
    applied: list[Invoice] = []
    transactions: list[BalanceTransaction] = []
    for invoice in invoices:
        balance = credits.get(invoice.customer_id)
        if balance is None or balance.currency != invoice.currency:
            applied.append(invoice)
            continue
        amount = credit_to_apply(balance, invoice.amount_due)
        if amount.is_zero():
            applied.append(invoice)
            continue
        credits[invoice.customer_id] = balance + amount
        applied.append(settled(replace(invoice, balance_applied=amount), now))
        transactions.append(
            BalanceTransaction(
                id=new_id("cbtxn"),
                customer_id=invoice.customer_id,
                kind=BalanceTransactionKind.APPLIED_TO_INVOICE,
                amount=amount,
                invoice_id=invoice.id,
                created_at=now,
            )
        )
    await uow.balances.add(transactions)
    return applied


async def give_back_balance(uow: UnitOfWork, invoice: Invoice, now: datetime) -> None:
    """The credit a voided invoice had taken goes back to its customer's balance."""
    if invoice.balance_applied.is_zero():
        return
    await uow.balances.add(
        [
            BalanceTransaction(
                id=new_id("cbtxn"),
                customer_id=invoice.customer_id,
                kind=BalanceTransactionKind.UNAPPLIED_FROM_INVOICE,
                amount=-invoice.balance_applied,
                invoice_id=invoice.id,
                created_at=now,
            )
        ]
    )
