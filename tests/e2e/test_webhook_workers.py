"""Webhook delivery by real `ledgerline worker` processes sharing the work through
PostgreSQL: 10,000 events to 5 endpoints with none lost, none out of order per object and
none sent twice; and a worker killed mid-delivery, whose deliveries another one finishes
(the only case in which a delivery may arrive twice).

The workers serve every tenant of their database, so these tests get a database of their
own, migrated once for the module.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.ids import new_id
from domain.services.webhooks import create_webhook_endpoint
from domain.webhooks import WebhookEndpointDraft
from infra.db import create_engine
from infra.migrate import upgrade_async
from infra.repositories.accounts import ensure_account
from infra.secret_box import SecretBox
from infra.uow import SqlUnitOfWork
from infra.webhooks.destinations import WebhookDestinations
from infra.webhooks.dispatcher import IN_FLIGHT_BATCHES
from tests.conftest import TEST_SECRET_KEY
from tests.support.server_process import free_port, server_env
from tests.support.webhook_receiver import Receiver, receiving

pytestmark = pytest.mark.e2e

DEADLINE = 180.0
BATCH = 20


def ledgerline() -> str:
    script = Path(sys.executable).parent / "ledgerline"
    return str(script) if script.exists() else (shutil.which("ledgerline") or "ledgerline")


class HooksDatabase:
    def __init__(self, url: str) -> None:
        self.url = url
        self.admin_dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self.engine: AsyncEngine = create_engine(url, pool_size=2)

    async def tenant(self) -> str:
        tenant_id = "t-" + secrets.token_hex(6)
        async with self.engine.begin() as conn:
            await ensure_account(conn, tenant_id, f"Webhook workers {tenant_id}")
        return tenant_id

    def uow(self, tenant_id: str) -> Any:
        return SqlUnitOfWork.owning(self.engine, tenant_id, secret_box=SecretBox(TEST_SECRET_KEY))

    async def endpoint(self, tenant_id: str, url: str, events: list[str]) -> str:
        made = await create_webhook_endpoint(
            self.uow(tenant_id),
            WebhookEndpointDraft(url=url, events=events),
            destinations=WebhookDestinations(production=False),
            now=_now(),
        )
        return made.endpoint.id

    async def events(self, tenant_id: str, objects: list[str], rounds: range) -> None:
        """One transaction per round: in each, one `customer.updated` per object, carrying
        the round number, so an object's events are numbered in the order they happened."""
        for n in rounds:
            uow = self.uow(tenant_id)
            async with uow:
                await uow.events.add_many(
                    [("customer.updated", object_id, {"n": n}) for object_id in objects]
                )
                await uow.commit()

    def worker(self, tmp_path: Path, **settings: str) -> subprocess.Popen[str]:
        env = server_env(
            tmp_path,
            free_port(),
            DATABASE_URL=self.url,
            SECRET_KEY=TEST_SECRET_KEY,
            LOG_LEVEL="WARNING",
            WEBHOOK_RETRY_BASE_SECONDS="0.01",
            WEBHOOK_RETRY_MAX_DELAY_SECONDS="0.05",
            WEBHOOK_POLL_SECONDS="0.05",
            WEBHOOK_BATCH_SIZE=str(BATCH),
            **settings,
        )
        return subprocess.Popen(
            [ledgerline(), "worker"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.fixture(scope="module")
async def hooks_database(pg_server: tuple[str, Any]) -> AsyncIterator[HooksDatabase]:
    server_url, _ = pg_server
    name = "ledgerline_hooks_" + secrets.token_hex(4)
    server_dsn = server_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(urlsplit(server_url)._replace(path="/" + name))
    await upgrade_async(url)
    database = HooksDatabase(url)
    try:
        yield database
    finally:
        await database.engine.dispose()
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f'drop database if exists "{name}" with (force)')
        finally:
            await admin.close()


def stop(worker: subprocess.Popen[str]) -> str:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    output, _ = worker.communicate(timeout=30)
    return output


async def wait_for(condition: Callable[[], bool], workers: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        for worker in workers:
            assert worker.poll() is None, stop(worker)
        assert time.monotonic() < deadline, "the deliveries never all arrived"
        await asyncio.sleep(0.1)


def delivered(receiver: Receiver) -> set[tuple[str, str]]:
    """(endpoint path, event id) of every delivery the receiver accepted."""
    return receiver.accepted


def order_per_object(receiver: Receiver) -> dict[tuple[str, str], list[int]]:
    """Per (endpoint path, object), the event numbers in the order they arrived (attempts
    answered with an error included)."""
    arrived: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in receiver.received:
        event = r.event
        arrived[(r.path, event["objectId"])].append(event["data"]["n"])
    return arrived


async def test_two_workers_deliver_ten_thousand_events_to_five_endpoints_in_order(
    hooks_database: HooksDatabase, tmp_path: Path
) -> None:
    # given 5 endpoints (three take every event, two name the type) on a receiver that
    # answers every 37th request of an endpoint with a 500
    paths = [f"/e{i}" for i in range(5)]
    with receiving(lambda _path, count: 500 if count % 37 == 0 else 200) as receiver:
        tenant_id = await hooks_database.tenant()
        for i, path in enumerate(paths):
            events = ["*"] if i < 3 else ["customer.updated"]
            await hooks_database.endpoint(tenant_id, receiver.url(path), events)
        # and 10,000 events about 500 objects, 20 each, half of them written before the
        # workers start and half while they deliver
        objects = [new_id("cus") for _ in range(500)]
        await hooks_database.events(tenant_id, objects, range(10))

        # when two worker processes deliver them
        workers = [hooks_database.worker(tmp_path) for _ in range(2)]
        try:
            await hooks_database.events(tenant_id, objects, range(10, 20))
            await wait_for(lambda: len(delivered(receiver)) >= 50_000, workers)
        finally:
            outputs = [stop(worker) for worker in workers]

    # then every event reached every endpoint, once
    accepted = Counter(
        (r.path, r.headers["webhook-id"]) for r in receiver.received if r.status == 200
    )
    assert len(accepted) == 50_000, outputs
    assert set(accepted.values()) == {1}, "a delivery was sent again after it succeeded"
    # and each endpoint got each object's events in order, a failed one again before the next
    arrived = order_per_object(receiver)
    assert len(arrived) == 5 * 500
    for numbers in arrived.values():
        assert numbers == sorted(numbers)
        assert sorted(set(numbers)) == list(range(20))
    # and both workers delivered
    assert all(worker.returncode == 0 for worker in workers), outputs


async def test_a_killed_workers_deliveries_are_finished_by_another(
    hooks_database: HooksDatabase, tmp_path: Path
) -> None:
    # given 2 endpoints, 2,000 events about 200 objects, and a receiver slow to answer
    paths = ["/k0", "/k1"]
    with receiving(delay=0.05) as receiver:
        tenant_id = await hooks_database.tenant()
        for path in paths:
            await hooks_database.endpoint(tenant_id, receiver.url(path), ["*"])
        objects = [new_id("cus") for _ in range(200)]
        await hooks_database.events(tenant_id, objects, range(10))
        short_lease = {"WEBHOOK_TIMEOUT_SECONDS": "1", "WEBHOOK_LEASE_SECONDS": "2"}

        # when one worker is killed (SIGKILL) in the middle of its deliveries
        first = hooks_database.worker(tmp_path, **short_lease)
        try:
            await wait_for(lambda: len(receiver.received) >= 300, [first])
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=10)
        assert first.returncode == -signal.SIGKILL
        before = len(delivered(receiver))
        assert before < 4_000

        # and another one takes over
        second = hooks_database.worker(tmp_path, **short_lease)
        try:
            await wait_for(lambda: len(delivered(receiver)) >= 4_000, [second])
        finally:
            stop(second)

    # then nothing was lost, and each object's events still arrived in order
    accepted = Counter(
        (r.path, r.headers["webhook-id"]) for r in receiver.received if r.status == 200
    )
    assert len(accepted) == 4_000
    for numbers in order_per_object(receiver).values():
        assert numbers == sorted(numbers)
    # and what the killed worker had sent but not recorded was sent again, and only that
    twice = [key for key, count in accepted.items() if count > 1]
    assert max(accepted.values()) <= 2
    assert 0 < len(twice) <= BATCH * IN_FLIGHT_BATCHES


async def test_sigterm_lets_a_delivery_in_flight_finish_and_records_it(
    hooks_database: HooksDatabase, tmp_path: Path
) -> None:
    # given: a receiver that holds the first delivery until the test releases it
    arrived, release = threading.Event(), threading.Event()

    def answer(_path: str, _count: int) -> int:
        arrived.set()
        release.wait(DEADLINE)
        return 200

    with receiving(answer) as receiver:
        tenant_id = await hooks_database.tenant()
        await hooks_database.endpoint(tenant_id, receiver.url("/held"), ["*"])
        await hooks_database.events(tenant_id, [new_id("cus")], range(1))
        worker = hooks_database.worker(tmp_path)
        output: list[str] = []
        assert worker.stdout is not None
        reader = threading.Thread(target=lambda: output.extend(worker.stdout), daemon=True)
        reader.start()
        try:
            await wait_for(arrived.is_set, [worker])
            # when: SIGTERM while the delivery is in flight, and it is answered afterwards
            worker.send_signal(signal.SIGTERM)
            await wait_for(lambda: any("stopping:" in line for line in output), [worker])
            release.set()
            # then: the worker exits cleanly once it recorded the answer
            assert worker.wait(30) == 0, "".join(output)
        finally:
            release.set()
            if worker.poll() is None:
                worker.kill()
                worker.wait(10)
            reader.join(10)
            worker.stdout.close()
    conn = await asyncpg.connect(hooks_database.admin_dsn)
    try:
        rows = await conn.fetch(
            "select status, attempts, lease_token from webhook_deliveries where tenant_id = $1",
            tenant_id,
        )
    finally:
        await conn.close()
    assert [(r["status"], r["attempts"], r["lease_token"]) for r in rows] == [
        ("SUCCEEDED", 1, None)
    ], rows
    assert len(receiver.received) == 1
