"""Logs never carry a Stripe API key, a webhook signing secret, an access token, a client
secret or an email address, even when a message or an exception quotes one (SECURITY.md:
logs scrub secrets); production writes JSON lines, development readable ones."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable

from infra.logging import REDACTED, SecretScrubber, configure_logging


def test_secrets_in_messages_arguments_and_tracebacks_are_redacted() -> None:
    # given a handler with the scrubber, as configure_logging installs it
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretScrubber())
    log = logging.getLogger("test.scrubbing")
    log.addHandler(handler)
    log.propagate = False
    try:
        # when
        log.warning("key %s and rk_test_abc123", "sk_live_51HqLyjWDarjtT1zdp7dc")
        try:
            raise RuntimeError("Invalid signing secret whsec_5ba7f33a9b4e4b8f=")
        except RuntimeError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    # then
    text = stream.getvalue()
    for secret in ("sk_live_51HqLyjWDarjtT1zdp7dc", "rk_test_abc123", "whsec_5ba7f33a9b4e4b8f"):
        assert secret not in text
    # the rest of each message stays
    assert f"key {REDACTED} and {REDACTED}" in text
    assert f"RuntimeError: Invalid signing secret {REDACTED}" in text


def _logged(production: bool, emit: Callable[[logging.Logger], None]) -> str:
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    handler = configure_logging("INFO", production=production, stream=stream)
    try:
        emit(logging.getLogger("ledgerline.test"))
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    return stream.getvalue()


def test_tokens_emails_and_client_secrets_are_redacted_from_every_line() -> None:
    token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJjbGkifQ.c2lnbmF0dXJl"

    def emit(log: logging.Logger) -> None:
        log.warning("refused %s for jane@example.com", f"Bearer {token}")
        try:
            raise ValueError("client llsec_AbC-123_xyz rejected")
        except ValueError:
            log.exception("token request failed")

    for production in (True, False):
        written = _logged(production, emit)
        for carried in (token, "c2lnbmF0dXJl", "jane@example.com", "llsec_AbC-123_xyz"):
            assert carried not in written
        assert "token request failed" in written
        assert f"client {REDACTED} rejected" in written


def test_production_writes_json_lines_and_development_readable_ones() -> None:
    def emit(log: logging.Logger) -> None:
        log.info("request", extra={"request_id": "r-1", "status": 200, "operation": None})

    (line,) = _logged(True, emit).splitlines()
    parsed = json.loads(line)
    assert parsed["message"] == "request"
    assert parsed["level"] == "info"
    assert parsed["request_id"] == "r-1" and parsed["status"] == 200
    assert "operation" not in parsed  # fields without a value are left out

    readable = _logged(False, emit)
    assert not readable.startswith("{")
    assert "request" in readable and "request_id=r-1" in readable and "status=200" in readable
