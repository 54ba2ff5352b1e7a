"""What the benchmarks share: the database, Ledgerline as a real server process, a token."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

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
    }


def cli_token(env: dict[str, str], tenant: str, scopes: str) -> str:
    command = [sys.executable, "-m", "infra.cli", "token", "--tenant", tenant, "--scopes", scopes]
    done = subprocess.run(
        env=env, cwd=ROOT, capture_output=True, text=True, check=True, args=command
    )
    return done.stdout.strip()


def start_ledgerline(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """`ledgerline serve` on a free port, answering once this returns."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "serve"],
        env={**env, "PORT": str(port)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    wait_ready(f"http://127.0.0.1:{port}/readyz")
    return process, port


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None:
        process.terminate()
        process.wait(10)
