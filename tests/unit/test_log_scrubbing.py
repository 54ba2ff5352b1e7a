"""Logs never carry a Stripe API key or webhook signing secret, even when a message or an
exception quotes one (SECURITY.md: logs scrub secrets)."""

from __future__ import annotations

import io
import logging

from infra.logging import REDACTED, SecretScrubber


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
