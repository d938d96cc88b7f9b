"""How listeners learn that a chat changed: `Subscription` (a queue of ChatEvents, used by the web
chat, the harness and the benchmarks) and `Changed` (wakes every waiter once). The announcing side
(`subscribe`, `wait_until`, `_emit`) is in base.py."""

from __future__ import annotations

import asyncio
from typing import Protocol

from demo.standin.model import ChatEvent


class _Owner(Protocol):
    """What a subscription needs of the stand-in: the set it is registered in."""

    _subscriptions: set[Subscription]


class Changed:
    """Wakes every waiter on the next change; cheap stand-in for a Condition without a lock."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self, timeout: float | None) -> bool:
        if self._event is None:
            self._event = asyncio.Event()
        event = self._event
        if timeout is not None and timeout <= 0:
            return False
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True


class Subscription:
    """A per-listener queue of ChatEvents; iterate it or `await get()`. Close when done."""

    def __init__(self, standin: _Owner, chat_id: int | None) -> None:
        self._standin = standin
        self.chat_id = chat_id
        self.queue: asyncio.Queue[ChatEvent | None] = asyncio.Queue()
        self.closed = False

    def _offer(self, event: ChatEvent) -> None:
        if not self.closed and self.chat_id in (None, event.chat_id):
            self.queue.put_nowait(event)

    async def get(self, timeout: float | None = None) -> ChatEvent | None:
        """Next event, or None when closed (or on timeout)."""
        if self.closed and self.queue.empty():
            return None
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._standin._subscriptions.discard(self)
            self.queue.put_nowait(None)  # wakes a reader blocked in get()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> ChatEvent:
        event = await self.get()
        if event is None:
            raise StopAsyncIteration
        return event

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
