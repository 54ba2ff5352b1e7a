"""Benchmark: what tracing costs the read path.

Runs the app in process (httpx's ASGI transport: no network, no server process, so the
figures are the app's own time) three ways: without a tracer provider (production with
OTEL_EXPORTER_OTLP_ENDPOINT unset: nothing installed), then with one recording every span
into memory through the batch processor production uses (the export itself left out),
then without again, to show the drift between runs. Each way sends the same queries one
after another: the dashboard's customer page (answered from a plan) and a customer by id
(answered by the executor). Prints the median and p99 latency, requests per second, spans
per request and the overhead, and writes them to bench/results/tracing.json.

    .venv/bin/python bench/tracing.py [--requests 2000]

DATABASE_URL is used when set; otherwise the embedded PostgreSQL in .ledgerline-bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
NODE = "query CustomerNode($id: ID!) { node(id: $id) { id ... on Customer { name email } } }"
WARM_UP = 200


async def measure(
    settings: Settings, url: str, requests: int, exporter: InMemorySpanExporter | None
) -> dict[str, dict[str, float]]:
    provider = None
    if exporter is not None:
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(exporter))
    app = create_app(settings, url, tracer_provider=provider)
    figures: dict[str, dict[str, float]] = {}
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
                "customer_node (executor)": {"query": NODE, "variables": {"id": customer}},
            }
            for name, body in bodies.items():
                for _ in range(WARM_UP):
                    await client.post("/graphql", json=body)
                if provider is not None:
                    provider.force_flush()
                if exporter is not None:
                    exporter.clear()
                timings = []
                for _ in range(requests):
                    started = time.perf_counter()
                    response = await client.post("/graphql", json=body)
                    timings.append(time.perf_counter() - started)
                    assert response.status_code == 200, response.text
                spans = 0.0
                if provider is not None and exporter is not None:
                    provider.force_flush()
                    spans = len(exporter.get_finished_spans()) / requests
                timings.sort()
                figures[name] = {
                    "median_ms": statistics.median(timings) * 1000,
                    "p99_ms": timings[int(len(timings) * 0.99) - 1] * 1000,
                    "requests_per_second": len(timings) / sum(timings),
                    "spans_per_request": spans,
                }
    if provider is not None:
        provider.shutdown()
    return figures


async def run(requests: int) -> dict[str, Any]:
    base = Settings(data_dir=DATA_DIR)
    database = await open_database(base)
    try:
        await prepare(database.url)
        settings = base.model_copy(
            update={"database_url": database.url, "planned_reads_verify": False}
        )
        runs = {
            "off": await measure(settings, database.url, requests, None),
            "on (in-memory exporter)": await measure(
                settings, database.url, requests, InMemorySpanExporter()
            ),
            "off again": await measure(settings, database.url, requests, None),
        }
    finally:
        database.stop()
    return {"requests_per_operation": requests, "runs": runs}


def report(result: dict[str, Any]) -> None:
    runs = result["runs"]
    off, on, again = runs["off"], runs["on (in-memory exporter)"], runs["off again"]
    print(f"{'operation':28} {'tracing':24} {'median ms':>10} {'p99 ms':>8} {'req/s':>8} spans")
    for operation in off:
        for label, figures in runs.items():
            f = figures[operation]
            print(
                f"{operation:28} {label:24} {f['median_ms']:10.3f} {f['p99_ms']:8.3f}"
                f" {f['requests_per_second']:8.0f} {f['spans_per_request']:5.1f}"
            )
        baseline = (off[operation]["median_ms"] + again[operation]["median_ms"]) / 2
        overhead = on[operation]["median_ms"] / baseline - 1
        drift = abs(again[operation]["median_ms"] / off[operation]["median_ms"] - 1)
        print(f"{'':28} tracing on costs {overhead:+.1%} (median; off runs differ by {drift:.1%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per operation and run")
    arguments = parser.parse_args()
    configure_logging("WARNING", production=True)
    result = asyncio.run(run(arguments.requests))
    report(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nWritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
