"""Benchmark: the dashboard's read path against PostGraphile 4 and the floor of our stack.

Starts Ledgerline (`WORKERS=1`), PostGraphile 4 (bench/postgraphile_server.js, installed with
npm from bench/package-lock.json) and the floor (bench/floor_server.py) over one database
with one tenant's data (bench/readpath_data.py), checks that they answer each operation of
bench/operations/ with the same rows, then loads them in turn with wrk, alternating servers
within each operation for `--rounds` rounds:

  (a) customers_list   the 20-row customer list, three fields
  (b) customers_page   50 customers with balance, address and a metric's usage for the month
  (c) plans_prices     plans with their prices and tiers
  (d) customer_node    node(id:) of one customer

PostGraphile answers (a), (c) and (d) in its own schema's names (bench/operations/
postgraphile/); the floor all four. Last, the server time of the trivial `viewer` query, one
request at a time. Prints req/s, p50 and p99 per server and operation (the median of the
rounds), the ratios and the targets, and writes bench/results/readpath.json.

    .venv/bin/python bench/readpath.py [--duration 10] [--rounds 3] [--connections 16]

DATABASE_URL is used when set; otherwise the embedded PostgreSQL in .ledgerline-bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import readpath_servers  # noqa: E402
from bench.load import ensure_wrk, wrk  # noqa: E402
from bench.readpath_check import AnswersDiffer, check_answers, request_body  # noqa: E402
from bench.readpath_data import TENANT, prepare  # noqa: E402
from bench.readpath_report import print_report, summarise, viewer_server_time  # noqa: E402
from bench.readpath_servers import Server  # noqa: E402
from bench.servers import (  # noqa: E402
    DATA_DIR,
    ROOT,
    cli_token,
    git_commit,
    server_env,
    tree_cpu_seconds,
)
from infra.database import Database, open_database  # noqa: E402
from infra.settings import Settings  # noqa: E402

OPERATIONS = ("customers_list", "customers_page", "plans_prices", "customer_node")
RESULTS = ROOT / "bench" / "results" / "readpath.json"
READ_SCOPES = "customers:read catalog:read"


def main() -> None:
    args = _arguments()
    ensure_wrk()
    settings = Settings(data_dir=DATA_DIR, database_url=os.environ.get("DATABASE_URL"))
    database = asyncio.run(open_database(settings))
    servers: list[Server] = []
    load_before = _load()
    try:
        fixture = asyncio.run(prepare(database.url))
        env = server_env(database.url)
        # A day: long runs (many rounds) outlast the default hour.
        token = cli_token({**env, "TOKEN_TTL_SECONDS": "86400"}, TENANT, READ_SCOPES)
        servers.append(readpath_servers.ledgerline(env, token))
        servers.append(readpath_servers.postgraphile(env, database.url, TENANT))
        servers.append(readpath_servers.floor(env, database.url, TENANT))
        variables = fixture.variables()
        try:
            rows = check_answers(servers, variables)
        except AnswersDiffer as error:
            raise SystemExit(f"Not benchmarked: the answers differ. {error}") from None
        print(f"Answers agree, rows per operation: {rows}")
        runs = _measure(servers, variables, args, _postmaster_pid(database))
        ledgerline, _, floor = servers
        viewer = viewer_server_time(ledgerline, floor, variables, args.duration)
    finally:
        for server in servers:
            server.stop()
        database.stop()
    result = _result(args, rows, runs, viewer, load_before)
    print_report(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nWritten to {RESULTS.relative_to(ROOT)}")


def _result(
    args: argparse.Namespace,
    rows: dict[str, int],
    runs: list[dict[str, object]],
    viewer: dict[str, Any],
    load_before: list[float],
) -> dict[str, Any]:
    return {
        "benchmark": "read path: Ledgerline vs PostGraphile 4 vs the floor",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": git_commit(),
        "machine": {"cpus": os.cpu_count(), "load_before": load_before, "load_after": _load()},
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "ledgerline_workers": 1,
            "tenant_rows": rows,
        },
        "summary": summarise(runs),
        "viewer": viewer,
        "runs": runs,
    }


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds per server and operation")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    return parser.parse_args()


def _measure(
    servers: list[Server],
    variables: dict[str, str],
    args: argparse.Namespace,
    database_pid: int | None,
) -> list[dict[str, object]]:
    """Warm-up, then per round and operation each server in turn (L, P, F, L, P, F...), so
    a change in the machine's load falls on all of them alike. Besides wrk's figures, the
    CPU time each request cost the server and the database (all of PostgreSQL's processes),
    which other work on the machine sways less than throughput."""
    bodies = {
        (server.name, operation): json.dumps(request_body(server.operations[operation], variables))
        for server in servers
        for operation in OPERATIONS
        if operation in server.operations
    }

    def run(server: Server, operation: str, duration: int) -> dict[str, float]:
        body = bodies[(server.name, operation)]
        server_cpu, database_cpu = server.cpu_seconds(), _cpu_seconds(database_pid)
        figures = wrk(
            server.url,
            body,
            server.headers,
            duration=duration,
            connections=args.connections,
            threads=args.threads,
        ).as_dict()
        served = max(figures["requests"], 1)
        figures["server_cpu_ms_per_request"] = round(
            (server.cpu_seconds() - server_cpu) * 1000 / served, 3
        )
        if database_pid is not None:
            figures["database_cpu_ms_per_request"] = round(
                (_cpu_seconds(database_pid) - database_cpu) * 1000 / served, 3
            )
        return figures

    for server in servers:
        for operation in OPERATIONS:
            if operation in server.operations:
                run(server, operation, args.warmup)
    runs: list[dict[str, object]] = []
    for round_number in range(1, args.rounds + 1):
        for operation in OPERATIONS:
            for server in servers:
                if operation in server.operations:
                    figures = run(server, operation, args.duration)
                    runs.append(
                        {"round": round_number, "operation": operation, "server": server.name}
                        | figures
                    )
                    print(
                        f"round {round_number} {operation:15} {server.name:12}"
                        f" {figures['requests_per_second']:8.0f} req/s"
                        f"  p50 {figures['p50_ms']:7.2f} ms  p99 {figures['p99_ms']:7.2f} ms",
                        flush=True,
                    )
    return runs


def _postmaster_pid(database: Database) -> int | None:
    """The embedded PostgreSQL's main process; None for a DATABASE_URL server."""
    if database.embedded is None:
        return None
    return int((database.embedded.pgdata / "postmaster.pid").read_text().split()[0])


def _cpu_seconds(pid: int | None) -> float:
    return 0.0 if pid is None else tree_cpu_seconds(pid)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


if __name__ == "__main__":
    main()
