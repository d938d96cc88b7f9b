"""Which process runs the clock when several share one PostgreSQL database.

The leader holds a session-level advisory lock (`pg_try_advisory_lock`) on a connection of its
own. Standbys try again every `retry_every` seconds (10 by default). When the leader dies its
connection closes, PostgreSQL drops the lock, and the next try of a standby wins: a takeover
within seconds, well inside a minute. The leader checks its connection every `check_every`
seconds; if it is gone, so is the lock, and the process steps down at once.

On SQLite one process runs the bot on a database file, and it leads. `hold_sqlite_database` makes
sure of it: `redgrid run` and `redgrid demo` take an exclusive lock (flock) on a file beside the
database for the whole life of the process, so a second one on the same file stops at once with a
message naming the file and the first process, instead of both leading (two delivery workers
sending together above Telegram's rate, every scheduled job twice). The kernel drops the lock when
the process ends, also by kill -9: a lock file left behind never blocks a restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

LEADER_LOCK_KEY = 0x7265646C  # "redl"; the migration lock (storage/migrate.py) is another key


class Leadership:
    def __init__(self, engine: AsyncEngine, *, retry_every: float = 10.0, check_every: float = 5.0,
                 key: int = LEADER_LOCK_KEY) -> None:
        self.engine = engine
        self.retry_every = retry_every
        self.check_every = check_every
        self.key = key
        self.is_leader = False
        self._lock_engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None

    @property
    def shared(self) -> bool:
        """Several processes may compete (PostgreSQL)."""
        return self.engine.dialect.name == "postgresql"

    async def try_acquire(self) -> bool:
        if self.is_leader:
            return True
        if not self.shared:
            self.is_leader = True
            return True
        if self._lock_engine is None:
            # Its own connection, never pooled: closing it (or dying) really ends the session and the lock.
            self._lock_engine = create_async_engine(self.engine.url, poolclass=NullPool)
        conn = await self._lock_engine.connect()
        try:
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})).scalar()
            await conn.commit()  # the transaction ends; a session-level lock stays until unlocked or closed
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn, self.is_leader = conn, True
        return True

    async def acquire(self) -> None:
        """Wait until this process leads."""
        while True:
            try:
                if await self.try_acquire():
                    return
            except Exception as exc:  # the database is away: a standby keeps trying
                log.warning("could not ask for leadership: %s", exc)
            await asyncio.sleep(self.retry_every)

    async def lost(self) -> None:
        """Return when leadership is lost (never, on SQLite)."""
        if not self.shared:
            await asyncio.Event().wait()
        while self.is_leader and self._conn is not None:
            await asyncio.sleep(self.check_every)
            try:
                await self._conn.execute(text("SELECT 1"))
                await self._conn.commit()
            except Exception as exc:
                log.error("the leader's database connection is gone (%s); stepping down", exc)
                await self._drop()
                return

    async def release(self) -> None:
        """Step down (on shutdown): unlock and close, so a standby takes over at its next try."""
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                await self._conn.commit()
            except Exception:
                pass  # closing the connection below releases it anyway
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn, self.is_leader = self._conn, None, False
        if conn is not None:
            try:
                await conn.close()
            except Exception:
                pass

    async def dispose(self) -> None:
        await self.release()
        if self._lock_engine is not None:
            await self._lock_engine.dispose()
            self._lock_engine = None


class DatabaseInUse(Exception):
    """Another process runs the bot on this SQLite file; the message says which, in one line."""


class SqliteDatabaseLock:
    """An exclusive lock on `<database>.lock`, held until `release` or the end of the process."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        # The file stays: removing it could race a process that has opened it and is about to lock it.
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def sqlite_database_file(url: str) -> Path | None:
    """The file behind a SQLite URL; None for PostgreSQL or an in-memory database."""
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or "mode=memory" in url:
        return None
    return Path(database.removeprefix("file:").split("?", 1)[0]).resolve()


def hold_sqlite_database(url: str) -> SqliteDatabaseLock | None:
    """Claim a SQLite database for this process, or raise DatabaseInUse; None when there is nothing
    to claim (PostgreSQL, where leadership is decided by an advisory lock, or :memory:)."""
    import fcntl

    path = sqlite_database_file(url)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise DatabaseInUse(
            f"the database {path} is in use by another redgrid process (pid {other}); on SQLite only one "
            f"bot process may run: stop that one first, or use PostgreSQL (DATABASE_URL) to run several") from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return SqliteDatabaseLock(lock_path, fd)
