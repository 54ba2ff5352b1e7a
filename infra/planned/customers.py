"""Planned reads of customers: the `customers` list and `node(id:)` of a customer.

One statement for the page (only the columns asked for) and one for `totalCount` when asked,
both under the request's tenant and row-level security, as the repository reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, bindparam, func, select, tuple_
from sqlalchemy.engine import Dialect

from domain.ids import prefix_of
from domain.queries import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from infra.db import ReadConnection
from infra.planned.selection import NotPlannable, Selected
from infra.tables import customers
from resolvers.pagination import decode_cursor, encode_cursor

SORT = "created_at"
# Response field → how its value comes from the row (columns, then the value the executor's
# scalar serializes to). Fields needing more than a column (money, address, events) are
# left to the executor.
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
}


def _iso(value: Any) -> Any:
    return None if value is None else value.isoformat()


class CustomerShape:
    """How one Customer selection is filled from a row."""

    def __init__(self, fields: dict[str, Selected]) -> None:
        self.fillers: list[tuple[str, Callable[[Any], Any]]] = []
        self.columns: set[str] = set()
        for key, selected in fields.items():
            if selected.name == "__typename":
                self.fillers.append((key, lambda _row: "Customer"))
                continue
            known = _COLUMNS.get(selected.name)
            if known is None or selected.arguments:
                raise NotPlannable(f"Customer.{selected.name}")
            columns, fill = known
            self.columns.update(columns)
            self.fillers.append((key, fill))

    def build(self, row: Any) -> dict[str, Any]:
        return {key: fill(row) for key, fill in self.fillers}


def _select(columns: set[str]) -> Any:
    # Columns in table order, so two plans asking the same fields share a statement text.
    return select(*(c for c in customers.c if c.name in columns)).where(
        customers.c.tenant_id == bindparam("tenant")
    )


@dataclass
class Compiled:
    sql: str
    names: list[str]

    @classmethod
    def of(cls, statement: Any, dialect: Dialect) -> Compiled:
        compiled = statement.compile(dialect=dialect)
        return cls(compiled.string, list(compiled.positiontup or ()))

    def args(self, values: dict[str, Any]) -> list[Any]:
        return [values[name] for name in self.names]


@dataclass
class CustomerById:
    """`node(id:)` when the id is a customer's."""

    shape: CustomerShape
    statement: Compiled

    @classmethod
    def plan(cls, shape: CustomerShape, dialect: Dialect) -> CustomerById:
        statement = _select(shape.columns | {"id"}).where(customers.c.id == bindparam("id"))
        return cls(shape, Compiled.of(statement, dialect))

    def bind(self, node_id: Any) -> Callable[[ReadConnection], Any]:
        if not isinstance(node_id, str) or prefix_of(node_id) != "cus":
            raise NotPlannable("not a customer id")

        async def run(db: ReadConnection) -> Any:
            rows = await db.fetch(
                self.statement.sql, *self.statement.args({"tenant": db.tenant_id, "id": node_id})
            )
            return self.shape.build(rows[0]) if rows else None

        return run


