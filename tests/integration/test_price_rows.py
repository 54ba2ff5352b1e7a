"""Prices are rows of their own (migration 0007), and the database backs "a price in use never
changes": a trigger refuses every change but archiving once, and every delete, even to the
table's owner; the application role may only archive; a tenant sees only its own prices."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from infra.db import tenant_transaction
from tests.conftest import Tenant

CREATE_PLAN = """
mutation CreatePlan($input: CreatePlanInput!) {
  createPlan(input: $input) { plan { id prices { id } } userErrors { code field } }
}
"""
REPLACE_PRICES = """
mutation UpdatePlan($input: UpdatePlanInput!) {
  updatePlan(input: $input) { plan { id prices { id model } } userErrors { code field } }
}
"""
PLAN_AND_PRICE = """
query($plan: ID!, $price: ID!) {
  plan(id: $plan) { prices { id model amount { amount } } }
  node(id: $price) { id ... on Price { model currency amount { amount } } }
}
"""
RESTRICT_VIOLATION = "23001"
FOREIGN_KEY_VIOLATION = "23503"
INSUFFICIENT_PRIVILEGE = "42501"


async def _plan(tenant: Tenant) -> dict[str, Any]:
    """A plan of two prices, made through the API: (plan id, price ids)."""
    body = await tenant.gql(
        CREATE_PLAN,
        {
            "input": {
                "code": "pro",
                "name": "Pro",
                "interval": "MONTH",
                "prices": [
                    {"model": "FLAT_FEE", "currency": "USD", "amount": "49.00"},
                    {"model": "PER_UNIT", "currency": "USD", "unitAmount": "2.50"},
                ],
            }
        },
    )
    payload = body["data"]["createPlan"]
    assert payload["userErrors"] == [], body
    return payload["plan"]


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


async def test_a_plans_prices_are_rows_in_its_order(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # when
    plan = await _plan(tenant)
    # then
    rows = await admin.fetch(
        "select id, plan_id, position, billing_mode, metric_code, currency, model, definition,"
        " archived_at from prices where tenant_id = $1 order by position",
        tenant.id,
    )
    assert [row["id"] for row in rows] == [p["id"] for p in plan["prices"]]
    assert {row["plan_id"] for row in rows} == {plan["id"]}
    assert [row["position"] for row in rows] == [0, 1]
    assert [(row["model"], row["currency"]) for row in rows] == [
        ("FLAT_FEE", "USD"),
        ("PER_UNIT", "USD"),
    ]
    assert json.loads(rows[0]["definition"]) == {
        "model": "FLAT_FEE",
        "currency": "USD",
        "amount": 4900,
    }
    assert all(row["archived_at"] is None for row in rows)


@pytest.mark.parametrize(
    "change",
    [
        'definition = \'{"model": "FLAT_FEE", "currency": "USD", "amount": 1}\'',
        "position = 7",
        "archived_at = clock_timestamp(), definition = definition || '{\"amount\": 1}'",
    ],
)
async def test_a_price_never_changes_even_for_the_tables_owner(
    tenant: Tenant, admin: asyncpg.Connection, change: str
) -> None:
    # given
    price_id = (await _plan(tenant))["prices"][0]["id"]
    before = await admin.fetchrow("select * from prices where id = $1", price_id)
    # when
    with pytest.raises(asyncpg.RestrictViolationError, match="cannot change") as refused:
        await admin.execute(f"update prices set {change} where id = $1", price_id)
    # then
    assert "only archiving it, once" in (refused.value.hint or "")
    assert await admin.fetchrow("select * from prices where id = $1", price_id) == before


async def test_a_price_is_never_deleted_even_by_the_tables_owner(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    plan = await _plan(tenant)
    price_id = plan["prices"][0]["id"]
    # when / then: neither the price, nor its plan (which would orphan it)
    with pytest.raises(asyncpg.RestrictViolationError, match="cannot be deleted"):
        await admin.execute("delete from prices where id = $1", price_id)
    # PostgreSQL 18 reports ON DELETE RESTRICT as restrict_violation (23001), 15 as
    # foreign_key_violation (23503): either refuses.
    with pytest.raises((asyncpg.ForeignKeyViolationError, asyncpg.RestrictViolationError)):
        await admin.execute("delete from plans where id = $1", plan["id"])
    assert await admin.fetchval("select count(*) from prices where plan_id = $1", plan["id"]) == 2


async def test_the_application_may_archive_a_price_once_and_change_nothing_else(
    app: Any, tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    price_id = (await _plan(tenant))["prices"][0]["id"]
    archive = text("update prices set archived_at = clock_timestamp() where id = :id")
    # when it is archived
    async with tenant_transaction(app.state.engine, tenant.id) as db:
        archived = await db.execute(archive, {"id": price_id})
    # then
    assert archived.rowcount == 1
    first = await admin.fetchval("select archived_at from prices where id = $1", price_id)
    assert first is not None
    # and archiving it again is refused by the trigger, changing anything else or deleting
    # by the grants
    refusals = [
        (archive, RESTRICT_VIOLATION),
        (text("update prices set currency = 'EUR' where id = :id"), INSUFFICIENT_PRIVILEGE),
        (text("delete from prices where id = :id"), INSUFFICIENT_PRIVILEGE),
    ]
    for statement, sqlstate in refusals:
        with pytest.raises(DBAPIError) as refused:
            async with tenant_transaction(app.state.engine, tenant.id) as db:
                await db.execute(statement, {"id": price_id})
        assert _sqlstate(refused.value) == sqlstate, statement
    row = await admin.fetchrow("select currency, archived_at from prices where id = $1", price_id)
    assert (row["currency"], row["archived_at"]) == ("USD", first)


async def test_another_tenants_price_is_invisible_and_untouchable(
    app: Any, tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a price of the other tenant
    theirs = (await _plan(other_tenant))["prices"][0]["id"]
    await _plan(tenant)
    # when this tenant reads and archives prices without any filter
    async with tenant_transaction(app.state.engine, tenant.id) as db:
        visible = set((await db.execute(text("select tenant_id from prices"))).scalars())
        seen = await db.execute(text("select id from prices where id = :id"), {"id": theirs})
        found = seen.first()
        archived = await db.execute(
            text("update prices set archived_at = clock_timestamp() where id = :id"),
            {"id": theirs},
        )
    # then
    assert visible == {tenant.id}
    assert found is None
    assert archived.rowcount == 0
    assert await admin.fetchval("select archived_at from prices where id = $1", theirs) is None


async def test_replaced_prices_stay_readable_by_id_and_leave_the_plans_list(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    plan = await _plan(tenant)
    old_ids = [p["id"] for p in plan["prices"]]
    # when its prices are replaced
    body = await tenant.gql(
        REPLACE_PRICES,
        {
            "input": {
                "id": plan["id"],
                "prices": [{"model": "FLAT_FEE", "currency": "USD", "amount": "99.00"}],
            }
        },
    )
    payload = body["data"]["updatePlan"]
    assert payload["userErrors"] == [], body
    new_id = payload["plan"]["prices"][0]["id"]
    # then the plan lists only the new price, and the old one still means what it meant
    read = await tenant.gql(PLAN_AND_PRICE, {"plan": plan["id"], "price": old_ids[0]})
    assert read["data"] == {
        "plan": {"prices": [{"id": new_id, "model": "FLAT_FEE", "amount": {"amount": "99.00"}}]},
        "node": {
            "id": old_ids[0],
            "model": "FLAT_FEE",
            "currency": "USD",
            "amount": {"amount": "49.00"},
        },
    }
    rows = await admin.fetch(
        "select id, position, archived_at is not null as archived from prices"
        " where plan_id = $1 order by created_at",
        plan["id"],
    )
    assert [tuple(row) for row in rows] == [
        (old_ids[0], 0, True),
        (old_ids[1], 1, True),
        (new_id, 0, False),
    ]


async def test_a_change_that_keeps_the_prices_keeps_their_rows(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    plan = await _plan(tenant)
    before = await admin.fetch(
        "select *, xmin::text from prices where plan_id = $1 order by position", plan["id"]
    )
    # when only the name changes
    body = await tenant.gql(REPLACE_PRICES, {"input": {"id": plan["id"], "name": "Pro 2"}})
    assert body["data"]["updatePlan"]["userErrors"] == [], body
    # then the price rows are untouched (same row versions)
    after = await admin.fetch(
        "select *, xmin::text from prices where plan_id = $1 order by position", plan["id"]
    )
    assert after == before
    assert [p["id"] for p in body["data"]["updatePlan"]["plan"]["prices"]] == [
        p["id"] for p in plan["prices"]
    ]
