"""A worker process of `ledgerline serve` (WORKERS > 1) ends when its supervisor does.

uvicorn's supervisor stops its workers only when it lives to do so: killed outright (SIGKILL,
the OOM killer), it leaves them running, still listening on the port, so a restarted server
cannot bind it. Each worker therefore gets SIGTERM when its supervisor exits — the signal the
supervisor itself would send — and shuts down gracefully: it stops listening at once, finishes
the requests in flight and closes its connection pool.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_POLL_SECONDS = 1.0


def stop_when_parent_exits() -> None:
    """In a process started by multiprocessing (uvicorn's workers are): SIGTERM to itself when
    the process that started it exits. Elsewhere (a server run in-process, tests): nothing."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return
    if not _ask_kernel_for_sigterm_on_parent_death():
        watch_parent(parent.pid)
        return
    # The parent may have died before the request above: then no signal will come, and this
    # process already belongs to another parent (init or a subreaper).
    if os.getppid() != parent.pid:
        _stop()


def watch_parent(parent_pid: int, interval: float = PARENT_POLL_SECONDS) -> None:
    """Where the kernel cannot signal a parent's death: a daemon thread notices it within
    `interval` seconds (an orphan is adopted by another process, so its parent pid changes)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        _stop()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _ask_kernel_for_sigterm_on_parent_death() -> bool:
    """prctl(PR_SET_PDEATHSIG, SIGTERM); False where that does not exist (not Linux).

    The kernel sends it when the *thread* that started this process exits; uvicorn's supervisor
    starts and restarts workers from its main thread, which lives as long as it does."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _stop() -> None:
    # The same signal the kernel (or a living supervisor) sends: uvicorn's handler shuts down
    # gracefully; before uvicorn installs it, SIGTERM's default action ends the process.
    os.kill(os.getpid(), signal.SIGTERM)
