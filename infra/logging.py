"""Structured logs: JSON in production, readable in development. Never secrets or tokens."""

from __future__ import annotations

import logging

import structlog


def configure_logging(level: str, *, production: bool) -> None:
    logging.basicConfig(level=level.upper(), format="%(message)s")
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
