"""Benchmark: the dashboard's customer list (20 rows, 3 fields) against the floor of our stack.

Starts Ledgerline (`ledgerline serve`) and `bench/floor_server.py` as real servers, one
process each, loads both with the same POST for `--duration` seconds and prints requests
per second and latency, and the ratio to the floor. Results go to
bench/results/customers_list.json. Uses `wrk` when installed (apt-get install wrk), else a
Python load generator (which is itself the bottleneck: use wrk for real figures).

    .venv/bin/python bench/customers_list.py [--duration 10] [--connections 32]

DATABASE_URL is used when set; otherwise the embedded PostgreSQL in .ledgerline-bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.servers import (  # noqa: E402
    DATA_DIR,
    ROOT,
    cli_token,
    free_port,
    server_env,
    start_ledgerline,
    stop,
    wait_ready,
)
from domain.customers import Address, CustomerDraft  # noqa: E402
from domain.services.customers import create_customer  # noqa: E402
from infra.database import open_database  # noqa: E402
from infra.db import create_engine, tenant_transaction  # noqa: E402
from infra.migrate import upgrade_async  # noqa: E402
from infra.repositories.accounts import ensure_account  # noqa: E402
from infra.settings import Settings  # noqa: E402
from infra.uow import SqlUnitOfWork  # noqa: E402

QUERY = "{ customers(first: 20) { edges { node { id name email } } } }"
TENANT = "bench"
RESULTS = ROOT / "bench" / "results" / "customers_list.json"


async def prepare(url: str) -> None:
    await upgrade_async(url)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await ensure_account(conn, TENANT, "Benchmark merchant")
        async with tenant_transaction(engine, TENANT) as db:
            existing = (
                await db.execute(__import__("sqlalchemy").text("select count(*) from customers"))
            ).scalar_one()
            for i in range(existing, 100):
                await create_customer(
                    SqlUnitOfWork(db),
                    CustomerDraft(
                        name=f"Customer {i:03d}",
                        currency="USD",
                        email=f"c{i}@bench.example",
                        address=Address(country="US"),
                    ),
                )
    finally:
        await engine.dispose()


def run_wrk(url: str, token: str, duration: int, connections: int) -> dict[str, float]:
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    body = json.dumps({"query": QUERY}).replace("\\", "\\\\").replace('"', '\\"')
    script.write(
        'wrk.method = "POST"\n'
        f'wrk.body = "{body}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    script.close()
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requests_per_second = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert requests_per_second is not None, out
    rps = float(requests_per_second.group(1))
    p50 = re.search(r"50%\s+([\d.]+)(\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_second": rps,
        "p50_ms": _ms(p50),
        "p99_ms": _ms(p99),
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def _ms(match: re.Match[str] | None) -> float:
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def python_load(url: str, token: str, duration: int, connections: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + duration
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=connections)) as client:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await client.post(url, json={"query": QUERY}, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += response.status_code != 200

        await asyncio.gather(*(worker() for _ in range(connections)))
    latencies.sort()
    return {
        "requests_per_second": len(latencies) / duration,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99)],
        "errors": errors,
    }


def load(url: str, token: str, duration: int, connections: int) -> dict[str, float]:
    if shutil.which("wrk"):
        return run_wrk(url, token, duration, connections)
    return asyncio.run(python_load(url, token, duration, connections))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    settings = Settings(data_dir=DATA_DIR, database_url=os.environ.get("DATABASE_URL"))
    database = asyncio.run(open_database(settings))
    ours = floor = None
    try:
        asyncio.run(prepare(database.url))
        env = server_env(database.url)
        token = cli_token(env, TENANT, "customers:read")
        ours, port = start_ledgerline(env)
        floor_port = free_port()
        floor = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.floor_server:app"]
            + ["--port", str(floor_port), "--log-level", "warning"],
            env={**env, "FLOOR_DSN": database.url.replace("postgresql+asyncpg", "postgresql")},
            cwd=ROOT,
        )
        wait_ready(f"http://127.0.0.1:{floor_port}/graphql")
        ledgerline_url = f"http://127.0.0.1:{port}/graphql"
        load(ledgerline_url, token, 2, args.connections)  # warm-up
        ledgerline = load(ledgerline_url, token, args.duration, args.connections)
        floor_result = load(
            f"http://127.0.0.1:{floor_port}/graphql", token, args.duration, args.connections
        )
    finally:
        stop(ours)
        stop(floor)
        database.stop()

    ratio = ledgerline["requests_per_second"] / floor_result["requests_per_second"]
    result = {
        "benchmark": "customers_list (20 rows x 3 fields)",
        "load_generator": "wrk" if shutil.which("wrk") else "python httpx",
        "duration_s": args.duration,
        "connections": args.connections,
        "ledgerline": ledgerline,
        "floor_starlette_asyncpg_orjson": floor_result,
        "ratio_to_floor": round(ratio, 3),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
