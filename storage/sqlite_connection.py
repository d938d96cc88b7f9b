"""aiosqlite, but a statement that need not wait for a lock runs in the event loop itself.

aiosqlite runs every call in its connection's worker thread. Each such trip is a queue put, a
thread wake-up, a `call_soon_threadsafe` and a turn of the loop, and the thread then competes with
the loop for Python's interpreter lock: about 80 µs of CPU per statement here, more than most
statements cost to run. So:

* The connection's busy timeout is 0: a statement run in the loop never waits. When SQLite says
  the database is busy or locked (another connection holds a lock this statement needs), the
  statement has had no effect, and it goes to the worker thread, which sets the real timeout
  (`busy_timeout_ms`) for that one call and waits there while the loop goes on. With WAL a read
  never waits for a writer, and a writer that holds the write lock never waits again until it
  commits: in practice only a transaction's first write, under contention, makes the trip.
* COMMIT and ROLLBACK run in the loop too (with WAL and `synchronous=NORMAL` a commit appends to
  the log and syncs nothing; taking commits off the thread: 109 → 156 updates/s in the update
  benchmark), and none is made when SQLite has no transaction open (SQLAlchemy rolls
  back every connection it takes back into its pool). What does sync files is the checkpoint,
  which SQLite would run inside whichever commit fills the log: the connections switch that off
  (`wal_autocheckpoint=0`) and each runs a PASSIVE checkpoint in its thread after every
  `CHECKPOINT_EVERY` of its own commits, so the log stays short and the loop never syncs.
* `executemany` always goes to the thread: bulk writes, such as a broadcast's thousands of
  recipients, would hold the loop.
* A cursor runs execute + fetchall + close in one go and keeps the rows, so SQLAlchemy's
  `fetchall` and `close` cost nothing.

A statement in the loop holds the loop while SQLite works; the statements here read or write a
handful of indexed rows. A future query over many rows (an export) should take the thread instead
(`await connection._execute(...)`). `check_same_thread=False` lets the
loop and the thread take turns on one connection: SQLAlchemy runs one statement at a time per
connection, and a statement runs in the loop only while nothing of this connection is queued.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")
log = logging.getLogger(__name__)
_MUST_WAIT = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}  # primary codes: SQLITE_BUSY_* share the low byte
_NO_WAIT = "PRAGMA busy_timeout=0"
# Commits of one connection between its checkpoints of the log; over the pool that is one
# checkpoint per CHECKPOINT_EVERY commits in all. An update's commit adds a few pages to the log,
# so it stays near SQLite's own threshold (1000 pages) without a trip to the thread per commit.
CHECKPOINT_EVERY = 200
_CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"


def must_wait(error: sqlite3.OperationalError) -> bool:
    """Whether `error` means "another connection holds a lock", i.e. waiting might help."""
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in _MUST_WAIT


class Cursor:
    """The part of aiosqlite's cursor that SQLAlchemy uses, with the results fetched up front."""

    arraysize = 1

    def __init__(self, connection: "Connection") -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> "Cursor":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def _keep(self, cursor: sqlite3.Cursor) -> None:
        try:
            self.description = cursor.description
            self._rows = cursor.fetchall() if cursor.description else []
            self.rowcount = cursor.rowcount
            self.lastrowid = cursor.lastrowid
        finally:
            cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> "Cursor":
        await self._connection.run(lambda conn: self._keep(conn.execute(sql, parameters)))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> "Cursor":
        # bulk writes (a broadcast's thousands of recipients) would hold the loop: always the thread
        connection = self._connection
        await connection._execute(lambda: self._keep(connection._conn.executemany(sql, parameters)))
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or self.arraysize
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        self._rows = []


class Connection(aiosqlite.Connection):
    def __init__(self, connector: Callable[[], sqlite3.Connection], *, busy_timeout_ms: int,
                 iter_chunk_size: int = 64) -> None:
        super().__init__(connector, iter_chunk_size)
        self.busy_timeout_ms = busy_timeout_ms
        self.queued = 0  # calls waiting for or running in the worker thread
        self.commits = 0  # since this connection's last checkpoint

    def cursor(self) -> Cursor:  # type: ignore[override]
        return Cursor(self)

    async def run(self, statement: Callable[[sqlite3.Connection], T]) -> T:
        """`statement(connection)` here in the loop if SQLite lets it through at once, else in the thread."""
        connection = self._connection
        if connection is not None and not self.queued:
            try:
                return statement(connection)
            except sqlite3.OperationalError as error:
                if not must_wait(error):
                    raise
        return await self._execute(lambda: statement(self._conn))

    async def _execute(self, fn, *args, **kwargs):
        """aiosqlite's trip to the worker thread, with the real busy timeout for just this call."""
        function = partial(fn, *args, **kwargs)
        wait = f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}"

        def patiently() -> Any:
            connection = self._conn
            connection.execute(wait)
            try:
                return function()
            finally:
                with contextlib.suppress(sqlite3.ProgrammingError):  # `function` closed it
                    connection.execute(_NO_WAIT)

        self.queued += 1
        try:
            return await super()._execute(patiently)
        finally:
            self.queued -= 1

    async def commit(self) -> None:
        if self._connection is None or not self._connection.in_transaction:
            return
        await self.run(lambda connection: connection.commit())
        self.commits += 1
        if self.commits >= CHECKPOINT_EVERY:
            self.commits = 0
            await self.checkpoint()

    async def checkpoint(self) -> None:
        """Copy the log into the database file as far as readers allow (in the thread: it syncs).

        The commit before it has succeeded whatever happens here: a checkpoint that fails is logged
        and left to the next one."""
        try:
            await self._execute(lambda: self._conn.execute(_CHECKPOINT).close())
        except sqlite3.Error:
            log.warning("checkpoint of the SQLite log failed; the next one will try again", exc_info=True)

    async def rollback(self) -> None:
        if self._connection is not None and self._connection.in_transaction:
            await self.run(lambda connection: connection.rollback())


def connect(database: str, *, busy_timeout_ms: int, uri: bool = False) -> Connection:
    """An awaitable connection, as `aiosqlite.connect` returns (for `create_async_engine(async_creator=…)`)."""

    def connector() -> sqlite3.Connection:  # runs in the connection's thread
        connection = sqlite3.connect(database, timeout=busy_timeout_ms / 1000, uri=uri, check_same_thread=False)
        # WAL lets the scheduler read while a handler writes, and a read never waits for a lock, so
        # it runs in the loop; with synchronous=NORMAL a commit syncs nothing, so it runs in the loop
        # too, and only the checkpoint syncs: Connection.commit runs that in the thread, not SQLite.
        # SQLite enforces foreign keys only when asked.
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "wal_autocheckpoint=0", "foreign_keys=ON"):
            connection.execute(f"PRAGMA {pragma}")
        connection.execute(_NO_WAIT)  # from here on a statement run in the loop never waits
        return connection

    connection = Connection(connector, busy_timeout_ms=busy_timeout_ms)
    # As SQLAlchemy does for the aiosqlite connections it opens itself (ours come through
    # `async_creator`): a connection left open must not keep the process from exiting.
    connection._thread.daemon = True
    return connection
