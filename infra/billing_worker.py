"""The billing run outside requests: every tenant's due subscriptions, batch by batch.

Any number of these run at once, in one process or many, on one machine or many: within a
tenant each batch claims its subscriptions with FOR UPDATE SKIP LOCKED, so workers share
the work through PostgreSQL alone and never bill a subscription twice.

A worker told to stop (`stop` set, on SIGTERM) finishes the batch in hand and stops before
the next: each batch is one transaction, so its commit releases the rows it claimed, and
what is left is billed by the next run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.services.billing import BATCH_SIZE, bill_due, finalize_due_drafts
from infra.repositories.accounts import all_account_ids
from infra.uow import SqlUnitOfWork

# A batch writes thousands of rows; it gets more time than a request's statement.
BATCH_STATEMENT_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class RunResult:
    invoices: int
    subscriptions: int
    tenants: int


async def bill_tenant(
    engine: AsyncEngine,
    tenant_id: str,
    as_of: datetime,
    *,
    batch_size: int = BATCH_SIZE,
    grace: timedelta = timedelta(0),
    stop: asyncio.Event | None = None,
) -> tuple[int, int]:
    """Bills the tenant's subscriptions due by `as_of` until none is left: a subscription
    many periods behind is billed one period per pass. Answers (invoices, renewals)."""
    invoices = subscriptions = 0
    uow = SqlUnitOfWork.owning(engine, tenant_id, statement_timeout=BATCH_STATEMENT_TIMEOUT)
    while True:
        result = await bill_due(uow, as_of, limit=batch_size, grace=grace)
        invoices += result.invoices
        subscriptions += result.subscriptions
        if result.subscriptions == 0 or _stopping(stop):
            return invoices, subscriptions


async def bill_everyone(
    engine: AsyncEngine,
    as_of: datetime,
    *,
    batch_size: int = BATCH_SIZE,
    grace: timedelta = timedelta(0),
    stop: asyncio.Event | None = None,
) -> RunResult:
    """One pass of the billing run over every tenant, as of `as_of` (until `stop` is set)."""
    async with engine.connect() as conn:
        tenants = await all_account_ids(conn)
    invoices = subscriptions = 0
    done = 0
    for tenant_id in tenants:
        if _stopping(stop):
            break
        made, renewed = await bill_tenant(
            engine, tenant_id, as_of, batch_size=batch_size, grace=grace, stop=stop
        )
        if grace > timedelta(0):
            await finalize_drafts(engine, tenant_id, as_of, grace, batch_size=batch_size, stop=stop)
        invoices += made
        subscriptions += renewed
        done += 1
    return RunResult(invoices, subscriptions, done)


async def finalize_drafts(
    engine: AsyncEngine,
    tenant_id: str,
    as_of: datetime,
    grace: timedelta,
    *,
    batch_size: int = BATCH_SIZE,
    stop: asyncio.Event | None = None,
) -> int:
    """Finalizes the tenant's billing-run drafts whose grace period has passed."""
    finalized = 0
    uow = SqlUnitOfWork.owning(engine, tenant_id, statement_timeout=BATCH_STATEMENT_TIMEOUT)
    while made := await finalize_due_drafts(uow, as_of, grace, limit=batch_size):
        finalized += made
        if _stopping(stop):
            break
    return finalized


def _stopping(stop: asyncio.Event | None) -> bool:
    return stop is not None and stop.is_set()
