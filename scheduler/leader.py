"""Which process runs the clock when several share one PostgreSQL database.

The leader holds a session-level advisory lock (`pg_try_advisory_lock`) on a connection of its
own. Standbys try again every `retry_every` seconds (10 by default). When the leader dies its
connection closes, PostgreSQL drops the lock, and the next try of a standby wins: a takeover
within seconds, well inside a minute. The leader checks its connection every `check_every`
seconds; if it is gone, so is the lock, and the process steps down at once.

On SQLite only one process can use the database file for the bot anyway: it is the leader.
"""

from __future__ import annotations

import asyncio
import logging

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
