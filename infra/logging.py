"""Structured logs: JSON in production, readable in development. Never secrets or tokens."""

from __future__ import annotations

import logging
import re
from typing import Final

import structlog

# Stripe's API keys and webhook signing secrets, wherever a message or traceback would
# quote one (an error of a library, a misconfigured setting): the last resort behind
# SecretStr settings and errors that leave them out.
SECRET_PATTERN: Final = re.compile(
    r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]+|\bwhsec_[A-Za-z0-9+/=]+"
)
REDACTED: Final = "[redacted]"


class SecretScrubber(logging.Filter):
    """Replaces secrets in a record's message (arguments included) and its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        scrubbed = SECRET_PATTERN.sub(REDACTED, message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_text:
            record.exc_text = SECRET_PATTERN.sub(REDACTED, record.exc_text)
        return True


def configure_logging(level: str, *, production: bool) -> None:
    logging.basicConfig(level=level.upper(), format="%(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretScrubber) for f in handler.filters):
            handler.addFilter(SecretScrubber())
    # Alembic narrates every migration context at INFO; its errors still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    renderer = (
        structlog.processors.JSONRenderer() if production else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
    )
