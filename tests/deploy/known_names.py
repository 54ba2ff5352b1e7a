"""Which environment variable names a deployment file may set: Ledgerline's settings (the
upper-cased fields of infra/settings.py) and the few read by other components."""

from __future__ import annotations

from pathlib import Path

import yaml

from infra.settings import Settings

REPO = Path(__file__).resolve().parents[2]

# Fixed by issue 16 and read by components built beside this one (the Redis-backed rate
# limiter, the OpenTelemetry exporter); they may not be settings on every branch yet.
OTHER_COMPONENTS = {"REDIS_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"}
# Any other OTEL_* is OpenTelemetry's own configuration (OTEL_SERVICE_NAME...), read by its SDK.
OPENTELEMETRY_PREFIX = "OTEL_"


def setting_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def unknown_names(names: object) -> list[str]:
    """The names that are neither a setting nor an allowed external one."""
    assert isinstance(names, dict | list | set), names
    known = setting_names() | OTHER_COMPONENTS
    return sorted(
        name for name in names if name not in known and not name.startswith(OPENTELEMETRY_PREFIX)
    )


def load_all(path: Path) -> list[dict[str, object]]:
    with path.open() as file:
        return [doc for doc in yaml.safe_load_all(file) if doc is not None]
