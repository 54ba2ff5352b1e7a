"""Customer balances: a customer's balance transactions, their links, adjustCustomerBalance."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from aiodataloader import DataLoader

from domain.balances import LISTED_PER_CUSTOMER, BalanceReads, BalanceTransaction
from domain.credit_notes import CreditNote
from domain.customers import Customer
from domain.errors import DomainError
from domain.invoices import Invoice
from domain.services import balances as services
from resolvers.errors import Outcome, done, refused

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.balances import AdjustCustomerBalanceInput
    from schema.balances import CustomerBalanceTransaction as TransactionType
    from schema.customers import Customer as CustomerType
else:
    AdjustCustomerBalanceInput = strawberry.LazyType(
        "AdjustCustomerBalanceInput", "schema.balances"
    )


class BalanceTransactionsByCustomerLoader(DataLoader):  # type: ignore[type-arg]
    """A customer's newest balance transactions, keyed by (customer id, limit): one
    statement per batch of the same limit."""

    def __init__(self, reads: BalanceReads) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, keys: list[tuple[str, int]]) -> list[list[BalanceTransaction]]:
        by_limit: dict[int, list[str]] = {}
        for customer_id, limit in keys:
            by_limit.setdefault(limit, []).append(customer_id)
        found: dict[tuple[str, int], list[BalanceTransaction]] = {}
        for limit, customer_ids in by_limit.items():
            unique = list(dict.fromkeys(customer_ids))
            for customer_id, transactions in zip(
                unique, await self._reads.by_customers(unique, limit), strict=True
            ):
                found[(customer_id, limit)] = transactions
        return [found[key] for key in keys]


async def customer_balance_transactions(
    root: CustomerType, info: strawberry.Info[Context], first: int = 10
) -> list[BalanceTransaction]:
    limit = max(1, min(first, LISTED_PER_CUSTOMER))
    found: list[
        BalanceTransaction
    ] = await info.context.loaders.balance_transactions_by_customer.load((str(root.id), limit))
    return found


async def transaction_customer(
    root: TransactionType, info: strawberry.Info[Context]
) -> Customer | None:
    found: Customer | None = await info.context.loaders.by_id("cus").load(str(root.customer_id))
    return found


async def transaction_credit_note(
    root: TransactionType, info: strawberry.Info[Context]
) -> CreditNote | None:
    if root.credit_note_id is None:
        return None
    found: CreditNote | None = await info.context.loaders.by_id("cn").load(str(root.credit_note_id))
    return found


async def transaction_invoice(
    root: TransactionType, info: strawberry.Info[Context]
) -> Invoice | None:
    if root.invoice_id is None:
        return None
    found: Invoice | None = await info.context.loaders.by_id("inv").load(str(root.invoice_id))
    return found


async def adjust_customer_balance(
    info: strawberry.Info[Context], input: AdjustCustomerBalanceInput
) -> Outcome[BalanceTransaction]:
    try:
        written = await services.adjust_customer_balance(
            info.context.uow(),
            str(input.customer_id),
            input.amount,
            input.description,
            info.context.clock.now(),
        )
    except DomainError as error:
        return refused(error)
    loaders = info.context.loaders
    loaders.by_id("cus").clear(written.customer_id)
    loaders.by_id("cbtxn").prime(written.id, written)
    loaders.balance_transactions_by_customer.clear_all()
    return done(written)
