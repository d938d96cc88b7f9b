"""Unfinished dialogs in the bot's own database: aiogram's FSM storage over the same SQLAlchemy engine.

A resident half-way through a report (photos sent, category chosen) has nothing in the cases
table yet: all of it is dialog state. Kept in memory it died with the process, and the confirm
press that the inbox replays after a crash found no dialog ("这个按钮已过期") — a lost report.
Here it is a row of `dialog_state` (storage/tables.py), keyed like aiogram's `StorageKey` (bot,
chat, user, thread, business connection, destiny — scenes keep their history under a destiny of
their own), with the state's name and the dialog's data as JSON. It works on SQLite and PostgreSQL
alike (INSERT … ON CONFLICT DO UPDATE on both), so one process on SQLite loses nothing on a crash;
Redis stays the option when several bot processes share the work (redgrid/bootstrap.py `dialog_storage`).

Cost, since it runs on every update: a get is one SELECT by primary key, a set one upsert; the
statements are built once. aiogram reads the state once per update; a scene step usually adds a
read and a write or two of the data (bench/dialog_storage.py measures it against MemoryStorage).

Which transaction a change belongs to — the choice, and why. A call runs on the connection the
current update joined with `joined(conn)` (redgrid/bootstrap.py joins the update's unit of work), else in a
short transaction of its own on the engine:

* #14 wants a dialog's change to commit with the handler's effects, or not at all: a replayed
  update then finds the dialog where the effects left it. Joined, the state change is part of the
  unit of work: committed by its commit, undone by its rollback (a refusal, an error).
* On SQLite only one connection writes at a time, and a handler that has written holds that lock
  until its unit of work commits after the handler returns. A dialog write on a second connection
  inside that handler would wait for a lock its own handler holds: 30 s of busy timeout, then
  "database is locked". On the same connection it cannot wait for itself.
* A contextvar rather than a parameter: aiogram calls the storage with a key only, from its own
  FSM middleware (the first read of each update, before any unit of work is open, runs on its
  own) and from scenes, and each update is handled in a task of its own, which the variable
  follows and no other update sees.

Joined, a key's state and data are read from the database once per block and then remembered
(writes go through and are remembered too): aiogram's scenes and the steps ask for the same state and
data again and again within one update (about 7 reads and 3 writes per update of the report dialog,
all but 2–3 of the reads answered here now). Nothing else can change them meanwhile: one update of a
chat at a time (bot/serial.py), and the block's transaction holds its own writes. The data handed out
is a copy, so a caller changing it changes nothing until it writes.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator, Iterator, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlalchemy import and_, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.clock import Clock, SystemClock
from storage import tables as t

_table = t.dialog_state
_KEY = ("bot_id", "chat_id", "user_id", "thread_id", "business_connection_id", "destiny")
_BY_KEY = and_(*(_table.c[name] == bindparam(f"k_{name}") for name in _KEY))
_GET_STATE = select(_table.c.state).where(_BY_KEY)
_GET_DATA = select(_table.c.data).where(_BY_KEY)
_FORGET = delete(_table).where(_BY_KEY)


def _key(key: StorageKey) -> dict[str, Any]:
    return {"k_bot_id": key.bot_id, "k_chat_id": key.chat_id, "k_user_id": key.user_id,
            "k_thread_id": key.thread_id or 0, "k_business_connection_id": key.business_connection_id or "",
            "k_destiny": key.destiny}


def _row(key: StorageKey, state: str | None, data: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    return {"bot_id": key.bot_id, "chat_id": key.chat_id, "user_id": key.user_id, "thread_id": key.thread_id or 0,
            "business_connection_id": key.business_connection_id or "", "destiny": key.destiny,
            "state": state, "data": dict(data), "updated_at": at}


def _upserts(dialect: str) -> tuple[Any, Any, Any]:
    """(set the state, set the data, set both) for one dialect: INSERT … ON CONFLICT (the key) DO UPDATE
    those columns."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    made = []
    for columns in (("state",), ("data",), ("state", "data")):
        stmt = insert(_table)
        made.append(stmt.on_conflict_do_update(index_elements=list(_KEY), set_={
            **{column: stmt.excluded[column] for column in columns}, "updated_at": stmt.excluded.updated_at}))
    return made[0], made[1], made[2]


