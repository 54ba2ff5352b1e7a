"""The chaos suite's world: an embedded PostgreSQL of its own (so it can be stopped,
restarted and have its backends terminated without disturbing the rest of the session,
with or without TEST_DATABASE_URL), one tenant with an OAuth client made by the CLI, and
`ledgerline serve` processes on that database, one per scenario.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from infra.embedded_postgres import EmbeddedPostgres
from infra.migrate import upgrade_async
from tests import conftest
from tests.chaos.stage import DATABASE, ChaosDatabase, ChaosServer
from tests.support.server_process import (
    RunningServer,
    free_port,
    run_cli,
    server_env,
    start_server,
    stop_leftover_postgres,
)

SCOPES = "customers:read customers:write"


@pytest.fixture(scope="package")
async def chaos_database() -> AsyncIterator[ChaosDatabase]:
    # Short path: PostgreSQL's Unix socket lives inside it (107-byte limit).
    data_dir = Path(tempfile.mkdtemp(prefix="ll-chaos-"))
    os.chmod(data_dir, 0o755)  # PostgreSQL runs as its own system user when we are root
    embedded = EmbeddedPostgres(data_dir)
    try:
        embedded.start()
        await embedded.ensure_database(DATABASE)
        database = ChaosDatabase(data_dir, embedded)
        await upgrade_async(database.url)
        yield database
    finally:
        embedded.stop()
        stop_leftover_postgres(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass(frozen=True)
class ChaosClient:
    """The OAuth client of the suite's tenant, made with `ledgerline clients create`."""

    tenant: str
    client_id: str
    client_secret: str


@pytest.fixture(scope="package")
def chaos_client(
    chaos_database: ChaosDatabase, tmp_path_factory: pytest.TempPathFactory
) -> ChaosClient:
    env = server_env(
        tmp_path_factory.mktemp("chaos-cli"),
        0,
        DATABASE_URL=chaos_database.url,
        SECRET_KEY=conftest.TEST_SECRET_KEY,
    )
    tenant = "chaos-" + secrets.token_hex(4)
    created = run_cli(env, "clients", "create", "--tenant", tenant, "--scopes", SCOPES)
    assert created.returncode == 0, created.stderr
    printed = json.loads(created.stdout)
    return ChaosClient(tenant, printed["client_id"], printed["client_secret"])


def _issue(base_url: str, client: ChaosClient, scope: str) -> str:
    issued = httpx.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client.client_id, client.client_secret),
        timeout=10.0,
    )
    assert issued.status_code == 200, issued.text
    return issued.json()["access_token"]


ServeChaos = Callable[..., ChaosServer]


@pytest.fixture
def serve_chaos(
    chaos_database: ChaosDatabase, chaos_client: ChaosClient, tmp_path: Path
) -> Iterator[ServeChaos]:
    """Starts `ledgerline serve` with extra settings (DATABASE_POOL_SIZE=..., ...)."""
    started: list[RunningServer] = []

    def serve(**settings: str) -> ChaosServer:
        port = free_port()
        env = server_env(
            tmp_path,
            port,
            DATABASE_URL=chaos_database.url,
            SECRET_KEY=conftest.TEST_SECRET_KEY,
            **settings,
        )
        running = start_server(env, port)
        started.append(running)
        return ChaosServer(
            running,
            chaos_client.tenant,
            token=_issue(running.base_url, chaos_client, SCOPES),
            read_only_token=_issue(running.base_url, chaos_client, "customers:read"),
            pool_size=int(settings.get("DATABASE_POOL_SIZE", "20")),
        )

    yield serve
    for running in started:
        # A server wedged by a failed scenario is killed rather than waited for.
        running.stop(timeout=10)
