"""Many rows of a tenant table written by one INSERT whose rows travel as one JSON array.

orjson writes the array in C and PostgreSQL reads it with json_to_recordset, typed by the
table's own columns: one statement and one round trip whatever the number of rows, where
an executemany binds each row's values in Python (measured on the billing run: several
times the CPU). COPY would be faster still but PostgreSQL refuses COPY FROM into a table
under row-level security.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Table, TextClause, text
from sqlalchemy.dialects import postgresql

from infra import jsoncodec
from infra.db import TenantConnection

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


@cache
def _insert(table: Table, columns: tuple[str, ...], in_order: bool) -> TextClause:
    types = ", ".join(f"{name} {table.c[name].type.compile(dialect=_DIALECT)}" for name in columns)
    names = ", ".join(columns)
    rows = f"json_to_recordset(CAST(:rows AS json)) AS r ({types})"
    if in_order:
        # SQL promises no order to an INSERT's SELECT without ORDER BY; a sequence default
        # (an event's position) is drawn above the sort, in the order rows reach the insert.
        rows = (
            f"ROWS FROM (json_to_recordset(CAST(:rows AS json)) AS ({types}))"
            f" WITH ORDINALITY AS r ({names}, ordinal) ORDER BY ordinal"
        )
    return text(
        f"INSERT INTO {table.name} (tenant_id, {names}) SELECT :tenant_id, {names} FROM {rows}"
    )


async def insert_rows(
    db: TenantConnection, table: Table, rows: Sequence[dict[str, Any]], *, in_order: bool = False
) -> None:
    """Inserts `rows` (column name to value, the same columns in each, without the tenant)
    into the tenant's `table`, in their order here when `in_order` (what a sequence default
    then follows). Decimals travel as exact JSON numbers, datetimes as RFC 3339 with their
    offset."""
    if not rows:
        return
    statement = _insert(table, tuple(rows[0]), in_order)
    payload = jsoncodec.dumps(rows).decode()
    await db.execute(statement, {"tenant_id": db.tenant_id, "rows": payload})
