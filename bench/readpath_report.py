"""The read-path benchmark's figures: medians over rounds, ratios, targets, the viewer's
server time, and the table printed at the end."""

from __future__ import annotations

import json
import re
from statistics import median
from typing import Any

import httpx

from bench.load import wrk
from bench.readpath_check import request_body
from bench.readpath_servers import Server

VIEWER_TARGET_MS = 1.0
FLOOR_SHARE_TARGET = 0.5
_MEDIANS = (
    "requests_per_second",
    "p50_ms",
    "p99_ms",
    "server_cpu_ms_per_request",
    "database_cpu_ms_per_request",
)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per operation: each server's median req/s, p50 and p99 over the rounds, the ratios of
    Ledgerline to PostGraphile and to the floor, and whether the targets are met."""
    summary: dict[str, Any] = {}
    for operation in dict.fromkeys(run["operation"] for run in runs):
        servers: dict[str, dict[str, float]] = {}
        for name in dict.fromkeys(run["server"] for run in runs if run["operation"] == operation):
            mine = [r for r in runs if r["operation"] == operation and r["server"] == name]
            servers[name] = {
                key: round(median(r[key] for r in mine), 3) for key in _MEDIANS if key in mine[0]
            } | {"errors": sum(r["errors"] for r in mine)}
        summary[operation] = {"servers": servers, **_ratios(servers)}
    return summary


def _ratios(servers: dict[str, dict[str, float]]) -> dict[str, Any]:
    ours, floor = servers["Ledgerline"], servers["floor"]
    ratios: dict[str, Any] = {
        "ledgerline_to_floor": round(ours["requests_per_second"] / floor["requests_per_second"], 3),
    }
    ratios["meets_floor_target"] = ratios["ledgerline_to_floor"] >= FLOOR_SHARE_TARGET
    # The throughput ratio a core of its own each would give, from CPU time per request.
    ratios["cpu_floor_to_ledgerline"] = round(
        floor["server_cpu_ms_per_request"] / ours["server_cpu_ms_per_request"], 3
    )
    reference = servers.get("PostGraphile")
    if reference is not None:
        ratios["ledgerline_to_postgraphile"] = round(
            ours["requests_per_second"] / reference["requests_per_second"], 3
        )
        ratios["p99_ledgerline_to_postgraphile"] = round(ours["p99_ms"] / reference["p99_ms"], 3)
        ratios["meets_postgraphile_target"] = (
            ours["requests_per_second"] >= reference["requests_per_second"]
            and ours["p99_ms"] <= reference["p99_ms"]
        )
    return ratios


def viewer_server_time(
    ledgerline: Server, floor: Server, variables: dict[str, str], duration: int
) -> dict[str, Any]:
    """The trivial `{ viewer { account { id } } }` one request at a time, on one kept-alive
    connection (wrk -c1), measured two ways:

    - by Ledgerline itself: its `ledgerline_http_request_seconds` histogram (the outermost
      ASGI middleware, from the request's arrival to the last byte handed to uvicorn), the
      mean over the run;
    - from outside: wrk's mean latency less that of the floor's `GET /healthz`, which costs
      the loopback, wrk and uvicorn's HTTP alone.

    On a busy machine both include waits for a core (at each of the request's round trips
    to PostgreSQL); the CPU time the server spent per request does not, and is given too.
    The floor's own viewer (a tenant transaction and one statement) is measured alike."""
    body = json.dumps(request_body(ledgerline.operations["viewer"], variables))
    floor_body = json.dumps(request_body(floor.operations["viewer"], variables))
    one = {"duration": duration, "connections": 1, "threads": 1}
    before, cpu_before = _request_seconds(ledgerline), ledgerline.cpu_seconds()
    ours = wrk(ledgerline.url, body, ledgerline.headers, **one)
    after, cpu_after = _request_seconds(ledgerline), ledgerline.cpu_seconds()
    http_only = wrk(floor.origin + "/healthz", None, {}, **one)
    floor_cpu = floor.cpu_seconds()
    floor_viewer = wrk(floor.url, floor_body, {}, **one)
    floor_cpu = floor.cpu_seconds() - floor_cpu
    served = after[1] - before[1]
    server_ms = (after[0] - before[0]) / served * 1000 if served else float("nan")
    return {
        "ledgerline_server_ms_by_its_metrics": round(server_ms, 3),
        "ledgerline_mean_ms_less_http_ms": round(ours.mean_ms - http_only.mean_ms, 3),
        "ledgerline_cpu_ms_per_request": round((cpu_after - cpu_before) * 1000 / served, 3),
        "floor_cpu_ms_per_request": round(floor_cpu * 1000 / floor_viewer.requests, 3),
        "meets_target": server_ms < VIEWER_TARGET_MS,
        "ledgerline_c1": ours.as_dict(),
        "floor_viewer_c1": floor_viewer.as_dict(),
        "floor_http_only_c1": http_only.as_dict(),
    }


def _request_seconds(server: Server) -> tuple[float, int]:
    """Sum and count of Ledgerline's request-time histogram for POST /graphql."""
    text = httpx.get(server.origin + "/metrics", timeout=10).text
    labels = r'\{method="POST",path="/graphql"\}'
    total = re.search(rf"ledgerline_http_request_seconds_sum{labels} (\S+)", text)
    count = re.search(rf"ledgerline_http_request_seconds_count{labels} (\S+)", text)
    if total is None or count is None:
        return 0.0, 0
    return float(total.group(1)), int(float(count.group(1)))


def print_report(result: dict[str, Any]) -> None:
    machine, settings = result["machine"], result["settings"]
    print(
        f"\nRead path, {result['when']}, commit {result['commit']}, {machine['cpus']} CPUs,"
        f" load {machine['load_before']} -> {machine['load_after']};"
        f" {settings['rounds']} rounds of {settings['duration_s']} s,"
        f" {settings['connections']} connections, medians of the rounds\n"
    )
    print(
        f"{'operation':16}{'server':14}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'CPU ms/req':>12}{'DB CPU':>8}{'errors':>8}"
    )
    for operation, figures in result["summary"].items():
        for name, server in figures["servers"].items():
            print(
                f"{operation:16}{name:14}{server['requests_per_second']:9.0f}"
                f"{server['p50_ms']:9.2f}{server['p99_ms']:9.2f}"
                f"{server['server_cpu_ms_per_request']:12.2f}"
                f"{server.get('database_cpu_ms_per_request', float('nan')):8.2f}"
                f"{server['errors']:8d}"
            )
    print(
        f"\n{'operation':16}{'L/P req/s':>11}{'L/P p99':>9}{'L/F req/s':>11}{'L/F CPU':>9}  targets"
    )
    for operation, figures in result["summary"].items():
        reference = "ledgerline_to_postgraphile" in figures
        print(
            f"{operation:16}"
            + (f"{figures['ledgerline_to_postgraphile']:11.2f}" if reference else f"{'-':>11}")
            + (f"{figures['p99_ledgerline_to_postgraphile']:9.2f}" if reference else f"{'-':>9}")
            + f"{figures['ledgerline_to_floor']:11.2f}"
            + f"{figures['cpu_floor_to_ledgerline']:9.2f}  "
            + _verdicts(operation, figures)
        )
    viewer = result["viewer"]
    print(
        f"\nviewer {{ account {{ id }} }}, one connection: Ledgerline's server time"
        f" {viewer['ledgerline_server_ms_by_its_metrics']:.3f} ms (its metrics),"
        f" {viewer['ledgerline_mean_ms_less_http_ms']:.3f} ms (wrk mean"
        f" {viewer['ledgerline_c1']['mean_ms']:.3f} less HTTP alone"
        f" {viewer['floor_http_only_c1']['mean_ms']:.3f}),"
        f" {viewer['ledgerline_cpu_ms_per_request']:.3f} ms of CPU;"
        f" the floor's viewer {viewer['floor_viewer_c1']['mean_ms']:.3f} ms (wrk mean),"
        f" {viewer['floor_cpu_ms_per_request']:.3f} ms of CPU."
        f" Target < {VIEWER_TARGET_MS} ms: {'met' if viewer['meets_target'] else 'NOT met'}"
    )


def _verdicts(operation: str, figures: dict[str, Any]) -> str:
    verdicts = [f">= 50% of floor {'met' if figures['meets_floor_target'] else 'NOT met'}"]
    if operation == "customers_list" and "meets_postgraphile_target" in figures:
        met = figures["meets_postgraphile_target"]
        verdicts.append(f"PostGraphile's req/s and p99 {'met' if met else 'NOT met'}")
    return "; ".join(verdicts)
