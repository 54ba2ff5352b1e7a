"""Benchmark: what tracing costs the read path.

Runs the app in process (httpx's ASGI transport: no network, no server process, so the
figures are the app's own time) three ways, taking turns for `--rounds` rounds: without a
tracer provider (production with OTEL_EXPORTER_OTLP_ENDPOINT unset: nothing installed);
with one recording every span into memory through the batch processor production uses
(the export itself left out); and untraced with the request log line on (INFO, JSON, to
/dev/null), which the other two leave off. Each sends the same queries one after another:
the dashboard's customer page (answered from a plan) and a customer's balance (answered by
the executor). Prints the median and p99 latency, requests per second, spans per request
and the overheads, and writes them to bench/results/tracing.json.

    .venv/bin/python bench/tracing.py [--requests 500] [--rounds 4]

DATABASE_URL is used when set; otherwise the embedded PostgreSQL in .ledgerline-bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.customers_list import TENANT, prepare  # noqa: E402
from bench.servers import DATA_DIR, ROOT  # noqa: E402
from infra.app import create_app  # noqa: E402
from infra.database import open_database  # noqa: E402
from infra.logging import configure_logging  # noqa: E402
from infra.settings import Settings  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "tracing.json"
PAGE = "query CustomersPage { customers(first: 20) { edges { node { id name email } } } }"
# Not one a plan answers: the executor's path, through SQLAlchemy.
BALANCE = "query CustomerBalance($id: ID!) { customer(id: $id) { id name balance { amount } } }"
WARM_UP = 200


MODES = ("off", "on (in-memory exporter)", "off, request log on")
Timings = dict[str, list[float]]  # operation -> seconds per request
# The process's CPU seconds per request (the span processor's thread included, PostgreSQL
# not): steadier than wall time on a machine that other work shares.
CPU = "cpu"


async def measure(
    settings: Settings, url: str, requests: int, mode: str
) -> tuple[Timings, dict[str, float]]:
    """One round of one mode: (timings per operation, spans per request per operation)."""
    with open(os.devnull, "w") as discarded:
        level = "INFO" if mode == "off, request log on" else "WARNING"
        configure_logging(level, production=True, stream=discarded)
        exporter = InMemorySpanExporter() if mode.startswith("on") else None
        return await _measure(settings, url, requests, exporter)


async def _measure(
    settings: Settings, url: str, requests: int, exporter: InMemorySpanExporter | None
) -> tuple[Timings, dict[str, float]]:
    provider = None
    if exporter is not None:
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(exporter))
    app = create_app(settings, url, tracer_provider=provider)
    timings: Timings = {}
    spans: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        token = app.state.issuer.issue(
            client_id="bench", tenant_id=TENANT, scopes=["customers:read"]
        ).access_token
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://bench",
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            first = await client.post("/graphql", json={"query": PAGE})
            customer = first.json()["data"]["customers"]["edges"][0]["node"]["id"]
            bodies = {
                "customers_page (plan)": {"query": PAGE},
                "customer_balance (executor)": {"query": BALANCE, "variables": {"id": customer}},
            }
            for name, body in bodies.items():
                for _ in range(WARM_UP):
                    await client.post("/graphql", json=body)
                if provider is not None and exporter is not None:
                    provider.force_flush()
                    exporter.clear()
                timings[name] = []
                cpu_started = time.process_time()
                for _ in range(requests):
                    started = time.perf_counter()
                    response = await client.post("/graphql", json=body)
                    timings[name].append(time.perf_counter() - started)
                    assert response.status_code == 200, response.text
                timings[name + CPU] = [(time.process_time() - cpu_started) / requests]
                spans[name] = 0.0
                if provider is not None and exporter is not None:
                    provider.force_flush()
                    spans[name] = len(exporter.get_finished_spans()) / requests
    if provider is not None:
        provider.shutdown()
    return timings, spans


def _figures(timings: list[float], cpu: list[float], spans: float) -> dict[str, float]:
    ordered = sorted(timings)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        "requests_per_second": len(ordered) / sum(ordered),
        "cpu_ms_per_request": statistics.mean(cpu) * 1000,
        "spans_per_request": spans,
    }


async def run(requests: int, rounds: int) -> dict[str, Any]:
    base = Settings(data_dir=DATA_DIR)
    database = await open_database(base)
    pooled: dict[str, Timings] = {mode: {} for mode in MODES}
    spans: dict[str, dict[str, float]] = {mode: {} for mode in MODES}
    try:
        await prepare(database.url)
        settings = base.model_copy(
            update={"database_url": database.url, "planned_reads_verify": False}
        )
        # Modes take turns, round after round: a machine that slows down or speeds up
        # during the run weighs on each of them alike.
        for _ in range(rounds):
            for mode in MODES:
                timings, counted = await measure(settings, database.url, requests, mode)
                for operation, each in timings.items():
                    pooled[mode].setdefault(operation, []).extend(each)
                spans[mode].update(counted)
    finally:
        database.stop()
    runs = {
        mode: {
            op: _figures(each, pooled[mode][op + CPU], spans[mode][op])
            for op, each in pooled[mode].items()
            if not op.endswith(CPU)
        }
        for mode in MODES
    }
    return {"requests_per_operation": requests * rounds, "rounds": rounds, "runs": runs}


def report(result: dict[str, Any]) -> None:
    runs = result["runs"]
    off, on, logged = (runs[mode] for mode in MODES)
    print(
        f"{'operation':28} {'mode':24} {'median ms':>10} {'p99 ms':>8} {'req/s':>8}"
        f" {'CPU ms':>7} spans"
    )
    for operation in off:
        for label, figures in runs.items():
            f = figures[operation]
            print(
                f"{operation:28} {label:24} {f['median_ms']:10.3f} {f['p99_ms']:8.3f}"
                f" {f['requests_per_second']:8.0f} {f['cpu_ms_per_request']:7.3f}"
                f" {f['spans_per_request']:5.1f}"
            )
        for figure in ("median_ms", "cpu_ms_per_request"):
            baseline = off[operation][figure]
            traced = on[operation][figure] / baseline - 1
            logging = logged[operation][figure] / baseline - 1
            print(f"{'':28} {figure}: tracing on {traced:+.1%}, request log line {logging:+.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="per operation and round")
    parser.add_argument("--rounds", type=int, default=4, help="turns each mode takes")
    arguments = parser.parse_args()
    result = asyncio.run(run(arguments.requests, arguments.rounds))
    report(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nWritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
