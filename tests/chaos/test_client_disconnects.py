"""Clients that go away mid-request (TCP closed while sending the body, after sending it,
while reading the answer) break no other request and leave nothing half-done."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.chaos.aftermath import Findings, verify_aftermath
from tests.chaos.conftest import ServeChaos
from tests.chaos.stage import ChaosDatabase
from tests.chaos.traffic import Cut, Mix, Traffic

pytestmark = pytest.mark.chaos


async def test_clients_that_go_away_break_no_other_request(
    serve_chaos: ServeChaos, chaos_database: ChaosDatabase
) -> None:
    # given
    server = serve_chaos()
    traffic = Traffic(server.port, server.token, server.read_only_token, "disconnects")
    findings = Findings("client disconnects in the middle of 200 requests")
    log_from = len(server.log_lines)

    # when: 16 clients send 200 requests; a third of them go away part-way
    await traffic.run(clients=16, requests=200, mix=Mix(cut=0.35))
    ended = time.monotonic()

    # then
    cuts = Counter(sent.cut for sent in traffic.sent if sent.cut is not None)
    findings.note("cut: " + ", ".join(f"{cut.name} {cuts[cut]}" for cut in Cut))
    for cut in Cut:
        if not cuts[cut]:
            findings.add(f"no request was {cut.value}")
    await verify_aftermath(
        traffic,
        server,
        chaos_database,
        disruption_ended=ended,
        log_from=log_from,
        findings=findings,
    )
