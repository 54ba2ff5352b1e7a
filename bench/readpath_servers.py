"""The three servers of the read-path benchmark, over one database: Ledgerline (`WORKERS=1`),
PostGraphile 4 (installed with npm from bench/package-lock.json) and the floor.

Each starts as a real process on a free port and is answering when its start function
returns; `Server` says where to send what.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.servers import ROOT, answering, free_port, start_ledgerline, stop, tree_cpu_seconds

BENCH = ROOT / "bench"
OPERATIONS = BENCH / "operations"


@dataclass
class Server:
    """A server under load: its URL, the headers it needs and its own spelling of the
    operations (operation name → GraphQL document file). An operation it does not answer
    is absent."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    operations: dict[str, Path]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return self.url.removesuffix("/graphql")

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        stop(self.process)


def operation_files(directory: Path) -> dict[str, Path]:
    return {path.stem: path for path in sorted(directory.glob("*.graphql"))}


def ledgerline(env: dict[str, str], token: str) -> Server:
    process, port = start_ledgerline({**env, "WORKERS": "1"})
    return Server(
        "Ledgerline",
        f"http://127.0.0.1:{port}/graphql",
        process,
        operation_files(OPERATIONS),
        {"Authorization": f"Bearer {token}"},
    )


def floor(env: dict[str, str], database_url: str, tenant: str) -> Server:
    port = free_port()
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.floor_server:app"]
        + ["--port", str(port), "--log-level", "warning"],
        env={**env, "FLOOR_DSN": dsn, "FLOOR_TENANT": tenant},
        cwd=ROOT,
    )
    answering(process, f"http://127.0.0.1:{port}/healthz")
    return Server("floor", f"http://127.0.0.1:{port}/graphql", process, operation_files(OPERATIONS))


def postgraphile(env: dict[str, str], database_url: str, tenant: str) -> Server:
    install_postgraphile()
    port = free_port()
    process = subprocess.Popen(
        ["node", str(BENCH / "postgraphile_server.js")],
        env={**env, **libpq_env(database_url), "BENCH_TENANT": tenant, "PORT": str(port)},
        cwd=BENCH,
    )
    answering(process, f"http://127.0.0.1:{port}/graphql", timeout=120)
    return Server(
        "PostGraphile",
        f"http://127.0.0.1:{port}/graphql",
        process,
        operation_files(OPERATIONS / "postgraphile"),
    )


def install_postgraphile() -> None:
    """`npm ci` into bench/node_modules unless the pinned version is there already."""
    if shutil.which("npm") is None:
        raise SystemExit("PostGraphile needs Node.js and npm (apt-get install nodejs npm).")
    wanted = json.loads((BENCH / "package.json").read_text())["dependencies"]["postgraphile"]
    installed = BENCH / "node_modules" / "postgraphile" / "package.json"
    if installed.exists() and json.loads(installed.read_text())["version"] == wanted:
        return
    print(f"Installing postgraphile@{wanted} into bench/node_modules ...", file=sys.stderr)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=BENCH, check=True
    )


def libpq_env(database_url: str) -> dict[str, str]:
    """The connection as libpq's variables, which node-postgres reads as well; a Unix socket
    (the embedded PostgreSQL's) comes as `?host=/dir` in SQLAlchemy's URL."""
    url = make_url(database_url)
    host = url.query.get("host") or url.host or "localhost"
    variables = {
        "PGHOST": host if isinstance(host, str) else host[0],
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "postgres",
        "PGDATABASE": url.database or "postgres",
    }
    if url.password:
        variables["PGPASSWORD"] = str(url.password)
    return variables
