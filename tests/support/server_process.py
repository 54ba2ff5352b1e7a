"""`ledgerline serve` as a child process: settings isolated from the caller's environment,
readiness awaited over HTTP, output captured, stopped with SIGTERM.

Shared by the suites that speak real HTTP to the real server (tests/e2e, tests/chaos).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
# Everything Settings reads, so the caller's environment never leaks into a test server.
SETTINGS_VARIABLES = {
    "DATABASE_URL",
    "WORKERS",
    "SHUTDOWN_TIMEOUT",
    "ENVIRONMENT",
    "GRAPHIQL",
    "GRAPHIQL_CDN",
    "OAUTH_ISSUER",
    "OAUTH_AUDIENCE",
    "OAUTH_JWKS_URL",
    "TOKEN_TTL_SECONDS",
    "LOG_LEVEL",
    "HOST",
    "PORT",
    "DATA_DIR",
    "DATABASE_POOL_SIZE",
    "DATABASE_POOL_TIMEOUT",
    "STATEMENT_TIMEOUT",
    "PLANNED_READS",
    "SECRET_KEY",
    "INTROSPECTION",
    "XDG_RUNTIME_DIR",
    "WEBHOOK_TIMEOUT_SECONDS",
    "WEBHOOK_MAX_ATTEMPTS",
    "WEBHOOK_RETRY_BASE_SECONDS",
    "WEBHOOK_RETRY_MAX_DELAY_SECONDS",
    "WEBHOOK_DISABLE_AFTER_FAILURES",
    "WEBHOOK_LEASE_SECONDS",
    "WEBHOOK_BATCH_SIZE",
    "WEBHOOK_POLL_SECONDS",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_SAMPLE_RATIO",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(data_dir: Path, port: int, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTINGS_VARIABLES}
    # Rate limits on, far above what the traffic of these tests spends (a chaos run sends
    # hundreds of 100-row pages a second); a test may set its own.
    env.update(RATE_LIMIT_ACCOUNT="100000000/minute", RATE_LIMIT_CLIENT="100000000/minute")
    env.update(
        HOST="127.0.0.1", PORT=str(port), DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", **settings
    )
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    port: int
    env: dict[str, str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_output(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output, re.MULTILINE)
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} never printed; output:\n{self.output}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then wait; kills only a server that does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.reader is not None:
            self.reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def start_server(env: dict[str, str], port: int) -> RunningServer:
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "serve"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = RunningServer(process=process, port=port, env=env)
    assert process.stdout is not None
    server.reader = threading.Thread(
        target=lambda: server.lines.extend(process.stdout), daemon=True
    )
    server.reader.start()
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(base_url=server.base_url, timeout=2.0) as http:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if http.get("/readyz").status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    server.stop()
    raise AssertionError(f"server never became ready; output:\n{server.output}")


@contextmanager
def serving(env: dict[str, str], port: int) -> Iterator[RunningServer]:
    server = start_server(env, port)
    try:
        yield server
    finally:
        server.stop()


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    """Processes whose command line names the data directory (the embedded postmaster)."""
    needle = str(data_dir.resolve())
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = process.info["cmdline"] or []
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if process.pid != os.getpid() and any(needle in part for part in cmdline):
            found.append(process)
    return found


def stop_leftover_postgres(data_dir: Path) -> None:
    """Stops an embedded PostgreSQL a test's server left running (fast shutdown)."""
    for process in postgres_processes(data_dir):
        try:
            process.send_signal(signal.SIGINT)
            process.wait(10)
        except psutil.NoSuchProcess:
            continue
        except psutil.TimeoutExpired:
            process.kill()


def is_alive(process: psutil.Process) -> bool:
    """Running and not a zombie (an exited child nobody reaped yet)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
