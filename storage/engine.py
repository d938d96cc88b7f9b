"""The database engine: SQLite (WAL, busy timeout) by default, PostgreSQL through asyncpg."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage import sqlite_connection

SQLITE_BUSY_TIMEOUT_MS = 5000


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if url.startswith("sqlite"):
        _prepare_sqlite_file(url)
        parsed = make_url(url)
        database = parsed.database or ":memory:"
        uri = parsed.query.get("uri") == "true"
        engine = create_async_engine(
            url, echo=echo,
            # aiosqlite, one trip to its thread per statement (storage/sqlite_connection.py)
            async_creator=lambda: sqlite_connection.connect(database, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
                                                            uri=uri))

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            # WAL lets the scheduler read while a handler writes; the busy timeout waits
            # for a lock instead of failing at once; SQLite enforces foreign keys only when asked.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True)
