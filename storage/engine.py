"""The database engine: SQLite (WAL, busy timeout) by default, PostgreSQL through asyncpg."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage import sqlite_connection

# SQLite has one writer at a time; a handler that has written holds the lock until its commit, and
# when the bot is overloaded (the update benchmark offers 100 updates/s to a bot that handles ~55)
# each await on the way to that commit waits its turn on a busy event loop. With 5 s some writers
# gave up ("database is locked") and their update was rolled back; waiting longer loses nothing.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# A handler holds its connection while it talks to Telegram, so a burst keeps many busy at once.
# Connections beyond pool_size are closed when handed back, and a new one costs far more than a
# statement (SQLite re-reads the schema with a cold page cache; PostgreSQL forks a backend): under
# the update benchmark's 200 dialogs the old pools (5 + 10 overflow on SQLite, 10 + 10 on
# PostgreSQL) opened a new connection every ~15 updates. So keep enough open and let the rest wait
# for one (in order) rather than open more. SQLite gets fewer: more writers only queue for its lock.
POOL = {"pool_size": 20, "max_overflow": 5}
SQLITE_POOL = {"pool_size": 10, "max_overflow": 5}


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
            url, echo=echo, hide_parameters=True,  # an error in the log names no one's words or phone
            # aiosqlite, statements in the loop unless they must wait; WAL, foreign keys and the
            # other pragmas are set where each connection opens (storage/sqlite_connection.py)
            async_creator=lambda: sqlite_connection.connect(database, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS,
                                                            uri=uri),
            **({} if database == ":memory:" else SQLITE_POOL))  # one shared connection for :memory:

        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True, hide_parameters=True, **POOL)


def database_away(exc: BaseException) -> bool:
    """A lost, refused or locked database connection: the same work on a new connection may succeed.
    One rule for the inbox's retries, the delivery worker and its outcome writes."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError, ConnectionError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)
