"""Planned reads of customers: the `customers` list and `node(id:)` of a customer.

One statement for the page (only the columns asked for) and one for `totalCount` when asked,
both under the request's tenant and row-level security, as the repository reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLObjectType
from sqlalchemy import bindparam
from sqlalchemy.engine import Dialect

from domain.customers import address_from_json
from domain.ids import prefix_of
from domain.money import Money as DomainMoney
from infra.db import ReadConnection
from infra.planned.kept import MADE_ANSWERS, MISSING
from infra.planned.lists import Compiled, ListOf, compiled_once, select_in_tenant
from infra.planned.selection import Arguments, NotPlannable, Selected
from infra.planned.walker import NO_ENV, Convert, Walker
from infra.repositories.metrics import METRICS_BY_CODES, metric_from_row
from infra.repositories.usage import quantities_from_rows, quantities_statement, window_parameters
from infra.tables import customers
from resolvers.usage import MeasuredUsage
from schema.customers import Address
from schema.money import Money
from schema.usage import Usage

# Response field → how its value comes from the row (columns, then the value the executor's
# scalar serializes to). Money and address are objects made from columns (_OBJECTS), usage
# is read after the page; other fields (events, tax ids, metadata) are left to the executor.
_COLUMNS: dict[str, tuple[tuple[str, ...], Callable[[Any], Any]]] = {
    "id": (("id",), lambda row: row["id"]),
    "name": (("name",), lambda row: row["name"]),
    "email": (("email",), lambda row: row["email"]),
    "currency": (("currency",), lambda row: row["currency"]),
    "externalId": (("external_id",), lambda row: row["external_id"]),
    "createdAt": (("created_at",), lambda row: row["created_at"].isoformat()),
    "updatedAt": (("updated_at",), lambda row: row["updated_at"].isoformat()),
    "archivedAt": (("archived_at",), lambda row: _iso(row["archived_at"])),
    "archived": (("archived_at",), lambda row: row["archived_at"] is not None),
    "taxExempt": (("tax_exempt",), lambda row: row["tax_exempt"]),  # the enum value's name
    "preferredLocale": (("preferred_locale",), lambda row: row["preferred_locale"]),
    "netTermsDays": (("net_terms_days",), lambda row: row["net_terms_days"]),
}


def _iso(value: Any) -> Any:
    return None if value is None else value.isoformat()


@dataclass
class ShapeTools:
    """What a node selection is compiled with beyond its columns: the node's schema type, a
    walker for the objects built from columns (money, address, a plan) or loaded, and how a
    field's own selection is collected (scopes checked)."""

    node_type: GraphQLObjectType
    walker: Walker
    dialect: Dialect
    nested: Callable[[Selected, set[str]], dict[str, Selected]]


@dataclass
class _Loaded:
    """`usage(metricCode:, from:, to:)` of every customer of a page, read in one batch with
    the repositories the executor's loader reads through."""

    key: str
    arguments: Arguments
    convert: Convert

    def bind(self, values: dict[str, Any]) -> tuple[str, datetime, datetime]:
        code, start, end = (
            self.arguments.value(name, values) for name in ("metricCode", "from", "to")
        )
        if not isinstance(code, str) or not isinstance(start, datetime):
            raise NotPlannable("usage arguments")
        if not isinstance(end, datetime) or end <= start:  # the executor words the error
            raise NotPlannable("usage window")
        return code, start, end


