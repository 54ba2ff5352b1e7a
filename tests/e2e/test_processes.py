"""What a process leaves behind when it ends: the workers of a killed `ledgerline serve` stop
too, the embedded PostgreSQL it leaves running is taken over by the next start, and a test run
ended by SIGTERM stops its embedded PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from infra.http.health import MULTIPROCESS_DIR
from tests import conftest
from tests.e2e import test_server
from tests.support.server_process import (
    READY_TIMEOUT,
    REPO,
    STOP_TIMEOUT,
    RunningServer,
    free_port,
    is_alive,
    postgres_processes,
    server_env,
    serving,
    start_server,
    stop_leftover_postgres,
)

pytestmark = pytest.mark.e2e
embedded_data_dir = test_server.embedded_data_dir  # the fixture: a fresh DATA_DIR

GONE_TIMEOUT = 10.0

# A parent that starts one child the way uvicorn starts its workers (multiprocessing, spawn),
# prints the child's pid and waits to be killed. The child binds itself to its parent as a
# worker does, in the way argv[1] names, then stays until something stops it.
SPAWNING_PARENT = """
import multiprocessing
import sys
import time

from infra import process_supervision


def child(mode: str) -> None:
    if mode == "late":
        time.sleep(2.0)  # the parent is killed meanwhile
        process_supervision.stop_when_parent_exits()
    elif mode == "poll":
        process_supervision.watch_parent(multiprocessing.parent_process().pid, interval=0.2)
    time.sleep(120)


if __name__ == "__main__":
    process = multiprocessing.get_context("spawn").Process(target=child, args=(sys.argv[1],))
    process.start()
    print(process.pid, flush=True)
    time.sleep(120)
"""

# One test holding the session's embedded PostgreSQL (tests/conftest.py) until it is stopped;
# it writes the data directory to {ready!r} once the server runs.
HOLDING_TEST = """
import time
from pathlib import Path


def test_holds_the_embedded_postgres(pg_server):
    _, embedded = pg_server
    Path({ready!r}).write_text(str(embedded.pgdata))
    time.sleep(120)
"""


def within(seconds: float, condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def can_listen_on(port: int) -> bool:
    """Whether a new server could listen on the port (with SO_REUSEADDR, as uvicorn binds: a
    closed connection's TIME_WAIT does not hold the port, a listening socket does)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
    return True


def worker_processes(server: RunningServer) -> list[psutil.Process]:
    supervisor = psutil.Process(server.process.pid)
    return [child for child in supervisor.children() if "spawn_main" in " ".join(child.cmdline())]


def kill_leftovers(processes: list[psutil.Process]) -> None:
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


# --- workers ----------------------------------------------------------------------------


def test_workers_of_a_killed_supervisor_stop_and_free_the_port(
    test_database: conftest.TestDatabase, tmp_path: Path
) -> None:
    # given: WORKERS=2 serving the session's test database
    port = free_port()
    env = server_env(
        tmp_path,
        port,
        DATABASE_URL=test_database.url,
        SECRET_KEY=conftest.TEST_SECRET_KEY,
        WORKERS="2",
    )
    running = start_server(env, port)
    workers: list[psutil.Process] = []
    metrics_dir = None
    try:
        workers = worker_processes(running)
        assert len(workers) == 2, workers
        # (a killed supervisor cannot remove its metrics directory; the test does)
        metrics_dir = workers[0].environ().get(MULTIPROCESS_DIR)
        # when: the supervisor is killed, with no chance to stop its workers
        running.process.kill()
        running.process.wait(STOP_TIMEOUT)
        # then: every worker stops, and the port is free for the next server
        assert within(GONE_TIMEOUT, lambda: not any(is_alive(w) for w in workers)), [
            w.pid for w in workers if is_alive(w)
        ]
        assert within(GONE_TIMEOUT, lambda: can_listen_on(port))
    finally:
        # First: a worker left running holds the server's output open, which stop() reads to
        # its end.
        kill_leftovers(workers)
        running.stop()
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param("late", id="parent-died-before-the-worker-asked-to-be-signalled"),
        pytest.param("poll", id="without-the-parent-death-signal"),
    ],
)
def test_a_worker_stops_when_its_parent_is_killed(tmp_path: Path, mode: str) -> None:
    # given: a parent with one spawned child
    script = tmp_path / "spawning_parent.py"
    script.write_text(SPAWNING_PARENT)
    parent = subprocess.Popen(
        [sys.executable, str(script), mode],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    child = None
    try:
        assert parent.stdout is not None
        child = psutil.Process(int(parent.stdout.readline()))
        # when
        parent.kill()
        parent.wait(STOP_TIMEOUT)
        # then
        assert within(GONE_TIMEOUT, lambda: not is_alive(child))
    finally:
        parent.kill()
        parent.wait(STOP_TIMEOUT)
        if parent.stdout is not None:
            parent.stdout.close()
        kill_leftovers([child] if child is not None else [])


# --- embedded PostgreSQL ----------------------------------------------------------------


def test_the_next_start_takes_over_a_killed_servers_postgres_and_stops_it(
    embedded_data_dir: Path,
) -> None:
    # given: a server on the embedded PostgreSQL, killed outright
    port = free_port()
    env = server_env(embedded_data_dir, port)
    first = start_server(env, port)
    try:
        left_running = [process.pid for process in postgres_processes(embedded_data_dir)]
        first.process.kill()
        first.process.wait(STOP_TIMEOUT)
    finally:
        first.stop()
    assert left_running, "the embedded PostgreSQL runs in DATA_DIR"
    assert [process.pid for process in postgres_processes(embedded_data_dir)] == left_running

    # when: the server starts again on the same DATA_DIR, then stops
    with serving(env, port):
        while_serving = [process.pid for process in postgres_processes(embedded_data_dir)]

    # then: it used the PostgreSQL left running, and stopped it
    assert while_serving == left_running
    leftovers = postgres_processes(embedded_data_dir)
    assert leftovers == [], [process.info["cmdline"] for process in leftovers]


def test_sigterm_to_the_test_run_stops_its_embedded_postgres(tmp_path: Path) -> None:
    # given: a test run (TEST_DATABASE_URL unset) whose only test holds the embedded PostgreSQL
    ready = tmp_path / "ready"
    module = tmp_path / "test_holding.py"
    module.write_text(HOLDING_TEST.format(ready=str(ready)))
    # Short: the embedded server's Unix socket lives in its data directory (107-byte limit).
    temp_dir = Path(tempfile.mkdtemp(prefix="ll-sig-"))
    os.chmod(temp_dir, 0o755)  # PostgreSQL runs as its own system user when we are root
    env = {k: v for k, v in os.environ.items() if k not in {"TEST_DATABASE_URL", "XDG_RUNTIME_DIR"}}
    env["TMPDIR"] = str(temp_dir)
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(REPO / "pyproject.toml"),
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            str(module),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert within(READY_TIMEOUT, lambda: ready.exists() or run.poll() is not None)
        assert ready.exists(), run.communicate()[0]
        pgdata = Path(ready.read_text())
        assert postgres_processes(pgdata), "the embedded PostgreSQL runs"
        # when
        run.send_signal(signal.SIGTERM)
        output = run.communicate(timeout=STOP_TIMEOUT)[0]
        # then: the run stops as interrupted, its PostgreSQL stopped and its directory removed
        leftovers = postgres_processes(temp_dir)
        assert leftovers == [], output
        assert run.returncode == pytest.ExitCode.INTERRUPTED, output
        assert not pgdata.parent.exists(), output
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
        stop_leftover_postgres(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
