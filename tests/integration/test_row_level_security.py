"""The database backstops tenant isolation (SECURITY.md "Tenant isolation").

Plain SQL without any tenant filter, run the way the application runs it, sees and
writes only the tenant of the transaction; the application role cannot escape the
policies; CHECK constraints refuse what the domain refuses.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from infra.db import APP_ROLE, create_engine, tenant_transaction
from tests import conftest
from tests.conftest import Tenant

CREATE_CUSTOMER = """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id }
    userErrors { code field message }
  }
}
"""

TENANT_TABLES = ("customers", "events", "idempotency_keys")
# Tables with a tenant_id that row-level security does not cover, and why.
NOT_ROW_LEVEL_SECURED = {
    # The token endpoint reads a client by its id before it knows the tenant.
    "oauth_clients",
}
INSUFFICIENT_PRIVILEGE = "42501"


async def _create_customer(tenant: Tenant, name: str) -> str:
    """A customer made through the API, with an Idempotency-Key so every tenant table has rows."""
    body = await tenant.gql(
        CREATE_CUSTOMER,
        {"input": {"name": name, "currency": "EUR"}},
        headers={"Idempotency-Key": f"rls-{name}"},
    )
    payload = body["data"]["createCustomer"]
    assert payload["userErrors"] == [], body
    return payload["customer"]["id"]


@pytest.fixture
async def two_tenants(tenant: Tenant, other_tenant: Tenant) -> tuple[str, str]:
    """A customer in each tenant: (tenant's customer id, other tenant's customer id)."""
    return (
        await _create_customer(tenant, "Ada Lovelace"),
        await _create_customer(other_tenant, "Grace Hopper"),
    )


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


@pytest.mark.parametrize("table", TENANT_TABLES)
async def test_tenant_transaction_shows_only_its_tenants_rows_without_any_filter(
    app: Any, tenant: Tenant, two_tenants: tuple[str, str], table: str
) -> None:
    # given
    ours, _theirs = two_tenants
    # when
    async with tenant_transaction(app.state.engine, tenant.id) as db:
        tenants = (await db.execute(text(f"select distinct tenant_id from {table}"))).scalars()
        visible_tenants = set(tenants)
        customer_ids = set((await db.execute(text("select id from customers"))).scalars())
    # then
    assert visible_tenants == {tenant.id}
    assert customer_ids == {ours}


async def test_tenant_transaction_refuses_a_row_inserted_for_another_tenant(
    app: Any, tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    insert = text(
        "insert into customers (tenant_id, id, name, currency)"
        " values (:tenant_id, 'cus_smuggled', 'Mallory', 'EUR')"
    )
    # when
    with pytest.raises(DBAPIError) as refused:
        async with tenant_transaction(app.state.engine, tenant.id) as db:
            await db.execute(insert, {"tenant_id": other_tenant.id})
    # then
    assert _sqlstate(refused.value) == INSUFFICIENT_PRIVILEGE
    assert "row-level security" in str(refused.value.orig)
    assert await admin.fetchval("select count(*) from customers where id = 'cus_smuggled'") == 0


async def test_tenant_transaction_refuses_an_event_inserted_for_another_tenant(
    app: Any, tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    insert = text(
        "insert into events (tenant_id, id, type, object_id, data)"
        " values (:tenant_id, 'evt_smuggled', 'customer.created', 'cus_x', '{}')"
    )
    # when
    with pytest.raises(DBAPIError) as refused:
        async with tenant_transaction(app.state.engine, tenant.id) as db:
            await db.execute(insert, {"tenant_id": other_tenant.id})
    # then
    assert _sqlstate(refused.value) == INSUFFICIENT_PRIVILEGE
    assert await admin.fetchval("select count(*) from events where id = 'evt_smuggled'") == 0


async def test_tenant_transaction_cannot_move_its_row_to_another_tenant(
    app: Any,
    tenant: Tenant,
    other_tenant: Tenant,
    two_tenants: tuple[str, str],
    admin: asyncpg.Connection,
) -> None:
    # given
    ours, _theirs = two_tenants
    # when
    with pytest.raises(DBAPIError) as refused:
        async with tenant_transaction(app.state.engine, tenant.id) as db:
            await db.execute(
                text("update customers set tenant_id = :other where id = :id"),
                {"other": other_tenant.id, "id": ours},
            )
    # then
    assert _sqlstate(refused.value) == INSUFFICIENT_PRIVILEGE
    owner = await admin.fetchval("select tenant_id from customers where id = $1", ours)
    assert owner == tenant.id


async def test_tenant_transaction_updates_and_deletes_nothing_of_another_tenant(
    app: Any,
    tenant: Tenant,
    other_tenant: Tenant,
    two_tenants: tuple[str, str],
    admin: asyncpg.Connection,
) -> None:
    # given
    _ours, theirs = two_tenants
    # when
    async with tenant_transaction(app.state.engine, tenant.id) as db:
        updated = await db.execute(
            text("update customers set name = 'Mallory' where id = :id"), {"id": theirs}
        )
        deleted_events = await db.execute(
            text("delete from events where object_id = :id"), {"id": theirs}
        )
        deleted = await db.execute(text("delete from customers where id = :id"), {"id": theirs})
    # then
    assert (updated.rowcount, deleted_events.rowcount, deleted.rowcount) == (0, 0, 0)
    row = await admin.fetchrow("select tenant_id, name from customers where id = $1", theirs)
    assert (row["tenant_id"], row["name"]) == (other_tenant.id, "Grace Hopper")
    assert await admin.fetchval("select count(*) from events where object_id = $1", theirs) == 1


@pytest.mark.parametrize("table", TENANT_TABLES)
async def test_connection_outside_any_tenant_sees_no_rows(
    app: Any, two_tenants: tuple[str, str], table: str
) -> None:
    # given: rows exist in several tenants
    # when
    async with app.state.engine.connect() as conn:
        setting = (
            await conn.execute(text("select current_setting('app.tenant_id', true)"))
        ).scalar_one()
        count = (await conn.execute(text(f"select count(*) from {table}"))).scalar_one()
    # then
    assert not setting
    assert count == 0


async def test_tenant_does_not_stay_on_a_pooled_connection_after_its_transaction(
    test_database: conftest.TestDatabase, tenant: Tenant, two_tenants: tuple[str, str]
) -> None:
    # given: a pool of one connection, so the next checkout is the same connection
    engine = create_engine(test_database.url, pool_size=1)
    try:
        async with tenant_transaction(engine, tenant.id) as db:
            pid_in_tenant = (await db.execute(text("select pg_backend_pid()"))).scalar_one()
            assert (await db.execute(text("select count(*) from customers"))).scalar_one() == 1
        # when
        async with engine.connect() as conn:
            pid_after = (await conn.execute(text("select pg_backend_pid()"))).scalar_one()
            count = (await conn.execute(text("select count(*) from customers"))).scalar_one()
    finally:
        await engine.dispose()
    # then
    assert pid_after == pid_in_tenant
    assert count == 0


async def test_app_role_survives_a_rolled_back_first_use_of_a_pooled_connection(
    test_database: conftest.TestDatabase,
) -> None:
    # given: a pool of one connection whose first use ends in a rollback (as a health check,
    # a refused request or a statement timeout does)
    engine = create_engine(test_database.url, pool_size=1)
    try:
        async with engine.connect() as conn:
            first = (await conn.execute(text("select current_user, pg_backend_pid()"))).one()
            await conn.rollback()
        # when
        async with engine.connect() as conn:
            second = (await conn.execute(text("select current_user, pg_backend_pid()"))).one()
            bypasses = (
                await conn.execute(
                    text(
                        "select rolsuper or rolbypassrls from pg_roles where rolname = current_user"
                    )
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    # then: still the application role, still behind row-level security
    assert first[1] == second[1]
    assert (first[0], second[0]) == (APP_ROLE, APP_ROLE)
    assert bypasses is False


async def test_app_role_is_not_superuser_has_no_bypassrls_and_owns_no_table(app: Any) -> None:
    # when
    async with app.state.engine.connect() as conn:
        role = (
            await conn.execute(
                text(
                    "select rolname, rolsuper, rolbypassrls from pg_roles"
                    " where rolname = current_user"
                )
            )
        ).one()
        owned = (
            await conn.execute(
                text(
                    "select c.relname from pg_class c join pg_namespace n"
                    " on n.oid = c.relnamespace"
                    " where c.relowner = (select oid from pg_roles where rolname = current_user)"
                    " and n.nspname not in ('pg_catalog', 'information_schema')"
                )
            )
        ).scalars()
        owned_relations = list(owned)
    # then
    assert role.rolname == APP_ROLE
    assert role.rolsuper is False
    assert role.rolbypassrls is False
    assert owned_relations == []


async def test_every_tenant_table_forces_row_level_security_on_tenant_id(
    admin: asyncpg.Connection,
) -> None:
    # given
    tables = {
        row["table_name"]
        for row in await admin.fetch(
            "select table_name from information_schema.columns"
            " where table_schema = 'public' and column_name = 'tenant_id'"
        )
    }
    # when
    secured = await admin.fetch(
        "select c.relname, c.relrowsecurity, c.relforcerowsecurity,"
        " p.qual, p.with_check"
        " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " left join pg_policies p on p.schemaname = n.nspname and p.tablename = c.relname"
        " where n.nspname = 'public' and c.relname = any($1::text[])",
        sorted(tables - NOT_ROW_LEVEL_SECURED),
    )
    # then
    assert set(TENANT_TABLES) <= tables - NOT_ROW_LEVEL_SECURED
    assert {row["relname"] for row in secured} == tables - NOT_ROW_LEVEL_SECURED
    for row in secured:
        assert row["relrowsecurity"] and row["relforcerowsecurity"], row["relname"]
        assert "tenant_id" in (row["qual"] or ""), row["relname"]
        assert "app.tenant_id" in (row["qual"] or ""), row["relname"]
        assert "tenant_id" in (row["with_check"] or ""), row["relname"]
        assert "app.tenant_id" in (row["with_check"] or ""), row["relname"]


def _valid_customer(tenant_id: str) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "id": "cus_checked",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "currency": "EUR",
        "external_id": "ext-1",
        "address": None,
        "tax_ids": "[]",
        "metadata": "{}",
    }


async def _insert_customer(admin: asyncpg.Connection, row: dict[str, Any]) -> None:
    await admin.execute(
        "insert into customers"
        " (tenant_id, id, name, email, currency, external_id, address, tax_ids, metadata)"
        " values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb)",
        *row.values(),
    )


async def test_valid_customer_row_passes_the_check_constraints(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    row = _valid_customer(tenant.id)
    # when / then: the baseline the refused rows below differ from by one column
    transaction = admin.transaction()
    await transaction.start()
    try:
        await _insert_customer(admin, row)
        await _insert_customer(
            admin,
            {**row, "id": "cus_with_address", "external_id": None, "address": '{"country": "DE"}'},
        )
    finally:
        await transaction.rollback()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("name", "x" * 201),
        ("name", ""),
        ("currency", "eur"),
        ("currency", "E1R"),
        ("id", "cust_1"),
        ("email", "a" * 243 + "@example.com"),
        ("external_id", "x" * 256),
        ("address", "null"),
        ("address", '"Berlin"'),
        ("tax_ids", "{}"),
        ("metadata", "[]"),
    ],
    ids=[
        "name-201-chars",
        "name-empty",
        "currency-lowercase",
        "currency-not-letters",
        "id-without-cus-prefix",
        "email-255-chars",
        "external-id-256-chars",
        "address-json-null",
        "address-not-object",
        "tax-ids-not-array",
        "metadata-not-object",
    ],
)
async def test_check_constraints_refuse_what_the_domain_refuses(
    tenant: Tenant, admin: asyncpg.Connection, column: str, value: str
) -> None:
    # given
    row = {**_valid_customer(tenant.id), column: value}
    # when / then
    with pytest.raises(asyncpg.CheckViolationError):
        await _insert_customer(admin, row)
    assert await _count_customers(admin, tenant) == 0


async def _count_customers(admin: asyncpg.Connection, tenant: Tenant) -> int:
    return await admin.fetchval("select count(*) from customers where tenant_id = $1", tenant.id)


async def test_a_tenant_transaction_runs_as_the_app_role_even_after_the_session_role_was_reset(
    test_database: conftest.TestDatabase,
) -> None:
    # given a one-connection pool whose session role was reset to the login role
    engine = create_engine(test_database.url, pool_size=1)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("reset role"))
            await conn.commit()
            assert (await conn.execute(text("select current_user"))).scalar() != APP_ROLE
        # when the same connection serves a tenant transaction
        async with tenant_transaction(engine, "any-tenant") as db:
            role = (await db.execute(text("select current_user"))).scalar()
        # then row-level security still binds it
        assert role == APP_ROLE
    finally:
        await engine.dispose()
