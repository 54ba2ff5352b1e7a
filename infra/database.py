"""Which PostgreSQL to use: DATABASE_URL, or the embedded server in DATA_DIR."""

from __future__ import annotations

from dataclasses import dataclass

from infra.embedded_postgres import EmbeddedPostgres
from infra.settings import Settings

EMBEDDED_DATABASE = "ledgerline"


@dataclass
class Database:
    url: str
    embedded: EmbeddedPostgres | None = None

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def asyncpg_url(url: str) -> str:
    """Accept the usual postgres:// and postgresql:// forms; SQLAlchemy needs the driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


async def open_database(settings: Settings) -> Database:
    if settings.database_url:
        return Database(asyncpg_url(settings.database_url))
    embedded = EmbeddedPostgres(settings.data_dir)
    embedded.start()
    url = await embedded.ensure_database(EMBEDDED_DATABASE)
    return Database(url, embedded)
