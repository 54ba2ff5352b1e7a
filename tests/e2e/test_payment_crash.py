"""A process killed between the provider's charge and the database commit: the retry
(with the same Idempotency-Key) or the worker's reconciler (without one) settles the
payment it recorded, and the provider charged exactly once."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from domain.services.payments import settle_stale
from infra.payments.sandbox import SandboxPaymentProvider
from infra.uow import SqlUnitOfWork
from tests.api.test_payments import charges, open_invoice, pay
from tests.conftest import Tenant, TestDatabase

pytestmark = pytest.mark.e2e


async def killed_while_paying(
    database: TestDatabase, tenant: Tenant, invoice_id: str, key: str
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.pay_and_die", database.url, tenant.id, invoice_id, key
    )
    assert await asyncio.wait_for(process.wait(), 60) == -signal.SIGKILL


async def recorded(admin: asyncpg.Connection, tenant: Tenant) -> list[asyncpg.Record]:
    return await admin.fetch("select * from payments where tenant_id = $1", tenant.id)


async def test_a_retry_with_the_same_key_settles_the_charge_the_killed_process_made(
    tenant: Tenant, test_database: TestDatabase, admin: asyncpg.Connection
) -> None:
    # given a process killed right after the provider charged the invoice
    _, invoice_id, _ = await open_invoice(tenant)
    await killed_while_paying(test_database, tenant, invoice_id, "crash-key/payInvoice")
    [pending] = await recorded(admin, tenant)
    assert pending["status"] == "PENDING" and len(await charges(admin, tenant)) == 1
    # when the caller retries with the same Idempotency-Key
    again = await pay(tenant, invoiceId=invoice_id, headers={"Idempotency-Key": "crash-key"})
    # then the recorded payment succeeds, nothing more is charged, the invoice is paid
    assert again["payment"]["id"] == pending["id"] and again["payment"]["status"] == "SUCCEEDED"
    assert again["payment"]["invoice"]["status"] == "PAID"
    assert len(await charges(admin, tenant)) == 1
    assert len(await recorded(admin, tenant)) == 1


async def test_without_a_key_the_reconciler_settles_it_and_a_new_payment_is_refused(
    tenant: Tenant, test_database: TestDatabase, admin: asyncpg.Connection
) -> None:
    # given a process killed after charging, its caller sending no Idempotency-Key
    _, invoice_id, _ = await open_invoice(tenant)
    await killed_while_paying(test_database, tenant, invoice_id, "-")
    # then a new payment meanwhile is refused: the pending one holds the whole amount
    meanwhile = await pay(tenant, invoiceId=invoice_id)
    assert [e["code"] for e in meanwhile["userErrors"]] == ["AMOUNT_EXCEEDS_REMAINING"]
    # when the worker's reconciler runs once the payment is stale
    engine = tenant.app.state.engine
    settled = await settle_stale(
        SqlUnitOfWork.owning(engine, tenant.id),
        SandboxPaymentProvider(engine, tenant.id),
        datetime.now(UTC) + timedelta(minutes=2),
    )
    # then the payment succeeded with the one charge made, and the invoice is paid
    assert settled == 1
    [payment] = await recorded(admin, tenant)
    assert payment["status"] == "SUCCEEDED"
    assert len(await charges(admin, tenant)) == 1
    status = await admin.fetchval("select status from invoices where id = $1", invoice_id)
    assert status == "PAID"
