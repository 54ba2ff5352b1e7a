"""Automatic collection outside requests: every tenant's due invoices, then the reconciler
for payments and refunds a crash or a silent provider left PENDING.

Any number of workers run it at once: invoices are claimed with FOR UPDATE SKIP LOCKED and
each attempt is recorded once (unique per invoice and attempt number) before the provider
is called.

A worker told to stop (`stop` set, on SIGTERM) finishes the batch in hand, whose commit
releases the invoices it claimed, and leaves the rest to the next run.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.dunning import DunningPolicy
from domain.payments import PaymentProvider
from domain.services.collection import collect_due
from domain.services.payments import settle_stale
from domain.services.refunds import settle_stale_refunds
from infra.payments import PaymentProviders
from infra.repositories.accounts import all_account_ids
from infra.uow import SqlUnitOfWork

_log = logging.getLogger("ledgerline.collection")


@dataclass(frozen=True, slots=True)
class CollectionResult:
    attempts: int
    reconciled: int


async def collect_everyone(
    engine: AsyncEngine,
    providers: PaymentProviders,
    as_of: datetime,
    policy: DunningPolicy,
    stop: asyncio.Event | None = None,
) -> CollectionResult:
    async with engine.connect() as conn:
        tenants = await all_account_ids(conn)
    attempts = reconciled = 0
    for tenant_id in tenants:
        if stop is not None and stop.is_set():
            break
        try:
            result = await collect_tenant(
                engine, providers.for_tenant(tenant_id), tenant_id, as_of, policy, stop
            )
        except Exception:  # one account's trouble (its provider down) stops no other's
            _log.exception("collection failed for account %s; the next round retries", tenant_id)
            continue
        attempts += result.attempts
        reconciled += result.reconciled
    return CollectionResult(attempts, reconciled)


async def collect_tenant(
    engine: AsyncEngine,
    provider: PaymentProvider,
    tenant_id: str,
    as_of: datetime,
    policy: DunningPolicy,
    stop: asyncio.Event | None = None,
) -> CollectionResult:
    """One tenant's due invoices, batch by batch, then its stale payments and refunds."""
    uow = SqlUnitOfWork.owning(engine, tenant_id)
    attempts = reconciled = 0
    while claimed := await collect_due(uow, provider, as_of, policy):
        attempts += claimed
        if stop is not None and stop.is_set():
            return CollectionResult(attempts, reconciled)
    reconciled += await settle_stale(uow, provider, as_of, dunning=policy)
    reconciled += await settle_stale_refunds(uow, provider, as_of)
    return CollectionResult(attempts, reconciled)
