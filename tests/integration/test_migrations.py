"""Migrations: a fresh database upgrades to head and back down; production refuses to serve
a database that is not at head; infra/tables.py states the tables the migrations create."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Connection, MetaData, inspect

from infra.db import create_engine
from infra.migrate import (
    SchemaOutOfDate,
    alembic_config,
    current_revision,
    head_revision,
    require_current_schema,
    upgrade_async,
)
from infra.tables import metadata


@pytest.fixture
async def empty_database(pg_server: tuple[str, Any]) -> AsyncIterator[str]:
    server_url, _ = pg_server
    name = "ledgerline_migrations_" + secrets.token_hex(4)
    plain = server_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    admin = await asyncpg.connect(plain)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    yield urlunsplit(urlsplit(server_url)._replace(path="/" + name))
    admin = await asyncpg.connect(plain)
    try:
        await admin.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await admin.close()


async def test_an_unmigrated_database_is_refused_until_migrated(empty_database: str) -> None:
    # given a database never migrated
    engine = create_engine(empty_database, pool_size=1, app_role=False)
    try:
        assert await current_revision(engine) is None
        # then serving it in production is refused, naming the command that fixes it
        with pytest.raises(SchemaOutOfDate, match="ledgerline migrate"):
            await require_current_schema(engine)
        # when it is migrated
        await upgrade_async(empty_database)
        # then it is at head and accepted, also by the role the application runs as
        assert await current_revision(engine) == head_revision()
        await require_current_schema(engine)
        app_engine = create_engine(empty_database, pool_size=1)
        try:
            await require_current_schema(app_engine)
        finally:
            await app_engine.dispose()
    finally:
        await engine.dispose()


async def test_migrations_go_down_to_nothing_and_up_again(empty_database: str) -> None:
    # given a migrated database
    await upgrade_async(empty_database)
    config = alembic_config(empty_database)
    # when it is downgraded to base and upgraded again
    await asyncio.to_thread(command.downgrade, config, "base")
    engine = create_engine(empty_database, pool_size=1, app_role=False)
    try:
        assert await current_revision(engine) is None
        await upgrade_async(empty_database)
        # then it is at head with its tables
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


# What a migrated database has and infra/tables.py need not state (its docstring says why):
# indexes, unique constraints and foreign keys. Check constraints, row-level security
# policies, grants and roles never show up here: alembic's comparison does not look at them.
# Everything tables.py does state (tables, columns, types, nullability, defaults, primary
# keys) must be in the database as stated.
_STATED_IN_MIGRATIONS_ONLY = {"remove_index", "remove_constraint", "remove_fk"}


def _differences(connection: Connection, tables: MetaData) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    differences = []
    for difference in compare_metadata(context, tables):
        # Column changes come as a list of operations per column, the others as one tuple.
        operations = difference if isinstance(difference, list) else [difference]
        differences += [op for op in operations if op[0] not in _STATED_IN_MIGRATIONS_ONLY]
    # alembic does not compare primary keys; statements rely on them (ON CONFLICT, locks)
    inspector = inspect(connection)
    for table in tables.sorted_tables:
        migrated = inspector.get_pk_constraint(table.name)["constrained_columns"]
        stated = [column.name for column in table.primary_key.columns]
        if migrated != stated:
            differences.append(("primary_key", table.name, migrated, stated))
    return differences


async def _differences_after_migrating(url: str, tables: MetaData) -> list[Any]:
    await upgrade_async(url)
    engine = create_engine(url, pool_size=1, app_role=False)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_differences, tables)
    finally:
        await engine.dispose()


async def test_tables_py_states_the_tables_the_migrations_create(empty_database: str) -> None:
    # given a database migrated from nothing to head
    # when its tables are compared with infra/tables.py's
    differences = await _differences_after_migrating(empty_database, metadata)
    # then every table, column, type, nullability, default and primary key is as stated
    assert differences == []


async def test_a_column_tables_py_misstates_is_reported(empty_database: str) -> None:
    # given tables.py's tables with one column stated wrongly, and one the database lacks
    drifted = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["customers"].c.name.nullable = True
    drifted.tables["plans"].append_column(Column("renews_at", drifted.tables["plans"].c.id.type))
    # when they are compared with a migrated database
    differences = await _differences_after_migrating(empty_database, drifted)
    # then both are reported
    assert {(op[0], op[2], op[3]) for op in differences if op[0] == "modify_nullable"} == {
        ("modify_nullable", "customers", "name")
    }
    assert [(op[0], op[2], op[3].name) for op in differences if op[0] == "add_column"] == [
        ("add_column", "plans", "renews_at")
    ]
    assert len(differences) == 2


PLAN_WITH_JSON_PRICES = """
insert into plans (tenant_id, id, code, name, interval, interval_count, trial_days, prices)
values ('acct_migrated', 'plan_migrated', 'pro', 'Pro', 'MONTH', 1, 0, $1::jsonb)
"""
JSON_PRICES = [
    {
        "id": "price_flat",
        "billingMode": "LICENSED",
        "metricCode": None,
        "definition": {"model": "FLAT_FEE", "currency": "USD", "amount": 4900},
    },
    {
        "id": "price_calls",
        "billingMode": "METERED",
        "metricCode": "api.calls",
        "definition": {"model": "PER_UNIT", "currency": "EUR", "unitAmount": "0.25"},
    },
]


async def test_prices_move_from_the_plan_row_to_rows_of_their_own_and_back(
    empty_database: str,
) -> None:
    # given a database at 0006 with a plan whose prices are its row's JSON
    config = alembic_config(empty_database)
    await asyncio.to_thread(command.upgrade, config, "0006")
    conn = await asyncpg.connect(empty_database.replace("+asyncpg", ""))
    try:
        await conn.execute("insert into accounts (id, name) values ('acct_migrated', 'M')")
        await conn.execute(PLAN_WITH_JSON_PRICES, json.dumps(JSON_PRICES))
        # when it is upgraded
        await asyncio.to_thread(command.upgrade, config, "0007")
        # then each price is a row, in the plan's order, its definition as it was
        rows = await conn.fetch(
            "select id, plan_id, position, billing_mode, metric_code, currency, model,"
            " definition, archived_at from prices order by position"
        )
        assert [
            (r["id"], r["plan_id"], r["position"], r["billing_mode"], r["metric_code"])
            for r in rows
        ] == [
            ("price_flat", "plan_migrated", 0, "LICENSED", None),
            ("price_calls", "plan_migrated", 1, "METERED", "api.calls"),
        ]
        assert [(r["currency"], r["model"]) for r in rows] == [
            ("USD", "FLAT_FEE"),
            ("EUR", "PER_UNIT"),
        ]
        assert [json.loads(r["definition"]) for r in rows] == [p["definition"] for p in JSON_PRICES]
        assert all(r["archived_at"] is None for r in rows)
        assert await conn.fetchval("select to_regclass('plan_prices')") is None
        # when it is downgraded again
        await asyncio.to_thread(command.downgrade, config, "0006")
        # then the plan row holds its prices as before, and plan_prices names them
        restored = await conn.fetchval("select prices from plans where id = 'plan_migrated'")
        assert json.loads(restored) == JSON_PRICES
        held = await conn.fetch("select id, plan_id from plan_prices order by id")
        assert [tuple(r) for r in held] == [
            ("price_calls", "plan_migrated"),
            ("price_flat", "plan_migrated"),
        ]
    finally:
        await conn.close()
