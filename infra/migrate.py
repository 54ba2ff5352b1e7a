"""`ledgerline migrate`: alembic, configured in code so no alembic.ini has to be found."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "head")


async def upgrade_async(url: str) -> None:
    # env.py runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(upgrade, url)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    async with engine.connect() as conn:
        exists = (await conn.execute(text("select to_regclass('alembic_version')"))).scalar()
        if exists is None:
            return None
        return (await conn.execute(text("select version_num from alembic_version"))).scalar()


class SchemaOutOfDate(RuntimeError):
    pass


async def require_current_schema(engine: AsyncEngine) -> None:
    """Production does not migrate on its own: refuse to serve an out-of-date database."""
    current, head = await current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"the database schema is at revision {current or 'none'}, this version needs "
            f"{head}: run `ledgerline migrate` first"
        )
