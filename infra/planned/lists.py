"""Planned keyset lists: `customers(first:, after:)`, `plans(first:, after:)`.

One statement for the page (only the columns its nodes need) and one for `totalCount` when
asked, both under the request's tenant and row-level security, in the default order (newest
first) with the executor's cursors; what a node shape reads after the page (a customer's
usage) is read for every row of it at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import BindParameter, Table, bindparam, func, literal_column, select, tuple_
from sqlalchemy.engine import Dialect

from domain.queries import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from infra.db import ReadConnection
from infra.planned.selection import NotPlannable, Selected
from resolvers.pagination import decode_cursor, encode_cursor

SORT = "created_at"


@dataclass
class Compiled:
    sql: str
    names: list[str]
    # Values a statement carries itself (a JSON key, a constant), by parameter name.
    defaults: dict[str, Any]

    @classmethod
    def of(cls, statement: Any, dialect: Dialect) -> Compiled:
        compiled = statement.compile(dialect=dialect)
        return cls(compiled.string, list(compiled.positiontup or ()), dict(compiled.params))

    def args(self, values: dict[str, Any]) -> list[Any]:
        return [values[name] if name in values else self.defaults[name] for name in self.names]


_COMPILED: dict[Any, Compiled] = {}


def compiled_once(statement: Any, dialect: Dialect) -> Compiled:
    """A statement the repositories build once per shape (lru_cache), compiled once."""
    compiled = _COMPILED.get(statement)
    if compiled is None:
        if len(_COMPILED) > 512:  # shapes the repositories' caches let go of
            _COMPILED.clear()
        compiled = _COMPILED[statement] = Compiled.of(statement, dialect)
    return compiled


def select_in_tenant(table: Table, columns: set[str]) -> Any:
    # Columns in table order, so two plans asking the same fields share a statement text.
    return select(*(c for c in table.c if c.name in columns)).where(
        table.c.tenant_id == bindparam("tenant")
    )


class NodeShape(Protocol):
    """How a list's node selection is filled from its row (and what it reads after the
    page, for all the page's rows at once)."""

    columns: set[str]

    @property
    def loaded(self) -> Sequence[Any]: ...

    def bind(self, values: dict[str, Any]) -> Any: ...

    async def load(self, db: ReadConnection, bound: Any, rows: list[Any]) -> Any: ...

    async def build(self, row: Any, loaded: Any = None) -> Any: ...


@dataclass(frozen=True)
class ListOf:
    """A keyset-paginated list in its default order, newest first: its table, its
    connection's type names, and how a node selection becomes a shape."""

    table: Table
    connection: str
    edge: str
    node: frozenset[str]
    shape: Callable[[Selected], NodeShape]


