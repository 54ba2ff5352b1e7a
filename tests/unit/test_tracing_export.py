"""Spans leave over OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from infra.settings import Settings
from infra.tracing import provider_from_settings


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    """A stand-in OTLP/HTTP receiver on the loopback; its base URL."""
    _Collector.received = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_without_an_endpoint_nothing_is_traced() -> None:
    assert provider_from_settings(Settings(otel_exporter_otlp_endpoint=None)) is None


def test_with_an_endpoint_spans_are_posted_to_its_traces_path(collector: str) -> None:
    # given the endpoint of a collector
    settings = Settings(otel_exporter_otlp_endpoint=collector + "/", otel_service_name="billing")
    provider = provider_from_settings(settings)
    assert provider is not None

    # when a span ends and the batch is flushed
    with provider.get_tracer("test").start_as_current_span("query CustomersPage"):
        pass
    provider.force_flush()
    provider.shutdown()

    # then it was posted as OTLP protobuf, named, from the named service
    ((path, content_type, body),) = _Collector.received
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert b"query CustomersPage" in body
    assert b"billing" in body


def test_the_sample_ratio_is_bounded() -> None:
    with pytest.raises(ValueError):
        Settings(otel_traces_sample_ratio=1.5)
