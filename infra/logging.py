"""Structured logs: JSON lines in production, readable in development. Never secrets,
tokens or personal data.

Every record, ours and the libraries', goes through one handler on the root logger whose
structlog formatter adds the time, the level, the logger, the request's id and its trace
id, then renders. What a record may say is kept safe twice: the code logs ids and codes,
never a request's document, variables or headers; and `scrub` replaces whatever looks
like a secret, a token or an email address that slipped into a message or a traceback.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import IO, Any, Final

import structlog
from structlog.typing import EventDict, Processor

from infra.tracing import current_trace_id

# Stripe's API keys and webhook signing secrets, our client secrets, JWTs (access tokens)
# and bearer credentials, and email addresses: the last resort behind SecretStr settings,
# errors that leave them out, and request logs made of ids.
SECRET_PATTERN: Final = re.compile(
    r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]+|\bwhsec_[A-Za-z0-9+/=]+"
    r"|\bllsec_[A-Za-z0-9_-]+"
    r"|\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
    r"|(?i:\bbearer\s+)[A-Za-z0-9._~+/=-]+"
    r"|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)
REDACTED: Final = "[redacted]"


def scrub_text(text: str) -> str:
    return SECRET_PATTERN.sub(REDACTED, text)


class SecretScrubber(logging.Filter):
    """Replaces secrets in a record's message (arguments included) and its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        scrubbed = scrub_text(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        return True


def _scrub(_logger: Any, _method: str, event: EventDict) -> EventDict:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = scrub_text(value)
    return event


def _add_trace_id(_logger: Any, _method: str, event: EventDict) -> EventDict:
    if event.get("trace_id") is None:
        trace_id = current_trace_id()
        if trace_id is not None:
            event["trace_id"] = trace_id
        else:
            event.pop("trace_id", None)
    return event


def _drop_empty(_logger: Any, _method: str, event: EventDict) -> EventDict:
    return {key: value for key, value in event.items() if value is not None}


def _rename_event(_logger: Any, _method: str, event: EventDict) -> EventDict:
    # "message" is what log collectors (Loki, Cloud Logging, Elastic) read by default.
    event["message"] = event.pop("event", "")
    return event


# Fields a request's log line carries (infra/http/request_log.py passes them as `extra`).
REQUEST_FIELDS: Final = (
    "request_id",
    "trace_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "tenant",
    "client",
    "operation_type",
    "operation",
    "error_code",
)


class _LedgerlineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging installs (and replaces when called again)."""


def formatter(*, production: bool) -> logging.Formatter:
    pre_chain: list[Processor] = [
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(allow=REQUEST_FIELDS),
        structlog.contextvars.merge_contextvars,
        _add_trace_id,
        _drop_empty,
    ]
    # Tracebacks as plain text, then scrubbed: a rich traceback would print locals.
    processors: list[Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        structlog.processors.format_exc_info,
        _scrub,
    ]
    if production:
        processors += [_rename_event, structlog.processors.JSONRenderer()]
    else:
        processors.append(structlog.dev.ConsoleRenderer(colors=False))
    return structlog.stdlib.ProcessorFormatter(processors=processors, foreign_pre_chain=pre_chain)


def configure_logging(
    level: str, *, production: bool, stream: IO[str] | None = None
) -> logging.Handler:
    """Routes every log record through one handler on the root logger, writing to `stream`
    (stderr). Called again, it replaces the handler it installed before. Returns it."""
    root = logging.getLogger()
    for installed in [h for h in root.handlers if isinstance(h, _LedgerlineHandler)]:
        root.removeHandler(installed)
    handler = _LedgerlineHandler(stream or sys.stderr)
    handler.setFormatter(formatter(production=production))
    root.addHandler(handler)
    root.setLevel(level.upper())
    for each in root.handlers:
        if not any(isinstance(f, SecretScrubber) for f in each.filters):
            each.addFilter(SecretScrubber())
    # Alembic narrates every migration context at INFO; its errors still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs each URL it calls at INFO: a webhook receiver's URL may carry its token.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # Each request is logged once, by infra/http/request_log.py.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
    )
    return handler


def bind_request(values: MutableMapping[str, Any]) -> Any:
    """Binds request fields to every record logged while the request runs; returns the
    tokens to reset them with."""
    return structlog.contextvars.bind_contextvars(**values)
