"""Benchmark: usage ingestion through the real HTTP endpoint, against asyncpg COPY as the floor.

Starts `ledgerline serve` with `--workers` processes (WORKERS; default one per core), creates a
tenant with customers and a metric, then sends `--events` events in batches of 1,000
(`recordUsage`) from `--clients` concurrent clients, and prints events per second and p50/p99
batch latency. The same number of rows written by plain asyncpg `copy_records_to_table` is the
floor. Results go to bench/results/usage_ingest.json.

    .venv/bin/python bench/usage_ingest.py [--events 1000000] [--clients 4] [--workers N]

DATABASE_URL is used when set; otherwise the embedded PostgreSQL in .ledgerline-bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.servers import (  # noqa: E402
    DATA_DIR,
    ROOT,
    cli_token,
    server_env,
    start_ledgerline,
    stop,
)
from domain.customers import CustomerDraft  # noqa: E402
from domain.metrics import Aggregation, MetricDraft  # noqa: E402
from domain.services.customers import create_customer  # noqa: E402
from domain.services.metrics import create_billable_metric  # noqa: E402
from infra.database import open_database  # noqa: E402
from infra.db import create_engine, tenant_transaction  # noqa: E402
from infra.migrate import upgrade_async  # noqa: E402
from infra.repositories.accounts import ensure_account  # noqa: E402
from infra.settings import Settings  # noqa: E402
from infra.uow import SqlUnitOfWork  # noqa: E402

BATCH = 1000
CUSTOMERS = 100
RESULTS = ROOT / "bench" / "results" / "usage_ingest.json"
RECORD_USAGE = (
    "mutation R($input: RecordUsageInput!) { recordUsage(input: $input) "
    "{ accepted duplicates rejected { index code } userErrors { code } } }"
)


async def prepare(url: str, tenant: str) -> list[str]:
    await upgrade_async(url)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await ensure_account(conn, tenant, "Usage benchmark")
        async with tenant_transaction(engine, tenant) as db:
            ids = [
                (await create_customer(SqlUnitOfWork(db), CustomerDraft(f"C{i}", "USD"))).id
                for i in range(CUSTOMERS)
            ]
            await create_billable_metric(
                SqlUnitOfWork(db), MetricDraft("api.bytes", "Bytes", Aggregation.SUM, "bytes")
            )
        return ids
    finally:
        await engine.dispose()


def batches(run: str, customer_ids: list[str], total: int) -> list[bytes]:
    now = datetime.now(UTC).isoformat()
    bodies = []
    for start in range(0, total, BATCH):
        events = [
            {
                "idempotencyKey": f"{run}-{n}",
                "customerId": customer_ids[n % len(customer_ids)],
                "metricCode": "api.bytes",
                "timestamp": now,
                "properties": {"bytes": n % 1000, "region": "eu"},
            }
            for n in range(start, min(start + BATCH, total))
        ]
        bodies.append(
            orjson.dumps({"query": RECORD_USAGE, "variables": {"input": {"events": events}}})
        )
    return bodies


async def send(
    url: str, token: str, bodies: list[bytes], clients: int
) -> tuple[float, list[float]]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def client() -> None:
        # A fresh connection per batch: the kernel hands each to a worker that is waiting,
        # as with many senders; kept-alive connections would pin a client to one worker.
        fresh = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=120, limits=fresh) as http:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                response = await http.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                data = response.json().get("data")
                assert data is not None, f"HTTP {response.status_code}: {response.text[:2000]}"
                result = data["recordUsage"]
                assert result["accepted"] == BATCH, result

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started, latencies


async def copy_floor(dsn: str, tenant: str, customer_ids: list[str], total: int) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        now = datetime.now(UTC)
        run = uuid.uuid4().hex[:8]
        records = [
            (
                tenant,
                f"copy-{run}-{n}",
                customer_ids[n % len(customer_ids)],
                "api.bytes",
                now,
                orjson.dumps({"bytes": n % 1000}).decode(),
                n % 1000,
            )
            for n in range(total)
        ]
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "usage_events",
            records=records,
            columns=[
                "tenant_id",
                "idempotency_key",
                "customer_id",
                "metric_code",
                "occurred_at",
                "properties",
                "value",
            ],
        )
        return time.perf_counter() - started
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    total = args.events - args.events % BATCH

    settings = Settings(data_dir=DATA_DIR, database_url=os.environ.get("DATABASE_URL"))
    database = asyncio.run(open_database(settings))
    tenant = "usage-bench-" + uuid.uuid4().hex[:6]
    server = None
    try:
        customer_ids = asyncio.run(prepare(database.url, tenant))
        env = server_env(database.url)
        token = cli_token(env, tenant, "usage:write")
        server, port = start_ledgerline({**env, "WORKERS": str(args.workers)})
        bodies = batches(uuid.uuid4().hex[:8], customer_ids, total)
        elapsed, latencies = asyncio.run(
            send(f"http://127.0.0.1:{port}/graphql", token, bodies, args.clients)
        )
        dsn = database.url.replace("postgresql+asyncpg", "postgresql")
        floor = asyncio.run(copy_floor(dsn, tenant, customer_ids, total))
    finally:
        stop(server)
        database.stop()

    latencies.sort()
    result = {
        "benchmark": "usage ingestion, batches of 1,000 through POST /graphql recordUsage",
        "events": total,
        "clients": args.clients,
        "server_workers": args.workers,
        "events_per_second": round(total / elapsed),
        "batch_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "batch_p99_ms": round(
            latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1
        ),
        "copy_floor_events_per_second": round(total / floor),
        "ratio_to_copy": round((total / elapsed) / (total / floor), 3),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
