"""A pool exhausted by slow requests: requests that cannot get a connection within
DATABASE_POOL_TIMEOUT answer 503 DATABASE_UNAVAILABLE with Retry-After at once, rather than
queueing behind the slow ones; the slow ones finish; nothing is left broken."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.chaos.aftermath import Findings, verify_aftermath
from tests.chaos.conftest import ServeChaos
from tests.chaos.stage import ChaosDatabase
from tests.chaos.traffic import Operation, Traffic

pytestmark = pytest.mark.chaos

LOCK_HELD = 3.0
POOL_TIMEOUT = 1.0


async def test_an_exhausted_pool_answers_503_quickly_and_recovers(
    serve_chaos: ServeChaos, chaos_database: ChaosDatabase
) -> None:
    # given: at most two connections, and one second to wait for one
    server = serve_chaos(DATABASE_POOL_SIZE="1", DATABASE_POOL_TIMEOUT=str(POOL_TIMEOUT))
    traffic = Traffic(server.port, server.token, server.read_only_token, "pool")
    findings = Findings("a pool exhausted by slow requests")
    log_from = len(server.log_lines)

    async with chaos_database.owner() as owner:
        # when: the customers table is locked, so requests that reach it wait; 10 are sent
        locked = owner.transaction()
        await locked.start()
        await owner.execute("lock table customers in access exclusive mode")
        operations = [Operation.CREATE, Operation.READ] * 5
        requests = [asyncio.create_task(traffic.send(op)) for op in operations]
        await asyncio.sleep(LOCK_HELD)
        await locked.rollback()
        released = time.monotonic()
        sent = await asyncio.gather(*requests)

    # then: those without a connection answered 503 within about the pool timeout; those
    # with one waited for the lock and succeeded
    refused = [s for s in sent if s.answer is not None and s.answer.status == 503]
    served = [s for s in sent if s.answer is not None and s.answer.status == 200]
    findings.note(f"{len(refused)} answered 503, {len(served)} answered 200")
    if not refused:
        findings.add("no request answered 503 though the pool was exhausted")
    for request in refused:
        if request.started + request.elapsed >= released:
            findings.add("a 503 came only once the slow requests were done", request.describe())
    if not 1 <= len(served) <= server.max_connections:
        findings.add(f"{len(served)} requests served with a pool of {server.max_connections}")
    for request in served:
        if request.started + request.elapsed < released:
            findings.add("a request finished while the lock was held", request.describe())
    await verify_aftermath(
        traffic,
        server,
        chaos_database,
        disruption_ended=released,
        log_from=log_from,
        findings=findings,
    )
