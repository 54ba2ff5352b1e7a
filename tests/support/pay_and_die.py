"""Run as a process: pays an invoice through the payment service, and is killed (SIGKILL,
by itself) right after the provider charged and before the settlement commits.

    python -m tests.support.pay_and_die <database url> <tenant> <invoice> <request key|->
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

from domain.money import Money
from domain.payments import ChargeResult
from domain.services.payments import pay_invoice
from infra.db import create_engine
from infra.payments.sandbox import SandboxPaymentProvider
from infra.uow import SqlUnitOfWork


class KilledAfterCharging(SandboxPaymentProvider):
    async def charge(
        self,
        amount: Money,
        payment_method_ref: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> ChargeResult:
        await super().charge(amount, payment_method_ref, idempotency_key, metadata)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


async def main(url: str, tenant_id: str, invoice_id: str, request_key: str | None) -> None:
    engine = create_engine(url, pool_size=2)
    await pay_invoice(
        SqlUnitOfWork.owning(engine, tenant_id),
        KilledAfterCharging(engine, tenant_id),
        invoice_id,
        None,
        None,
        request_key=request_key,
        now=datetime.now(UTC),
    )


if __name__ == "__main__":
    url, tenant, invoice, key = sys.argv[1:5]
    asyncio.run(main(url, tenant, invoice, None if key == "-" else key))