@dataclass
class KeysetList:
    """`<list>(first:, after:)` in the default order, newest first."""

    top: list[tuple[str, str, Any]]  # response key, what, its shape
    columns: set[str]
    first_page: Compiled
    next_page: Compiled
    count: Compiled
    cursors: bool  # whether the selection shows any cursor

    @classmethod
    def plan(
        cls, of: ListOf, fields: dict[str, Selected], nested: Any, dialect: Dialect
    ) -> KeysetList:
        """`nested(selected, type_names)` collects a field's own selection."""
        table = of.table
        top: list[tuple[str, str, Any]] = []
        columns: set[str] = set()
        cursors = False
        for key, selected in fields.items():
            if selected.name == "__typename":
                top.append((key, "typename", of.connection))
            elif selected.name == "totalCount":
                top.append((key, "count", None))
            elif selected.name == "pageInfo":
                info = [(k, s.name) for k, s in nested(selected, {"PageInfo"}).items()]
                if any(name.endswith("Cursor") for _, name in info):
                    columns |= {"id", SORT}
                    cursors = True
                top.append((key, "pageInfo", info))
            elif selected.name == "edges":
                edge: list[tuple[str, str, Any]] = []
                for k, s in nested(selected, {of.edge}).items():
                    if s.name == "node":
                        shape = of.shape(s)
                        columns |= shape.columns
                        edge.append((k, "node", shape))
                    elif s.name == "cursor":
                        columns |= {"id", SORT}
                        cursors = True
                        edge.append((k, "cursor", None))
                    elif s.name == "__typename":
                        edge.append((k, "typename", of.edge))
                    else:
                        raise NotPlannable(f"{of.edge}.{s.name}")
                top.append((key, "edges", edge))
            else:
                raise NotPlannable(f"{of.connection}.{selected.name}")
        columns = columns or {"id"}
        page = select_in_tenant(table, columns)
        # Values a shape reads beside its table's columns (a plan's prices from their own
        # table), by name: two node selections of one list share them.
        computed = {
            column.name: column
            for _, shape in _shapes(top)
            for column in getattr(shape, "computed", ())
        }
        page = page.add_columns(*computed.values())
        if any(getattr(shape, "row_version", False) for _, shape in _shapes(top)):
            # The row version's transaction id (a new one with every UPDATE): what a shape
            # keeps its answers by (PlanShape).
            page = page.add_columns(literal_column("xmin::text").label("row_version"))
        seek = tuple_(table.c.created_at, table.c.id) < tuple_(
            bindparam("after_value", type_=table.c.created_at.type),
            bindparam("after_id", type_=table.c.id.type),
        )
        order = (table.c.created_at.desc(), table.c.id.desc())
        limit: BindParameter[int] = bindparam("limit")
        count = select(func.count()).where(table.c.tenant_id == bindparam("tenant"))
        return cls(
            top,
            columns,
            Compiled.of(page.order_by(*order).limit(limit), dialect),
            Compiled.of(page.where(seek).order_by(*order).limit(limit), dialect),
            Compiled.of(count, dialect),
            cursors,
        )

    def bind(
        self, first: Any, after: Any, values: dict[str, Any] | None = None
    ) -> Callable[[Any], Any]:
        size = DEFAULT_PAGE_SIZE if first is None else first
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_PAGE_SIZE:
            raise NotPlannable("page size")
        if after is not None and not isinstance(after, str):
            raise NotPlannable("cursor")
        try:
            keyset = decode_cursor(after, SORT, is_datetime=True) if after else None
        except Exception:  # the executor words the error
            raise NotPlannable("cursor") from None
        bound = {id(shape): shape.bind(values or {}) for _, shape in _shapes(self.top)}

        async def run(db: Any) -> Any:
            values = {"tenant": db.tenant_id, "limit": size + 1}
            statement = self.first_page
            if keyset is not None:
                statement = self.next_page
                values |= {"after_value": keyset.value, "after_id": keyset.id}
            rows = []
            if any(what in ("edges", "pageInfo") for _, what, _ in self.top):
                rows = await db.fetch(statement.sql, *statement.args(values))
            return await self._answer(db, rows, size, bound, after_given=keyset is not None)

        return run

    async def _answer(
        self,
        db: Any,
        rows: list[Any],
        size: int,
        bound: dict[int, Any],
        *,
        after_given: bool,
    ) -> dict[str, Any]:
        more = len(rows) > size
        rows = rows[:size]
        cursors = (
            [encode_cursor(SORT, row[SORT], row["id"]) for row in rows] if self.cursors else []
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
                answer[key] = await _edges(db, shape, rows, cursors, bound)
        return answer


def _shapes(top: list[tuple[str, str, Any]]) -> list[tuple[str, NodeShape]]:
    return [
        (k, node)
        for _, what, edge in top
        if what == "edges"
        for k, kind, node in edge
        if kind == "node"
    ]


async def _edges(
    db: Any,
    shape: list[tuple[str, str, Any]],
    rows: list[Any],
    cursors: list[str],
    bound: dict[int, Any],
) -> list[dict[str, Any]]:
    loaded = {
        id(node): await node.load(db, bound[id(node)], rows)
        for _, what, node in shape
        if what == "node" and node.loaded
    }
    edges = []
    for i, row in enumerate(rows):
        edge: dict[str, Any] = {}
        for key, what, node in shape:
            if what == "node":
                edge[key] = await node.build(row, loaded.get(id(node)))
            elif what == "cursor":
                edge[key] = cursors[i]
            else:
                edge[key] = node
        edges.append(edge)
    return edges


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
