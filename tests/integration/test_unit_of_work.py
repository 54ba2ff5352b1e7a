"""A unit of work outside requests owns its tenant transaction: it commits what a service
committed, rolls back everything else, and runs under row-level security like a request."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.customers import CustomerChanges, CustomerDraft, validate_draft
from domain.errors import DomainError
from domain.ids import new_id
from domain.services.customers import create_customer, update_customer
from infra.db import APP_ROLE
from infra.uow import SqlUnitOfWork
from tests.conftest import Tenant

INSUFFICIENT_PRIVILEGE = "42501"


async def _customer_rows(admin: asyncpg.Connection, customer_id: str) -> tuple[int, int]:
    """(customers, events) rows about the customer, as the database owner sees them."""
    customers = await admin.fetchval("select count(*) from customers where id = $1", customer_id)
    events = await admin.fetchval("select count(*) from events where object_id = $1", customer_id)
    return customers, events


async def test_a_service_given_an_owning_unit_of_work_commits_in_a_transaction_of_its_own(
    engine: AsyncEngine, tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a unit of work that owns its transaction, as a worker has
    uow = SqlUnitOfWork.owning(engine, tenant.id)
    # when a service runs in it, twice
    created = await create_customer(uow, CustomerDraft("Ada Lovelace", "EUR"))
    renamed = await update_customer(uow, created.id, CustomerChanges(name="Ada King"))
    # then both calls were committed, each with its event, and no connection is left checked out
    assert renamed.name == "Ada King"
    assert await _customer_rows(admin, created.id) == (1, 2)
    assert await admin.fetchval("select name from customers where id = $1", created.id) == (
        "Ada King"
    )
    assert engine.pool.checkedout() == 0


async def test_work_that_raises_leaves_nothing_behind(
    engine: AsyncEngine, tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    uow = SqlUnitOfWork.owning(engine, tenant.id)
    customer_id = new_id("cus")
    # when the work raises after writing
    with pytest.raises(RuntimeError, match="payment provider down"):
        async with uow:
            await uow.customers.add(customer_id, validate_draft(CustomerDraft("Grace", "USD")))
            await uow.events.add("customer.created", customer_id, {})
            raise RuntimeError("payment provider down")
    # then nothing was committed, and the connection went back to the pool
    assert await _customer_rows(admin, customer_id) == (0, 0)
    assert engine.pool.checkedout() == 0


async def test_work_left_without_commit_is_rolled_back(
    engine: AsyncEngine, tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    uow = SqlUnitOfWork.owning(engine, tenant.id)
    customer_id = new_id("cus")
    # when the block ends without commit() and without an error
    async with uow:
        await uow.customers.add(customer_id, validate_draft(CustomerDraft("Grace", "USD")))
    # then nothing was committed
    assert await _customer_rows(admin, customer_id) == (0, 0)
    assert engine.pool.checkedout() == 0


async def test_a_domain_error_in_a_service_rolls_back_its_transaction(
    engine: AsyncEngine, tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a customer with an external id
    uow = SqlUnitOfWork.owning(engine, tenant.id)
    await create_customer(uow, CustomerDraft("Acme", "USD", external_id="acme-1"))
    # when a second customer claims the same external id
    with pytest.raises(DomainError):
        await create_customer(uow, CustomerDraft("Acme again", "USD", external_id="acme-1"))
    # then only the first is there, and the unit of work still serves the next call
    names = await admin.fetch("select name from customers where tenant_id = $1", tenant.id)
    assert [row["name"] for row in names] == ["Acme"]
    await create_customer(uow, CustomerDraft("Initech", "USD"))
    assert (
        await admin.fetchval("select count(*) from customers where tenant_id = $1", tenant.id) == 2
    )


async def test_an_owning_unit_of_work_runs_under_row_level_security(
    engine: AsyncEngine, tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a customer in each tenant
    ours = await create_customer(
        SqlUnitOfWork.owning(engine, tenant.id), CustomerDraft("Ours", "EUR")
    )
    theirs = await create_customer(
        SqlUnitOfWork.owning(engine, other_tenant.id), CustomerDraft("Theirs", "EUR")
    )
    uow = SqlUnitOfWork.owning(engine, tenant.id)
    # when plain SQL without any tenant filter reads in our unit of work
    async with uow:
        role = (await uow.connection.execute(text("select current_user"))).scalar_one()
        visible = set((await uow.connection.execute(text("select id from customers"))).scalars())
        found = await uow.customers.get(theirs.id)
    # then it runs as the application role and sees only our tenant's rows
    assert role == APP_ROLE
    assert visible == {ours.id}
    assert found is None
    # and a row written for the other tenant is refused, taking the whole transaction with it
    smuggled = new_id("cus")
    with pytest.raises(DBAPIError) as refused:
        async with uow:
            await uow.customers.add(new_id("cus"), validate_draft(CustomerDraft("Ok", "EUR")))
            await uow.connection.execute(
                text(
                    "insert into customers (tenant_id, id, name, currency)"
                    " values (:tenant_id, :id, 'Mallory', 'EUR')"
                ),
                {"tenant_id": other_tenant.id, "id": smuggled},
            )
    assert getattr(refused.value.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE
    assert (
        await admin.fetchval("select count(*) from customers where tenant_id = $1", tenant.id) == 1
    )
    assert await _customer_rows(admin, smuggled) == (0, 0)


async def test_what_one_tenant_commits_is_invisible_to_another(
    engine: AsyncEngine, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given a customer committed by a worker for one tenant
    created = await create_customer(
        SqlUnitOfWork.owning(engine, tenant.id), CustomerDraft("Ada", "EUR")
    )
    # when another tenant's unit of work looks for it, by repository and by plain SQL
    uow = SqlUnitOfWork.owning(engine, other_tenant.id)
    async with uow:
        by_repository = await uow.customers.get(created.id)
        by_sql = (
            await uow.connection.execute(
                text("select count(*) from customers where id = :id"), {"id": created.id}
            )
        ).scalar_one()
    # then it is not there
    assert by_repository is None
    assert by_sql == 0


async def test_an_owning_unit_of_work_holds_one_transaction_at_a_time(
    engine: AsyncEngine, tenant: Tenant
) -> None:
    # given an open unit of work
    uow = SqlUnitOfWork.owning(engine, tenant.id)
    async with uow:
        # when it is entered again, then it refuses rather than open a second transaction
        with pytest.raises(RuntimeError, match="already has an open transaction"):
            async with uow:
                pass
        await uow.commit()
        # and after commit() no statement can run in the ended transaction
        with pytest.raises(RuntimeError, match="no open transaction"):
            uow.connection
    assert engine.pool.checkedout() == 0
