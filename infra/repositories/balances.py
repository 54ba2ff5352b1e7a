"""Customer balance transactions in PostgreSQL (domain.balances' ports).

The ledger is append-only; each insert moves `customers.balance` by a trigger that also
stamps the transaction's ending balance (migration 0014), so the cached balance and the sum
of the ledger cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select

from domain.balances import BalanceTransaction, BalanceTransactionKind
from domain.money import Money
from infra.db import TenantConnection
from infra.tables import customer_balance_transactions as ledger
from infra.tables import customers


def balance_transaction_from_row(row: Any) -> BalanceTransaction:
    currency = row.currency
    return BalanceTransaction(
        id=row.id,
        customer_id=row.customer_id,
        kind=BalanceTransactionKind(row.kind),
        amount=Money(row.amount, currency),
        ending_balance=Money(row.ending_balance, currency),
        description=row.description,
        credit_note_id=row.credit_note_id,
        invoice_id=row.invoice_id,
        created_at=row.created_at,
    )


class SqlBalanceRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def lock_credits(self, customer_ids: Sequence[str]) -> dict[str, Money]:
        if not customer_ids:
            return {}
        # Id order: two transactions locking overlapping customers cannot deadlock. A row
        # whose credit another transaction used up meanwhile is read again under the lock
        # and drops out of `balance < 0`.
        statement = (
            select(customers.c.id, customers.c.balance, customers.c.currency)
            .where(
                customers.c.tenant_id == self._db.tenant_id,
                customers.c.id.in_(sorted(set(customer_ids))),
                customers.c.balance < 0,
            )
            .order_by(customers.c.id)
            .with_for_update()
        )
        return {
            row.id: Money(row.balance, row.currency.strip())
            for row in await self._db.execute(statement)
        }

    async def add(self, transactions: Sequence[BalanceTransaction]) -> list[BalanceTransaction]:
        if not transactions:
            return []
        statement = (
            insert(ledger)
            .values(
                [
                    {
                        "tenant_id": self._db.tenant_id,
                        "id": t.id,
                        "customer_id": t.customer_id,
                        "kind": t.kind.value,
                        "amount": t.amount.minor_units,
                        "currency": t.amount.currency,
                        "ending_balance": 0,  # the trigger sets it
                        "description": t.description,
                        "credit_note_id": t.credit_note_id,
                        "invoice_id": t.invoice_id,
                        "created_at": t.created_at,
                    }
                    for t in transactions
                ]
            )
            .returning(*ledger.c)
        )
        written = {
            row.id: balance_transaction_from_row(row) for row in await self._db.execute(statement)
        }
        return [written[t.id] for t in transactions]


class SqlBalanceReads:
    """The read path's balance transactions (domain.balances.BalanceReads), in the
    request's tenant: one statement per call."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[BalanceTransaction | None]:
        statement = select(ledger).where(
            ledger.c.tenant_id == self._db.tenant_id, ledger.c.id.in_(list(ids))
        )
        found = {
            row.id: balance_transaction_from_row(row) for row in await self._db.execute(statement)
        }
        return [found.get(transaction_id) for transaction_id in ids]

    async def by_customers(
        self, customer_ids: Sequence[str], limit: int
    ) -> list[list[BalanceTransaction]]:
        rank = (
            func.row_number()
            .over(
                partition_by=ledger.c.customer_id,
                order_by=ledger.c.position.desc(),
            )
            .label("rank")
        )
        ranked = (
            select(*ledger.c, rank)
            .where(
                ledger.c.tenant_id == self._db.tenant_id,
                ledger.c.customer_id.in_(list(customer_ids)),
            )
            .subquery()
        )
        statement = (
            select(ranked)
            .where(ranked.c.rank <= limit)
            .order_by(ranked.c.customer_id, ranked.c.rank)
        )
        grouped: dict[str, list[BalanceTransaction]] = {c: [] for c in customer_ids}
        for row in await self._db.execute(statement):
            grouped[row.customer_id].append(balance_transaction_from_row(row))
        return [grouped[customer_id] for customer_id in customer_ids]
