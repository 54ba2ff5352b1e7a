"""The stage a chaos scenario plays on: the suite's own embedded PostgreSQL, seen as its
owner, and a `ledgerline serve` process on it with tokens of the suite's tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from infra.embedded_postgres import EmbeddedPostgres
from tests.support.server_process import RunningServer

DATABASE = "ledgerline_chaos"
# The suite's own connections, told apart from the server's in pg_stat_activity.
OWNER_APPLICATION = "chaos-owner"


@dataclass
class ChaosDatabase:
    """The embedded PostgreSQL of the chaos suite, and its owner's view of it."""

    data_dir: Path
    embedded: EmbeddedPostgres

    @property
    def url(self) -> str:
        return self.embedded.url(DATABASE)

    @asynccontextmanager
    async def owner(self) -> AsyncIterator[asyncpg.Connection]:
        """The superuser, outside row-level security, marked as the suite's connection."""
        conn = await asyncpg.connect(
            user="postgres",
            host=self.embedded.socket_dir,
            database=DATABASE,
            server_settings={"application_name": OWNER_APPLICATION},
        )
        try:
            yield conn
        finally:
            await conn.close(timeout=5)

    def restart(self) -> None:
        """Stop (fast shutdown: every backend terminated) and start on the same data
        directory; the socket, and so the server's DATABASE_URL, stays where it was."""
        socket_dir = self.embedded.socket_dir
        self.embedded.stop()
        self.embedded.start()
        assert self.embedded.socket_dir == socket_dir, "the socket moved: DATABASE_URL broke"


@dataclass
class ChaosServer:
    """`ledgerline serve` on the chaos database, with tokens of the suite's tenant."""

    running: RunningServer
    tenant: str
    token: str  # customers:read customers:write
    read_only_token: str  # customers:read
    pool_size: int

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def max_connections(self) -> int:
        """The pool's size and as many again on bursts (infra.db.create_engine)."""
        return 2 * self.pool_size

    @property
    def log_lines(self) -> list[str]:
        return self.running.lines
