"""A statement that hits STATEMENT_TIMEOUT (here: waiting on a lock an administrator holds)
answers 503 DATABASE_UNAVAILABLE with Retry-After after about the timeout, and the server
serves normally once the lock is gone."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.chaos.aftermath import Findings, verify_aftermath
from tests.chaos.conftest import ServeChaos
from tests.chaos.stage import ChaosDatabase
from tests.chaos.traffic import Traffic

pytestmark = pytest.mark.chaos

STATEMENT_TIMEOUT = 1.0
LOCK_HELD = 2.5
AFTER_RELEASE = 0.5


async def test_a_statement_timeout_answers_503_and_breaks_nothing(
    serve_chaos: ServeChaos, chaos_database: ChaosDatabase
) -> None:
    # given: a one-second statement timeout
    server = serve_chaos(STATEMENT_TIMEOUT=str(STATEMENT_TIMEOUT))
    traffic = Traffic(server.port, server.token, server.read_only_token, "timeout")
    findings = Findings("a statement timeout hit on purpose")
    log_from = len(server.log_lines)
    released: list[float] = []

    async with chaos_database.owner() as owner:
        # when: the customers table is locked for 2.5 s while 16 clients send requests
        locked = owner.transaction()
        await locked.start()
        await owner.execute("lock table customers in access exclusive mode")
        locked_at = time.monotonic()

        async def release_later() -> None:
            await asyncio.sleep(LOCK_HELD)
            await locked.rollback()
            released.append(time.monotonic())

        releaser = asyncio.create_task(release_later())
        await traffic.run(
            clients=16,
            requests=None,
            pause=0.05,
            until=lambda: bool(released) and time.monotonic() > released[0] + AFTER_RELEASE,
        )
        await releaser

    # then: requests blocked by the lock answered 503 after about the timeout, while the lock
    # was still held (so the timeout answered them, not the lock's release)
    blocked = [s for s in traffic.sent if s.started < released[0] and s.answer is not None]
    timed_out = [s for s in blocked if s.answer and s.answer.status == 503]
    findings.note(f"{len(blocked)} requests sent while locked, {len(timed_out)} answered 503")
    if not any(s.started + s.elapsed < released[0] for s in timed_out):
        findings.add("no request answered 503 while the table was locked")
    for sent in timed_out:
        if sent.elapsed > STATEMENT_TIMEOUT + 2.0:  # slack for a loaded machine
            findings.add("a 503 came long after the statement timeout", sent.describe())
    findings.note(f"lock held {released[0] - locked_at:.2f} s")
    await verify_aftermath(
        traffic,
        server,
        chaos_database,
        disruption_ended=released[0],
        log_from=log_from,
        findings=findings,
    )
