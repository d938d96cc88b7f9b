"""One update at a time per chat.

aiogram handles updates concurrently; the photos of an album arrive as separate updates at the
same instant, and two of them must not both read and write the dialog's data at once. Other
chats still run in parallel.

The lock is the first thing an update meets (redgrid/bootstrap.py puts it right after aiogram's own user
context, before the inbox and before aiogram's FSM middleware reads the dialog's state): updates
take it in the order they came, before anything awaits. Were it taken later, the awaits before it
(the inbox's and the dialog state's database reads) could finish in any order, so a text sent right
after a photo was sometimes handled first; and the second photo of an album sent with no dialog open
would read "no dialog", open the report again and wipe the first photo. Several processes sharing
dialog state (Redis) need a lock shared as well: `dialog_isolation` gives aiogram's Redis lock,
which the FSM middleware takes before it reads the state.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable

from aiogram import BaseMiddleware
from aiogram.fsm.storage.base import BaseEventIsolation
from aiogram.types import TelegramObject

log = logging.getLogger(__name__)


class OneAtATimePerChat(BaseMiddleware):
    """Install with `install(dp)`: it must run before any middleware that awaits."""

    def install(self, dp: Any) -> "OneAtATimePerChat":
        outer = dp.update.outer_middleware._middlewares  # aiogram has no insert; its own two come first
        first_awaiting = next((i for i, m in enumerate(outer) if m is dp.fsm or getattr(m, "is_inbox", False)),
                              len(outer))
        outer.insert(first_awaiting, self)
        return self

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        chat = data.get("event_chat")
        user = data.get("event_from_user")
        key = chat.id if chat is not None else (user.id if user is not None else None)
        if key is None:
            return await handler(event, data)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                return await handler(event, data)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:  # nobody else queued: forget the lock so memory stays flat
                del self._waiting[key]
                self._locks.pop(key, None)


def dialog_isolation(redis_url: str) -> BaseEventIsolation | None:
    """The lock several bot processes share when they share dialog state in Redis: aiogram's FSM
    middleware takes it (per person in a chat) before it reads the dialog's state, and holds it
    until the update is handled and committed. One process needs none: OneAtATimePerChat does it."""
    if not redis_url:
        return None
    from aiogram.fsm.storage.redis import RedisEventIsolation

    class LapsedLockIsolation(RedisEventIsolation):
        """A lock that lapsed while its update was handled (a starved machine: over 15 s for one update)
        is no reason to fail the update after its commit: releasing it says so in the log instead of
        raising, so the webhook answers 200 and Telegram does not send the update again."""

        @asynccontextmanager
        async def lock(self, key: Any) -> AsyncIterator[None]:
            from redis.exceptions import LockNotOwnedError

            held = super().lock(key)
            await held.__aenter__()
            try:
                yield
            except BaseException as exc:
                try:
                    await held.__aexit__(type(exc), exc, exc.__traceback__)
                except LockNotOwnedError:
                    pass
                raise
            try:
                await held.__aexit__(None, None, None)
            except LockNotOwnedError:
                log.warning("a chat's lock lapsed before its update was handled (over 15 s)")

    # aiogram's default lock lives 60 s: one left by a killed process (or across a Redis restart) held
    # that chat's updates for a minute. An update holds it for well under a second; 15 s is plenty.
    return LapsedLockIsolation.from_url(redis_url, lock_kwargs={"timeout": 15})
