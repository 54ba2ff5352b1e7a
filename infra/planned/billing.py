"""Planned reads of billing lists: `invoices`, `subscriptions`, `coupons`, `taxRates`,
`creditNotes` (`first:`, `after:` only).

A node is the schema's own type made from its row as the executor makes it (the
repository's `…_from_row`, then the type's `from_domain`) and walked along the selection,
so every amount is the Money the executor shows, from the row's minor units and currency.
The page statement reads the columns those constructors read (an invoice's, bar the
generated `amount_due`; a subscription's with its price ids, gathered by the repository's
own subquery). The walk runs without the request's context: a selection reaching a link
through a loader (an invoice's `lines`, `customer`, `subscription`, `creditNotes`; a
subscription's `customer`, `plan`, `invoices`; a credit note's `invoice`, `customer`) is
not planned column by column, and its root is answered by its own resolver, walked with
the context (planner.py), its loaders batching as under the executor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from graphql import GraphQLNonNull
from sqlalchemy import Column, Table

from infra.db import ReadConnection
from infra.planned.customers import ShapeTools
from infra.planned.lists import ListOf
from infra.planned.selection import Selected
from infra.planned.walker import NO_ENV
from infra.repositories.coupons import coupon_from_row
from infra.repositories.credit_notes import credit_note_from_row
from infra.repositories.invoices import INVOICE_COLUMNS, invoice_from_row
from infra.repositories.subscriptions import PRICE_IDS, subscription_from_row
from infra.repositories.tax_rates import tax_rate_from_row
from infra.tables import coupons, credit_notes, invoices, subscriptions, tax_rates
from schema.coupons import Coupon
from schema.credit_notes import CreditNote
from schema.invoices import Invoice
from schema.subscriptions import Subscription
from schema.tax_rates import TaxRate


class MadeFromRow:
    """A node selection filled by making the schema's object from the row and walking it."""

    loaded: Sequence[Any] = ()

    def __init__(
        self,
        selected: Selected,
        tools: ShapeTools,
        columns: Sequence[Column[Any]],
        computed: Sequence[Any],
        make: Callable[[Any], Any],
    ) -> None:
        self.columns = {column.name for column in columns}
        self.computed = tuple(computed)
        self._make = make
        # NotPlannable here, at compile time, for what the walk cannot answer from the row.
        self._convert = tools.walker.output(GraphQLNonNull(tools.node_type), selected)

    def bind(self, values: dict[str, Any]) -> Any:
        return []

    async def load(self, db: ReadConnection, bound: Any, rows: list[Any]) -> Any:
        return []

    async def build(self, row: Any, loaded: Any = None) -> Any:
        return await self._convert(self._make(row), NO_ENV)


def _made_list(
    table: Table,
    type_name: str,
    columns: Sequence[Column[Any]],
    make: Callable[[Any], Any],
    computed: Sequence[Any] = (),
) -> Callable[[ShapeTools], ListOf]:
    def of(tools: ShapeTools) -> ListOf:
        return ListOf(
            table,
            f"{type_name}Connection",
            f"{type_name}Edge",
            frozenset({type_name, "Node"}),
            lambda selected: MadeFromRow(selected, tools, columns, computed, make),
        )

    return of


invoice_list = _made_list(
    invoices, "Invoice", INVOICE_COLUMNS, lambda row: Invoice.from_domain(invoice_from_row(row))
)
subscription_list = _made_list(
    subscriptions,
    "Subscription",
    tuple(subscriptions.c),
    lambda row: Subscription.from_domain(subscription_from_row(row)),
    (PRICE_IDS,),
)
coupon_list = _made_list(
    coupons, "Coupon", tuple(coupons.c), lambda row: Coupon.from_domain(coupon_from_row(row))
)
tax_rate_list = _made_list(
    tax_rates,
    "TaxRate",
    tuple(tax_rates.c),
    lambda row: TaxRate.from_domain(tax_rate_from_row(row)),
)
credit_note_list = _made_list(
    credit_notes,
    "CreditNote",
    tuple(credit_notes.c),
    lambda row: CreditNote.from_domain(credit_note_from_row(row)),
)
