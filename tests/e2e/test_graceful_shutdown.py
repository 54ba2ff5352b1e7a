"""SIGTERM to `ledgerline serve` (docker stop, a Kubernetes pod ending): the server stops
taking requests, and those in flight finish with their answer, within SHUTDOWN_TIMEOUT.

A request is held in flight without timing anything: it reads `customers` while an
administrator holds a lock on that table, and PostgreSQL reports it waiting for the lock."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from infra.db import create_engine
from infra.repositories.accounts import ensure_account
from infra.seed import DEMO_TENANT
from tests import conftest
from tests.support.databases import fresh_database
from tests.support.server_process import (
    STOP_TIMEOUT,
    RunningServer,
    free_port,
    server_env,
    start_server,
)

pytestmark = pytest.mark.e2e

COUNT = "{ customers(first: 1) { totalCount } }"
WAIT_TIMEOUT = 30.0


class Request(threading.Thread):
    """One GraphQL request from a thread of its own; `response` or `error` once it ended."""

    def __init__(self, server: RunningServer, token: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{server.base_url}/graphql"
        self.token = token
        self.response: httpx.Response | None = None
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self.response = httpx.post(
                self.url,
                json={"query": COUNT},
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=WAIT_TIMEOUT,
            )
        except Exception as exc:
            self.error = exc


@pytest.fixture
async def own_database(
    test_database: conftest.TestDatabase,
) -> AsyncIterator[conftest.TestDatabase]:
    """A database of its own holding the demo account (the development token's), and so
    not empty: `serve` seeds nothing, and the session's database never gets `demo`."""
    async with fresh_database(test_database) as database:
        engine = create_engine(database.url, pool_size=1, app_role=False)
        try:
            async with engine.begin() as conn:
                await ensure_account(conn, DEMO_TENANT, "Demo Merchant")
        finally:
            await engine.dispose()
        yield database


@pytest.fixture
async def admin(own_database: conftest.TestDatabase) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(own_database.admin_dsn)
    try:
        yield conn
    finally:
        await conn.close()


def _serve(test_database: conftest.TestDatabase, data_dir: Path, **settings: str) -> RunningServer:
    port = free_port()
    env = server_env(
        data_dir,
        port,
        DATABASE_URL=test_database.url,
        SECRET_KEY=conftest.TEST_SECRET_KEY,
        **settings,
    )
    return start_server(env, port)


def _token(server: RunningServer) -> str:
    return server.wait_for_output(r"^  token:\s+(\S+)$").group(1)


async def _wait_until_blocked_on_the_lock(admin: asyncpg.Connection) -> None:
    deadline = time.monotonic() + WAIT_TIMEOUT
    while time.monotonic() < deadline:
        waiting = await admin.fetchval(
            "select count(*) from pg_stat_activity"
            " where wait_event_type = 'Lock' and datname = current_database()"
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the request never waited for the lock")


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_a_request_in_flight_at_sigterm_completes_with_200(
    own_database: conftest.TestDatabase,
    admin: asyncpg.Connection,
    tmp_path: Path,
    workers: str,
) -> None:
    # given: a server, and a request held in flight by a lock on `customers`
    server = _serve(own_database, tmp_path, WORKERS=workers)
    try:
        request = Request(server, _token(server))
        locked = admin.transaction()
        await locked.start()
        try:
            await admin.execute("lock table customers in access exclusive mode")
            request.start()
            await _wait_until_blocked_on_the_lock(admin)
            # when: the server is told to stop, and has begun to while the request waits
            server.process.send_signal(signal.SIGTERM)
            server.wait_for_output(r"Waiting for connections to close")
            assert server.process.poll() is None, "the server left before its request ended"
        finally:
            await locked.rollback()
        # then: the request is answered in full, and the server exits cleanly afterwards
        request.join(WAIT_TIMEOUT)
        assert request.error is None, request.error
        assert request.response is not None
        assert request.response.status_code == 200, request.response.text
        assert request.response.json()["data"]["customers"]["totalCount"] >= 0
        assert server.process.wait(STOP_TIMEOUT) == 0, server.output
    finally:
        server.stop()


async def test_a_request_still_running_after_shutdown_timeout_does_not_hold_the_server(
    own_database: conftest.TestDatabase, admin: asyncpg.Connection, tmp_path: Path
) -> None:
    # given: SHUTDOWN_TIMEOUT=1 and a request that waits on a lock that is not released
    server = _serve(own_database, tmp_path, SHUTDOWN_TIMEOUT="1")
    try:
        request = Request(server, _token(server))
        locked = admin.transaction()
        await locked.start()
        try:
            await admin.execute("lock table customers in access exclusive mode")
            request.start()
            await _wait_until_blocked_on_the_lock(admin)
            # when
            server.process.send_signal(signal.SIGTERM)
            # then: the server ends while the lock is still held, cancelling the request
            assert server.process.wait(STOP_TIMEOUT) == 0, server.output
            assert "timeout graceful shutdown exceeded" in server.output
        finally:
            await locked.rollback()
        request.join(WAIT_TIMEOUT)
        assert request.response is None or request.response.status_code != 200
    finally:
        server.stop()
