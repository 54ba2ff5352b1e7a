"""The real server in production, traced: each request is one JSON line on its output (no
uvicorn access line beside it), and its spans reach an OTLP/HTTP collector under the trace
id that line names."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import conftest
from tests.support.server_process import free_port, run_cli, server_env, serving

pytestmark = pytest.mark.e2e

PAGE = "query Page { customers(first: 2) { edges { node { id } } } }"


class _Collector(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    _Collector.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_traced_request_is_one_json_line_and_its_spans_reach_the_collector(
    test_database: conftest.TestDatabase, tmp_path: Path, collector: str
) -> None:
    # given a production server exporting to a collector, and a client of an account
    port = free_port()
    env = server_env(
        tmp_path,
        port,
        ENVIRONMENT="production",
        DATABASE_URL=test_database.url,
        SECRET_KEY=conftest.TEST_SECRET_KEY,
        OAUTH_ISSUER="https://auth.example.com/",
        OTEL_EXPORTER_OTLP_ENDPOINT=collector,
    )
    tenant = "obs-" + secrets.token_hex(4)
    created = run_cli(env, "clients", "create", "--tenant", tenant, "--scopes", "customers:read")
    assert created.returncode == 0, created.stderr
    client = json.loads(created.stdout)

    # when it issues a token and answers one query (and stops, sending the spans it holds)
    with serving(env, port) as running:
        issued = httpx.post(
            f"{running.base_url}/oauth/token",
            data={"grant_type": "client_credentials", **client},
            timeout=10.0,
        )
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        response = httpx.post(
            f"{running.base_url}/graphql",
            json={"query": PAGE},
            headers={"Authorization": f"Bearer {token}", "X-Request-Id": "e2e-1"},
            timeout=10.0,
        )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "e2e-1"

    # then its output holds one JSON line for it, and no other line names it
    lines = [json.loads(line) for line in running.lines if line.startswith("{")]
    (line,) = [each for each in lines if each.get("request_id") == "e2e-1"]
    assert line["tenant"] == tenant
    assert line["operation"] == "Page"
    assert line["status"] == 200
    assert not any('"POST /graphql' in each or "HTTP/1.1" in each for each in running.lines)
    assert client["client_secret"] not in running.output and token not in running.output
    # and the collector received the request's spans under that trace id
    exported = b"".join(_Collector.bodies)
    assert bytes.fromhex(line["trace_id"]) in exported
    assert b"query Page" in exported
    assert b"POST /graphql" in exported
