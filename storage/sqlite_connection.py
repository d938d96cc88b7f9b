"""aiosqlite with one trip to its thread per statement instead of four.

SQLAlchemy's aiosqlite adapter awaits `cursor()`, `execute()`, `fetchall()` and `close()` one by
one, and aiosqlite runs each in its worker thread: four hand-overs between the event loop and the
thread per statement, each a queue put, a thread wake-up, a `call_soon_threadsafe` and a turn of the
loop: about 40 per update on the update benchmark, and removing them was most of a one-sixth cut
in the bot's CPU per update on SQLite (README, Performance). Here a cursor runs execute + fetchall + close as one function in the thread
and keeps the results, so `fetchall` and `close` cost nothing; `commit` and `rollback` skip the
trip when SQLite has no transaction open (sqlite3 would do nothing then either, and SQLAlchemy
rolls back every connection it takes back into its pool).

Everything still runs in aiosqlite's thread, so a statement waiting for SQLite's write lock (busy
timeout) never blocks the event loop. `check_same_thread=False` only lets the loop read
`in_transaction`; SQLAlchemy runs one statement at a time per connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite


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
        def run() -> None:
            self._keep(self._connection._conn.execute(sql, parameters))

        await self._connection._execute(run)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> "Cursor":
        def run() -> None:
            self._keep(self._connection._conn.executemany(sql, parameters))

        await self._connection._execute(run)
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
    def cursor(self) -> Cursor:  # type: ignore[override]
        return Cursor(self)

    async def commit(self) -> None:
        if self._connection is not None and self._connection.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        if self._connection is not None and self._connection.in_transaction:
            await super().rollback()


def connect(database: str, *, timeout: float, uri: bool = False) -> Connection:
    """An awaitable connection, as `aiosqlite.connect` returns (for `create_async_engine(async_creator=…)`)."""

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(database, timeout=timeout, uri=uri, check_same_thread=False)

    return Connection(connector, iter_chunk_size=64)
