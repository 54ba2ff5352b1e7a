"""Benchmark: the billing run over 100,000 subscriptions due at once, by 1 and by 2 workers.

Builds (or reuses) two tenants (bench/billing_run_data.py): one of `--subscriptions`
(100,000) and one of `--small` (3,000), a third each on a flat fee, seats (licensed per
unit, 1 to 5 seats) and a flat fee plus a metered per-call price, half of those with usage.
Then, for each worker count of `--workers` (1 and 2), it puts every subscription back as
due, starts that many `ledgerline bill --as-of 2026-03-01T00:00:00Z` processes at once and
waits for them. It prints invoices per second, wall time, each worker's peak resident
memory, and checks per tenant that every subscription was billed exactly once with numbers
1..N without a gap. Writes bench/results/billing_run.json. Target: 100,000 invoices in 60 s
or less on this 2-core machine, memory flat in the number of subscriptions.

    .venv/bin/python bench/billing_run.py [--subscriptions 100000] [--small 3000]
                                          [--workers 1 2] [--batch-size N]
                                          [--database ledgerline_billing_run]

DATABASE_URL is used when set (the database `--database`, `ledgerline_billing_run` unless
told, is created on that server); otherwise the embedded PostgreSQL in .ledgerline-bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.billing_run_data import DUE, TenantShape, build, check, reset  # noqa: E402
from bench.servers import DATA_DIR, ROOT, git_commit  # noqa: E402
from infra.database import asyncpg_url, open_database  # noqa: E402
from infra.db import create_engine  # noqa: E402
from infra.migrate import upgrade_async  # noqa: E402
from infra.settings import Settings  # noqa: E402

DATABASE = "ledgerline_billing_run"
RESULTS = ROOT / "bench" / "results" / "billing_run.json"
TARGET_SECONDS = 60.0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=3_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=None, help="the CLI's default")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument(
        "--database", default=DATABASE, help="its name: one per branch whose migrations differ"
    )
    return parser.parse_args()


def peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def run_workers(url: str, count: int, batch_size: int | None) -> dict[str, Any]:
    """`count` billing processes at once; their wall time, exit codes, output and peaks."""
    env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(DATA_DIR), "LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "infra.cli", "bill", "--as-of", DUE.isoformat()]
    if batch_size is not None:
        command += ["--batch-size", str(batch_size)]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    peaks = [0] * count
    done = threading.Event()

    def watch() -> None:
        # VmHWM only grows: the last reading before a process exits is its peak.
        while not done.is_set():
            for i, process in enumerate(processes):
                peaks[i] = max(peaks[i], peak_rss(process.pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    outputs = [process.communicate()[0] for process in processes]
    wall = time.perf_counter() - started
    done.set()
    watcher.join()
    return {
        "workers": count,
        "wall_s": round(wall, 2),
        "exit_codes": [process.returncode for process in processes],
        "outputs": [output.strip() for output in outputs],
        "peak_rss_mib": [round(peak / 2**20, 1) for peak in peaks],
    }


async def _database_url(database_url: str | None, name: str) -> tuple[str, Any]:
    if database_url:
        server = urlsplit(asyncpg_url(database_url))
        admin = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            if not await admin.fetchval("select 1 from pg_database where datname = $1", name):
                await admin.execute(f'create database "{name}"')
        finally:
            await admin.close()
        return urlunsplit(server._replace(path="/" + name)), None
    database = await open_database(Settings(data_dir=DATA_DIR, database_url=None))
    assert database.embedded is not None
    return await database.embedded.ensure_database(name), database


async def _prepare(url: str, shapes: list[TenantShape]) -> None:
    await upgrade_async(url)
    engine = create_engine(url, pool_size=2)
    try:
        await build(_plain(url), engine, shapes)
    finally:
        await engine.dispose()


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def main() -> None:
    args = _arguments()
    shapes = [
        TenantShape("billrun-large", args.subscriptions),
        TenantShape("billrun-small", args.small),
    ]
    url, database = asyncio.run(_database_url(args.database_url, args.database))
    runs = []
    try:
        asyncio.run(_prepare(url, shapes))
        for count in args.workers:
            asyncio.run(reset(_plain(url), shapes))
            run = run_workers(url, count, args.batch_size)
            run["tenants"] = {s.id: asyncio.run(check(_plain(url), s)) for s in shapes}
            invoices = sum(t["invoices"] for t in run["tenants"].values())
            run["invoices"] = invoices
            run["invoices_per_s"] = round(invoices / run["wall_s"], 1)
            run["ok"] = not any(t["problems"] for t in run["tenants"].values()) and not any(
                run["exit_codes"]
            )
            runs.append(run)
            _print_run(run)
    finally:
        if database is not None:
            database.stop()
    result = {
        "benchmark": "billing run: subscriptions due at once, billed by worker processes",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": git_commit(),
        "machine": {"cpus": os.cpu_count(), "load": list(os.getloadavg())},
        "settings": {
            "subscriptions": {s.id: s.subscriptions for s in shapes},
            "batch_size": args.batch_size,
            "as_of": DUE.isoformat(),
            "target_s": TARGET_SECONDS,
        },
        "runs": runs,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nWritten to {RESULTS.relative_to(ROOT)}")
    if not all(run["ok"] for run in runs):
        raise SystemExit(1)


def _print_run(run: dict[str, Any]) -> None:
    print(
        f"\n{run['workers']} worker(s): {run['invoices']} invoices in {run['wall_s']} s,"
        f" {run['invoices_per_s']} invoices/s (target: {TARGET_SECONDS:.0f} s);"
        f" peak RSS per worker {run['peak_rss_mib']} MiB; exit codes {run['exit_codes']}"
    )
    for output in run["outputs"]:
        print(f"  {output}")
    for tenant, figures in run["tenants"].items():
        verdict = "; ".join(figures["problems"]) or "billed once each, numbers gapless"
        print(
            f"  {tenant}: {figures['invoices']} invoices, numbers {figures['first_number']}.."
            f"{figures['last_number']}, {figures['lines']} lines: {verdict}"
        )


if __name__ == "__main__":
    main()
