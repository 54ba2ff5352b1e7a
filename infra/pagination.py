"""Keyset pagination: pages found by an index seek on (tenant_id, sort key, id), never OFFSET."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, tuple_
from sqlalchemy.sql import ColumnElement

from domain.queries import Keyset, PageRequest


def paginate(
    statement: Select[Any],
    sort_column: ColumnElement[Any],
    id_column: ColumnElement[Any],
    *,
    descending: bool,
    page: PageRequest,
) -> Select[Any]:
    """Adds the seek conditions, order and limit (one more row than asked, to see a next page)."""
    conditions = []
    if page.after is not None:
        conditions.append(_beyond(sort_column, id_column, page.after, forward=not descending))
    if page.before is not None:
        conditions.append(_beyond(sort_column, id_column, page.before, forward=descending))
    if conditions:
        statement = statement.where(and_(*conditions))
    ascending = descending == page.backwards
    order = (
        (sort_column.asc(), id_column.asc())
        if ascending
        else (sort_column.desc(), id_column.desc())
    )
    return statement.order_by(*order).limit(page.limit + 1)


def _beyond(
    sort_column: ColumnElement[Any], id_column: ColumnElement[Any], key: Keyset, *, forward: bool
) -> ColumnElement[bool]:
    if key.value is None:  # sort key is never null for our columns; kept strict
        raise ValueError("cursor without a sort value")
    row = tuple_(sort_column, id_column)
    return row > tuple_(key.value, key.id) if forward else row < tuple_(key.value, key.id)