@dataclass
class CustomerList:
    """`customers(first:, after:)` in the default order, newest first."""

    top: list[tuple[str, str, Any]]  # response key, what, its shape
    columns: set[str]
    first_page: Compiled
    next_page: Compiled
    count: Compiled

    @classmethod
    def plan(cls, fields: dict[str, Selected], nested: Any, dialect: Dialect) -> CustomerList:
        """`nested(selected, type_names)` collects a field's own selection."""
        top: list[tuple[str, str, Any]] = []
        columns: set[str] = set()
        for key, selected in fields.items():
            if selected.name == "__typename":
                top.append((key, "typename", "CustomerConnection"))
            elif selected.name == "totalCount":
                top.append((key, "count", None))
            elif selected.name == "pageInfo":
                info = [(k, s.name) for k, s in nested(selected, {"PageInfo"}).items()]
                if any(name.endswith("Cursor") for _, name in info):
                    columns |= {"id", SORT}
                top.append((key, "pageInfo", info))
            elif selected.name == "edges":
                edge: list[tuple[str, str, Any]] = []
                for k, s in nested(selected, {"CustomerEdge"}).items():
                    if s.name == "node":
                        shape = CustomerShape(nested(s, {"Customer", "Node"}))
                        columns |= shape.columns
                        edge.append((k, "node", shape))
                    elif s.name == "cursor":
                        columns |= {"id", SORT}
                        edge.append((k, "cursor", None))
                    elif s.name == "__typename":
                        edge.append((k, "typename", "CustomerEdge"))
                    else:
                        raise NotPlannable(f"CustomerEdge.{s.name}")
                top.append((key, "edges", edge))
            else:
                raise NotPlannable(f"CustomerConnection.{selected.name}")
        columns = columns or {"id"}
        page = _select(columns)
        seek = tuple_(customers.c.created_at, customers.c.id) < tuple_(
            bindparam("after_value", type_=customers.c.created_at.type),
            bindparam("after_id", type_=customers.c.id.type),
        )
        order = (customers.c.created_at.desc(), customers.c.id.desc())
        limit: BindParameter[int] = bindparam("limit")
        count = select(func.count()).where(customers.c.tenant_id == bindparam("tenant"))
        return cls(
            top,
            columns,
            Compiled.of(page.order_by(*order).limit(limit), dialect),
            Compiled.of(page.where(seek).order_by(*order).limit(limit), dialect),
            Compiled.of(count, dialect),
        )

    def bind(self, first: Any, after: Any) -> Callable[[ReadConnection], Any]:
        size = DEFAULT_PAGE_SIZE if first is None else first
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_PAGE_SIZE:
            raise NotPlannable("page size")
        if after is not None and not isinstance(after, str):
            raise NotPlannable("cursor")
        try:
            keyset = decode_cursor(after, SORT, is_datetime=True) if after else None
        except Exception:  # the executor words the error
            raise NotPlannable("cursor") from None

        async def run(db: ReadConnection) -> Any:
            values = {"tenant": db.tenant_id, "limit": size + 1}
            statement = self.first_page
            if keyset is not None:
                statement = self.next_page
                values |= {"after_value": keyset.value, "after_id": keyset.id}
            rows = []
            if any(what in ("edges", "pageInfo") for _, what, _ in self.top):
                rows = await db.fetch(statement.sql, *statement.args(values))
            return await self._answer(db, rows, size, after_given=keyset is not None)

        return run

    async def _answer(
        self, db: ReadConnection, rows: list[Any], size: int, *, after_given: bool
    ) -> dict[str, Any]:
        more = len(rows) > size
        rows = rows[:size]
        cursors = (
            [encode_cursor(SORT, row[SORT], row["id"]) for row in rows]
            if SORT in self.columns
            else []
        )
        answer: dict[str, Any] = {}
        for key, what, shape in self.top:
            if what == "typename":
                answer[key] = shape
            elif what == "count":
                count = self.count
                answer[key] = int(
                    await db.fetchval(count.sql, *count.args({"tenant": db.tenant_id}))
                )
            elif what == "pageInfo":
                answer[key] = _page_info(shape, cursors, more=more, after_given=after_given)
            else:
                answer[key] = [_edge(shape, row, cursors, i) for i, row in enumerate(rows)]
        return answer


def _edge(shape: list[tuple[str, str, Any]], row: Any, cursors: list[str], i: int) -> Any:
    edge: dict[str, Any] = {}
    for key, what, node in shape:
        if what == "node":
            edge[key] = node.build(row)
        elif what == "cursor":
            edge[key] = cursors[i]
        else:
            edge[key] = node
    return edge


def _page_info(
    fields: list[tuple[str, str]], cursors: list[str], *, more: bool, after_given: bool
) -> dict[str, Any]:
    values = {
        "hasNextPage": more,
        "hasPreviousPage": after_given,
        "startCursor": cursors[0] if cursors else None,
        "endCursor": cursors[-1] if cursors else None,
        "__typename": "PageInfo",
    }
    return {key: values[name] for key, name in fields}
