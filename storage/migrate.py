"""Bring a database to the newest schema (the bot does this on every start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
# Several bot processes may start together on PostgreSQL; one migrates, the others wait.
MIGRATION_LOCK_KEY = 0x72656467  # "redg"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})

        def run(sync_conn) -> None:
            config = alembic_config()
            config.attributes["connection"] = sync_conn
            command.upgrade(config, revision)

        await conn.run_sync(run)


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def autogenerate(sync_conn, message: str) -> None:
    """For developers: write a new migration from the difference between tables.py and the database."""
    config = alembic_config()
    config.attributes["connection"] = sync_conn
    command.revision(config, message=message, autogenerate=True)