class _Joined:
    """The connection a block's calls run on, and what they read or wrote there, by key; `deferred`:
    the writes wait for the block's end (`written_at_end`), the keys they touched in `unwritten`."""

    __slots__ = ("conn", "states", "data", "deferred", "unwritten")

    def __init__(self, conn: AsyncConnection, deferred: bool = False) -> None:
        self.conn = conn
        self.states: dict[StorageKey, str | None] = {}
        self.data: dict[StorageKey, dict[str, Any]] = {}
        self.deferred = deferred
        self.unwritten: dict[StorageKey, set[str]] = {}  # key → "state", "data": what the end writes


class SqlDialogStorage(BaseStorage):
    """aiogram's `BaseStorage` on `dialog_state`; `joined(conn)` puts its calls in that transaction."""

    def __init__(self, engine: AsyncEngine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()  # stamps `updated_at`, which the retention job reads
        self._set_state, self._set_data, self._set_both = _upserts(engine.dialect.name)
        self._joined: ContextVar[_Joined | None] = ContextVar(f"dialog_connection_{id(self)}", default=None)

    @contextlib.contextmanager
    def joined(self, conn: AsyncConnection) -> Iterator[None]:
        """Within the block (and the tasks it starts), every call runs on `conn`, in its transaction;
        the caller commits or rolls back. What the block reads or writes is remembered until it ends."""
        token = self._joined.set(_Joined(conn))
        try:
            yield
        finally:
            self._joined.reset(token)

    @contextlib.asynccontextmanager
    async def written_at_end(self, conn: AsyncConnection) -> AsyncIterator[None]:
        """As `joined(conn)`, and the block's writes are kept in memory (reads see them) and written
        when it ends without an error, one upsert per key whatever the number of calls: a scene
        transition sets the state and the data several times in one update (redgrid/bootstrap.py
        wraps each update's handler in it, inside the unit of work, which commits right after). An
        error leaves them unwritten, as the rollback that follows would undo them anyway."""
        joined = _Joined(conn, deferred=True)
        token = self._joined.set(joined)
        try:
            yield
            for key, columns in joined.unwritten.items():
                state = joined.states.get(key)
                data = joined.data.get(key, {})
                if state is None and not data and len(columns) == 2:
                    # a dialog cleared in this update (cancel, /forget) is no row at all: writing an
                    # empty one back would re-create what /forget erased in this same transaction
                    await conn.execute(_FORGET, _key(key))
                    continue
                stmt = self._set_both if len(columns) == 2 else (
                    self._set_state if "state" in columns else self._set_data)
                await conn.execute(stmt, _row(key, state, data, self.clock.now()))
            joined.unwritten.clear()
        finally:
            self._joined.reset(token)

    async def _read(self, stmt: Any, key: StorageKey) -> Any:
        joined = self._joined.get()
        if joined is not None:
            return (await joined.conn.execute(stmt, _key(key))).scalar_one_or_none()
        async with self.engine.connect() as own:
            return (await own.execute(stmt, _key(key))).scalar_one_or_none()

    async def _write(self, stmt: Any, row: dict[str, Any]) -> None:
        joined = self._joined.get()
        if joined is not None:
            await joined.conn.execute(stmt, row)
            return
        async with self.engine.begin() as own:
            await own.execute(stmt, row)

    async def get_state(self, key: StorageKey) -> str | None:
        joined = self._joined.get()
        if joined is not None and key in joined.states:
            return joined.states[key]
        state = await self._read(_GET_STATE, key)
        if joined is not None:
            joined.states[key] = state
        return state

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = state.state if isinstance(state, State) else state
        joined = self._joined.get()
        if joined is not None and joined.deferred:
            joined.states[key] = name
            joined.unwritten.setdefault(key, set()).add("state")
            return
        await self._write(self._set_state, _row(key, name, {}, self.clock.now()))
        joined = self._joined.get()
        if joined is not None:
            joined.states[key] = name  # the data stays what it was ({} for a new row, as read before)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        joined = self._joined.get()
        if joined is not None and key in joined.data:
            return copy.deepcopy(joined.data[key])
        data = await self._read(_GET_DATA, key)
        data = dict(data) if data else {}
        if joined is not None:
            joined.data[key] = copy.deepcopy(data)
        return data

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        joined = self._joined.get()
        if joined is not None and joined.deferred:
            joined.data[key] = copy.deepcopy(dict(data))
            joined.unwritten.setdefault(key, set()).add("data")
            return
        await self._write(self._set_data, _row(key, None, data, self.clock.now()))
        joined = self._joined.get()
        if joined is not None:
            joined.data[key] = copy.deepcopy(dict(data))  # the state stays what it was (None for a new row)

    async def close(self) -> None:
        """Nothing of its own to close: the engine belongs to the process's `Database`."""
