"""The billing run as real worker processes: `ledgerline bill --as-of`, the installed
console script, several at once, one of them killed, over a database of their own.

`bill` bills every tenant of its database, so these tests get a database of their own
(migrated once for the module): the session's test database holds other tests' tenants,
whose subscriptions the workers would bill too.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.money import Money
from infra.db import create_engine
from infra.migrate import upgrade_async
from infra.repositories.accounts import ensure_account
from tests.support.billing import (
    Billing,
    at,
    billed_state,
    copy_subscription,
    invoice_count,
    trialing_until,
)
from tests.support.server_process import free_port, server_env

pytestmark = pytest.mark.e2e

AS_OF = "2026-03-01T00:00:00Z"
START, TRIAL_END = at(2026, 2, 1), at(2026, 3, 1)
WORKER_TIMEOUT = 120.0


def ledgerline() -> str:
    """The console script installed beside the interpreter running the tests."""
    script = Path(sys.executable).parent / "ledgerline"
    return str(script) if script.exists() else (shutil.which("ledgerline") or "ledgerline")


class BillingDatabase:
    def __init__(self, url: str) -> None:
        self.url = url  # SQLAlchemy asyncpg URL, as the owner
        self.admin_dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self.engine: AsyncEngine = create_engine(url, pool_size=2)

    async def tenant_with_due_subscriptions(self, count: int) -> str:
        """A tenant whose `count` subscriptions (seats and metered calls) come out of their
        trial at AS_OF: each is due exactly one period then."""
        tenant_id = "t-" + secrets.token_hex(6)
        async with self.engine.begin() as conn:
            await ensure_account(conn, tenant_id, f"Billing workers {tenant_id}")
        billing = Billing(self.engine, tenant_id)
        customer = await billing.customer()
        await billing.metric()
        plan = await billing.plan(seat=Money(1_000, "USD"), per_call=Money(1, "USD").amount)
        template = await trialing_until(billing, customer, plan.id, START, TRIAL_END)
        await copy_subscription(self.admin_dsn, tenant_id, template.id, count - 1)
        return tenant_id

    def worker(self, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
        env = server_env(tmp_path, free_port(), DATABASE_URL=self.url, LOG_LEVEL="WARNING")
        return subprocess.Popen(
            [ledgerline(), "bill", "--as-of", AS_OF, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    async def advanced(self, tenant_id: str) -> dict[str, int]:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            rows = await conn.fetch(
                "SELECT status, current_period_start, count(*) AS n FROM subscriptions"
                " WHERE tenant_id = $1 GROUP BY 1, 2",
                tenant_id,
            )
        finally:
            await conn.close()
        return {
            f"{row['status']} from {row['current_period_start']:%Y-%m-%d}": row["n"] for row in rows
        }


@pytest.fixture(scope="module")
async def billing_database(pg_server: tuple[str, Any]) -> AsyncIterator[BillingDatabase]:
    server_url, _ = pg_server
    name = "ledgerline_billing_" + secrets.token_hex(4)
    server_dsn = server_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(urlsplit(server_url)._replace(path="/" + name))
    await upgrade_async(url)
    database = BillingDatabase(url)
    try:
        yield database
    finally:
        await database.engine.dispose()
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f'drop database if exists "{name}" with (force)')
        finally:
            await admin.close()


def finished(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=WORKER_TIMEOUT)
    assert process.returncode == 0, output
    return output


async def test_four_workers_bill_each_period_exactly_once(
    billing_database: BillingDatabase, tmp_path: Path
) -> None:
    # given 5,000 subscriptions due at once
    tenant_id = await billing_database.tenant_with_due_subscriptions(5_000)

    # when four worker processes bill them at the same time, in small batches
    workers = [billing_database.worker(tmp_path, "--batch-size", "100") for _ in range(4)]
    outputs = await asyncio.to_thread(lambda: [finished(worker) for worker in workers])

    # then each subscription got one invoice, numbered 1..5,000 without a gap
    state = await billed_state(billing_database.admin_dsn, tenant_id)
    assert state == {
        "invoices": 5_000,
        "subscriptions_billed": 5_000,
        "numbers": 5_000,
        "first_number": 1,
        "last_number": 5_000,
        "subscriptions": 5_000,
    }
    # and each moved on by exactly one period, out of its trial
    assert await billing_database.advanced(tenant_id) == {"ACTIVE from 2026-03-01": 5_000}
    # and the work was shared: between them the workers billed every subscription once
    billed = [int(output.split("billed ")[1].split(" ")[0]) for output in outputs]
    assert sum(billed) == 5_000, outputs


async def test_a_killed_worker_leaves_whole_batches_and_a_rerun_bills_the_rest(
    billing_database: BillingDatabase, tmp_path: Path
) -> None:
    # given 4,000 due subscriptions and one worker billing them 100 at a time
    tenant_id = await billing_database.tenant_with_due_subscriptions(4_000)
    worker = billing_database.worker(tmp_path, "--batch-size", "100")

    # when it is killed (SIGKILL: no cleanup) once some of its batches have committed
    deadline = time.monotonic() + WORKER_TIMEOUT
    made = 0
    while made == 0 and time.monotonic() < deadline and worker.poll() is None:
        made = await invoice_count(billing_database.admin_dsn, tenant_id)
        await asyncio.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=10)
    assert worker.returncode == -signal.SIGKILL, "the worker ended before it was killed"
    left = await billed_state(billing_database.admin_dsn, tenant_id)

    # then only whole batches are there: the one in flight was rolled back
    assert 0 < left["invoices"] < 4_000
    assert left["invoices"] % 100 == 0
    assert (left["first_number"], left["last_number"]) == (1, left["invoices"])

    # when the run is started again
    rerun = finished(billing_database.worker(tmp_path))

    # then every subscription is billed once, numbers without a gap or a duplicate
    assert f"billed {4_000 - left['invoices']} subscription periods" in rerun
    state = await billed_state(billing_database.admin_dsn, tenant_id)
    assert state == {
        "invoices": 4_000,
        "subscriptions_billed": 4_000,
        "numbers": 4_000,
        "first_number": 1,
        "last_number": 4_000,
        "subscriptions": 4_000,
    }
    assert await billing_database.advanced(tenant_id) == {"ACTIVE from 2026-03-01": 4_000}


async def test_bill_prints_what_it_billed_and_the_invoices_exist(
    billing_database: BillingDatabase, tmp_path: Path
) -> None:
    # given three subscriptions that come out of their trial on March 1st
    tenant_id = await billing_database.tenant_with_due_subscriptions(3)

    # when `ledgerline bill --as-of 2026-03-01T00:00:00Z` runs
    output = await asyncio.to_thread(finished, billing_database.worker(tmp_path))

    # then it says what it billed, and the invoices are there, numbered 1 to 3
    assert "billed 3 subscription periods as of 2026-03-01T00:00:00+00:00: 3 invoices" in output, (
        output
    )
    state = await billed_state(billing_database.admin_dsn, tenant_id)
    assert (state["invoices"], state["first_number"], state["last_number"]) == (3, 1, 3)

    # and a second run as of the same instant bills nothing more
    again = await asyncio.to_thread(finished, billing_database.worker(tmp_path))
    assert "billed 0 subscription periods" in again, again
    assert (await billed_state(billing_database.admin_dsn, tenant_id))["invoices"] == 3