class CustomerShape:
    """How one Customer selection is filled from a row (and, for usage, from a batch read
    after the page)."""

    def __init__(self, fields: dict[str, Selected], tools: ShapeTools | None = None) -> None:
        self.keys: list[str] = list(fields)
        self.fillers: list[tuple[str, Callable[[Any], Any]]] = []
        self.objects: list[tuple[str, _Made, Convert]] = []
        self.loaded: list[_Loaded] = []
        self.columns: set[str] = set()
        self._dialect = None if tools is None else tools.dialect
        for key, selected in fields.items():
            if selected.name == "__typename":
                self.fillers.append((key, lambda _row: "Customer"))
                continue
            known = _COLUMNS.get(selected.name)
            if known is not None and not selected.arguments:
                columns, fill = known
                self.columns.update(columns)
                self.fillers.append((key, fill))
                continue
            built = _OBJECTS.get(selected.name)
            field = None if tools is None else tools.node_type.fields.get(selected.name)
            if tools is None or field is None:
                raise NotPlannable(f"Customer.{selected.name}")
            if built is not None and not selected.arguments:
                columns, key_of, make = built
                self.columns.update(columns)
                convert = tools.walker.output(field.type, selected)
                self.objects.append((key, (key_of, make), convert))
            elif selected.name == "usage":
                arguments = Arguments(selected, field.args)
                if set(field.args) - set(selected.arguments):
                    raise NotPlannable("usage argument left to its default")
                convert = tools.walker.output(field.type, selected)
                self.loaded.append(_Loaded(key, arguments, convert))
                self.columns.add("id")
            else:
                raise NotPlannable(f"Customer.{selected.name}")

    def bind(self, values: dict[str, Any]) -> list[tuple[str, datetime, datetime]]:
        return [loaded.bind(values) for loaded in self.loaded]

    async def load(
        self, db: ReadConnection, bound: list[tuple[str, datetime, datetime]], rows: list[Any]
    ) -> list[dict[str, Any]]:
        """Per usage field, customer id → the schema's Usage (None for an unknown metric), as
        the executor's loader answers, with the repositories' statements: one for the
        metrics, one per window."""
        if not bound or not rows:
            return [{} for _ in bound]
        ids = [row["id"] for row in rows]
        metrics_by_codes = self._compiled(METRICS_BY_CODES)
        codes = sorted({code for code, _, _ in bound})
        found_metrics = await db.fetch(
            metrics_by_codes.sql,
            *metrics_by_codes.args({"tenant": db.tenant_id, "codes": codes}),
        )
        metrics = {metric.code: metric for metric in map(metric_from_row, found_metrics)}
        found: list[dict[str, Any]] = []
        for field, (code, start, end) in zip(self.loaded, bound, strict=True):
            metric = metrics.get(code)
            if metric is None:  # every customer's usage is null
                found.append({})
                continue
            statement = self._compiled(quantities_statement(metric))
            parameters = window_parameters(db.tenant_id, ids, metric, start, end)
            measured = quantities_from_rows(
                await db.fetch(statement.sql, *statement.args(parameters))
            )
            # Customers of equal usage (most often none) share one answer, built once.
            shared: dict[tuple[Decimal, int], Any] = {}
            answer_of: dict[str, Any] = {}
            for customer_id in ids:
                quantity, count = measured.get(customer_id, (Decimal(0), 0))
                answer = shared.get((quantity, count))
                if answer is None:
                    usage = Usage.from_domain(MeasuredUsage(metric, quantity, count, start, end))
                    answer = shared[(quantity, count)] = await field.convert(usage, NO_ENV)
                answer_of[customer_id] = answer
            found.append(answer_of)
        return found

    def _compiled(self, statement: Any) -> Compiled:
        assert self._dialect is not None
        return compiled_once(statement, self._dialect)

    async def build(self, row: Any, loaded: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = dict.fromkeys(self.keys)
        for key, fill in self.fillers:
            answer[key] = fill(row)
        for key, (key_of, make), convert in self.objects:
            # The answer is a function of the columns it is made from: made once per value.
            kept = (self, key, key_of(row))
            made = MADE_ANSWERS.get(kept)
            if made is MISSING:
                made = await convert(make(row), NO_ENV)
                MADE_ANSWERS.put(kept, made)
            answer[key] = made
        for field, found in zip(self.loaded, loaded or (), strict=False):
            answer[field.key] = found.get(row["id"])
        return answer


# Response field → the columns it needs, a hashable key of their values, and the schema
# object they make, walked like the executor's answer (its type's own serializers and field
# resolvers).
_Made = tuple[Callable[[Any], Any], Callable[[Any], Any]]
_OBJECTS: dict[str, tuple[tuple[str, ...], Callable[[Any], Any], Callable[[Any], Any]]] = {
    "balance": (
        ("balance", "currency"),
        lambda row: (row["balance"], row["currency"]),
        lambda row: Money.from_domain(DomainMoney(row["balance"], row["currency"])),
    ),
    "address": (
        ("address",),
        lambda row: _frozen(row["address"]),
        lambda row: _address(row["address"]),
    ),
}


def _frozen(document: Any) -> Any:
    return None if document is None else tuple(sorted(document.items()))


def _address(stored: Any) -> Address | None:
    address = address_from_json(stored)
    return None if address is None else Address.from_domain(address)


@dataclass
class CustomerById:
    """`node(id:)` when the id is a customer's."""

    shape: CustomerShape
    statement: Compiled

    @classmethod
    def plan(cls, shape: CustomerShape, dialect: Dialect) -> CustomerById:
        statement = select_in_tenant(customers, shape.columns | {"id"}).where(
            customers.c.id == bindparam("id")
        )
        return cls(shape, Compiled.of(statement, dialect))

    def bind(self, node_id: Any) -> Callable[[ReadConnection], Any]:
        if not isinstance(node_id, str) or prefix_of(node_id) != "cus":
            raise NotPlannable("not a customer id")

        async def run(db: ReadConnection) -> Any:
            rows = await db.fetch(
                self.statement.sql, *self.statement.args({"tenant": db.tenant_id, "id": node_id})
            )
            return await self.shape.build(rows[0]) if rows else None

        return run


def customer_list(tools: ShapeTools) -> ListOf:
    """`customers(first:, after:)`: its nodes filled from columns (and usage)."""
    return ListOf(
        customers,
        "CustomerConnection",
        "CustomerEdge",
        frozenset({"Customer", "Node"}),
        lambda selected: CustomerShape(tools.nested(selected, {"Customer", "Node"}), tools),
    )
