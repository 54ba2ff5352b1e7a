"""Customer balances: the ledger of a customer's balance. Types and inputs of the concept."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

import domain.balances as balances_domain
from auth.scopes import INVOICES_READ, requires
from resolvers import balances as balance_resolvers
from resolvers.errors import Outcome
from schema.errors import UserError, user_errors_from
from schema.fields import returning
from schema.money import Money
from schema.nodes import Node, node_from_domain

if TYPE_CHECKING:
    from schema.credit_notes import CreditNote
    from schema.customers import Customer
    from schema.invoices import Invoice

strawberry.enum(
    balances_domain.BalanceTransactionKind,
    name="CustomerBalanceTransactionKind",
    description="CREDIT_NOTE: a credit note credited the balance. ADJUSTMENT: changed by "
    "hand (`adjustCustomerBalance`). APPLIED_TO_INVOICE: credit used by an invoice at its "
    "finalization. UNAPPLIED_FROM_INVOICE: given back when that invoice was voided.",
)
CustomerBalanceTransactionKind = balances_domain.BalanceTransactionKind

CustomerRef = Annotated["Customer", strawberry.lazy("schema.customers")]
CreditNoteRef = Annotated["CreditNote", strawberry.lazy("schema.credit_notes")]
InvoiceRef = Annotated["Invoice", strawberry.lazy("schema.invoices")]


@strawberry.type(
    description="One change of a customer's balance. The balance is the sum of its "
    "transactions; none is ever changed or deleted. Amounts follow `Customer.balance`: "
    "negative credits the customer."
)
class CustomerBalanceTransaction(Node):
    customer_id: strawberry.ID = strawberry.field(description="The customer (`cus_…`).")
    kind: CustomerBalanceTransactionKind = strawberry.field(description="What moved it.")
    amount: Money = strawberry.field(
        description="How it moved the balance: negative credits the customer, positive uses "
        "or takes back credit."
    )
    ending_balance: Money = strawberry.field(description="The balance right after it.")
    description: str | None = strawberry.field(description="Why (adjustments).")
    credit_note_id: strawberry.ID | None = strawberry.field(
        description="The credit note (`cn_…`) of a CREDIT_NOTE transaction."
    )
    invoice_id: strawberry.ID | None = strawberry.field(
        description="The invoice (`inv_…`) the credit was applied to or given back from."
    )
    created_at: datetime = strawberry.field(description="When it was made.")
    customer: CustomerRef | None = strawberry.field(
        resolver=returning(node_from_domain, balance_resolvers.transaction_customer),
        description="The customer.",
    )
    credit_note: CreditNoteRef | None = strawberry.field(
        resolver=returning(node_from_domain, balance_resolvers.transaction_credit_note),
        description="The credit note, for a CREDIT_NOTE transaction.",
        permission_classes=[requires(INVOICES_READ)],
    )
    invoice: InvoiceRef | None = strawberry.field(
        resolver=returning(node_from_domain, balance_resolvers.transaction_invoice),
        description="The invoice, for APPLIED_TO_INVOICE and UNAPPLIED_FROM_INVOICE.",
        permission_classes=[requires(INVOICES_READ)],
    )

    @classmethod
    def from_domain(
        cls, transaction: balances_domain.BalanceTransaction
    ) -> CustomerBalanceTransaction:
        assert transaction.ending_balance is not None  # stamped when written
        return cls(
            id=strawberry.ID(transaction.id),
            customer_id=strawberry.ID(transaction.customer_id),
            kind=transaction.kind,
            amount=Money.from_domain(transaction.amount),
            ending_balance=Money.from_domain(transaction.ending_balance),
            description=transaction.description,
            credit_note_id=_id(transaction.credit_note_id),
            invoice_id=_id(transaction.invoice_id),
            created_at=transaction.created_at,
        )


def _id(value: str | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(value)


@strawberry.type(description="Result of `adjustCustomerBalance`.")
class AdjustCustomerBalancePayload:
    balance_transaction: CustomerBalanceTransaction | None = strawberry.field(
        description="The adjustment; null on errors. Its `customer` shows the new balance."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing changed (NOT_FOUND, ARCHIVED, INVALID, "
        "BALANCE_INSUFFICIENT); empty on success."
    )

    @classmethod
    def from_domain(
        cls, outcome: Outcome[balances_domain.BalanceTransaction]
    ) -> AdjustCustomerBalancePayload:
        return cls(
            balance_transaction=None
            if outcome.value is None
            else CustomerBalanceTransaction.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.input(
    description="Changes a customer's balance by hand, in their currency. Negative credits "
    "the customer (applied to their next invoices); positive takes credit back, never more "
    "than they hold."
)
class AdjustCustomerBalanceInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer (`cus_…`).")
    amount: Decimal = strawberry.field(
        description='Not zero, in the customer\'s currency: "-25.00" credits 25.00.'
    )
    description: str = strawberry.field(description="Why, 1 to 500 characters.")
