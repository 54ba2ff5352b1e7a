"""PostgreSQL restarted under load: while it is down requests answer 503
DATABASE_UNAVAILABLE, and once it is back the pool's dead connections are replaced, not
handed to requests."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.chaos.aftermath import Findings, verify_aftermath
from tests.chaos.conftest import ServeChaos
from tests.chaos.stage import ChaosDatabase
from tests.chaos.traffic import Traffic

pytestmark = pytest.mark.chaos

BEFORE_RESTART = 0.5
AFTER_RESTART = 1.0


async def test_a_postgres_restart_under_load_answers_503_then_serves(
    serve_chaos: ServeChaos, chaos_database: ChaosDatabase
) -> None:
    # given
    server = serve_chaos()
    traffic = Traffic(server.port, server.token, server.read_only_token, "restart")
    findings = Findings("a restart of the embedded PostgreSQL under load")
    log_from = len(server.log_lines)
    restarted: list[float] = []

    async def restart() -> None:
        await asyncio.sleep(BEFORE_RESTART)
        began = time.monotonic()
        await asyncio.to_thread(chaos_database.restart)
        restarted.append(time.monotonic())
        findings.note(f"PostgreSQL restarted in {restarted[0] - began:.2f} s")

    # when: 16 clients keep sending while PostgreSQL stops and starts again
    restarter = asyncio.create_task(restart())
    await traffic.run(
        clients=16,
        requests=None,
        pause=0.05,
        until=lambda: bool(restarted) and time.monotonic() > restarted[0] + AFTER_RESTART,
    )
    await restarter

    # then
    unavailable = [s for s in traffic.answered() if s.answer and s.answer.status == 503]
    findings.note(f"{len(unavailable)} answered 503")
    if not unavailable:
        findings.add("no request answered 503 while PostgreSQL was down")
    await verify_aftermath(
        traffic,
        server,
        chaos_database,
        disruption_ended=restarted[0],
        log_from=log_from,
        findings=findings,
    )
