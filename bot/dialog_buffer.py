"""Dialog state kept outside the database (Redis), changed only when the update's transaction commits.

With the dialog in Redis, a handler's `wizard.exit()` or `goto()` used to reach Redis at once, while
its effects waited for the database commit: a process killed in between left a confirm press with no
dialog to find when the inbox handled it again, and the resident's report was lost. `CommitBound`
keeps an update's dialog changes in memory (reads see them) and writes them to Redis only after the
update's unit of work has committed; a rollback (a refusal, a failure, a crash) drops them with the
rest. What is left is the other order: a crash after the commit and before the write leaves the
dialog one step behind, with the effect done once — never a lost report or a second case.

In the database (the default) none of this is needed: the dialog's rows are written on the update's
own connection (storage/dialogs.py).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Mapping

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey

_UNSET = object()


class _Changes:
    def __init__(self) -> None:
        self.states: dict[StorageKey, str | None] = {}
        self.data: dict[StorageKey, dict[str, Any]] = {}


_changes: ContextVar[_Changes | None] = ContextVar("dialog_changes", default=None)


class CommitBound(BaseStorage):
    """Wraps a storage: inside `buffered()` writes wait for `flush`, reads see them."""

    def __init__(self, inner: BaseStorage) -> None:
        self.inner = inner

    @contextmanager
    def buffered(self) -> Iterator[_Changes]:
        changes = _Changes()
        token = _changes.set(changes)
        try:
            yield changes
        finally:
            _changes.reset(token)

    async def flush(self, changes: _Changes) -> None:
        for key, state in changes.states.items():
            await self.inner.set_state(key, state)
        for key, data in changes.data.items():
            await self.inner.set_data(key, data)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        changes = _changes.get()
        if changes is None:
            await self.inner.set_state(key, state)
        else:
            changes.states[key] = state.state if isinstance(state, State) else state

    async def get_state(self, key: StorageKey) -> str | None:
        changes = _changes.get()
        if changes is not None and key in changes.states:
            return changes.states[key]
        return await self.inner.get_state(key)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        changes = _changes.get()
        if changes is None:
            await self.inner.set_data(key, data)
        else:
            changes.data[key] = dict(data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        changes = _changes.get()
        if changes is not None and key in changes.data:
            return dict(changes.data[key])
        return await self.inner.get_data(key)

    async def close(self) -> None:
        await self.inner.close()


def commit_bound_middleware(storage: CommitBound):
    """An update middleware inside the unit of work: the update's dialog changes go to the storage
    after its commit, or nowhere."""

    async def middleware(handler, event, data):
        uow = data.get("uow")
        if uow is None:
            return await handler(event, data)
        with storage.buffered() as changes:
            result = await handler(event, data)
        uow.after_commit(lambda: storage.flush(changes))
        return result

    return middleware
