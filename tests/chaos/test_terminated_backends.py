"""PostgreSQL backends terminated under in-flight requests (pg_terminate_backend, as an
administrator or a failover does) fail at most their own requests, with a JSON answer."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.chaos.aftermath import Findings, verify_aftermath
from tests.chaos.conftest import ServeChaos
from tests.chaos.stage import OWNER_APPLICATION, ChaosDatabase
from tests.chaos.traffic import Traffic

pytestmark = pytest.mark.chaos

# Two backends at a time, every 50 ms: busy with a request (running a statement or inside its
# transaction), or now and then one idle in the pool, which the next checkout must not trust.
# Not all of them: the requests on the others must go on unharmed.
TERMINATE = """
select pg_terminate_backend(pid) from pg_stat_activity
where datname = current_database() and backend_type = 'client backend'
  and application_name <> $1 and pid <> pg_backend_pid()
  and (state <> 'idle' or random() < 0.1)
order by random() limit 2
"""
EVERY = 0.05


async def test_terminated_backends_fail_only_their_own_requests(
    serve_chaos: ServeChaos, chaos_database: ChaosDatabase
) -> None:
    # given
    server = serve_chaos()
    traffic = Traffic(server.port, server.token, server.read_only_token, "terminate")
    findings = Findings("pg_terminate_backend of in-flight requests' backends")
    log_from = len(server.log_lines)
    done = asyncio.Event()
    terminated = 0

    async def terminate_backends() -> None:
        nonlocal terminated
        async with chaos_database.owner() as owner:
            while not done.is_set():
                terminated += len(await owner.fetch(TERMINATE, OWNER_APPLICATION))
                await asyncio.sleep(EVERY)

    # when: 16 clients send 200 reads and createCustomer while backends are terminated
    terminator = asyncio.create_task(terminate_backends())
    try:
        await traffic.run(clients=16, requests=200)
    finally:
        done.set()
        await terminator
    ended = time.monotonic()

    # then
    findings.note(f"{terminated} backends terminated")
    if not terminated:
        findings.add("no backend was terminated")
    await verify_aftermath(
        traffic,
        server,
        chaos_database,
        disruption_ended=ended,
        log_from=log_from,
        findings=findings,
    )
