"""One update at a time per chat.

aiogram handles updates concurrently; the photos of an album arrive as separate updates at the
same instant, and two of them must not both read and write the dialog's data at once. Other
chats still run in parallel.

The dialog's state is read again once the chat's turn comes. aiogram's FSM middleware, the
outermost one, reads it (`raw_state`, what StateFilter and the scenes match on) when the update
arrives, before this lock: the second photo of an album sent with no dialog open would still see
"no dialog", open the report again and wipe the first photo. Several processes sharing dialog
state (Redis) need a lock shared as well: `dialog_isolation` gives aiogram's Redis lock, which the
FSM middleware takes before it reads the state.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from aiogram import BaseMiddleware
from aiogram.fsm.storage.base import BaseEventIsolation
from aiogram.types import TelegramObject

from redgrid.settings import Settings


class OneAtATimePerChat(BaseMiddleware):
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
                state = data.get("state")
                if state is not None:  # what an update ahead of this one in the chat has made of it
                    data["raw_state"] = await state.get_state()
                return await handler(event, data)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:  # nobody else queued: forget the lock so memory stays flat
                del self._waiting[key]
                self._locks.pop(key, None)


def dialog_isolation(settings: Settings) -> BaseEventIsolation | None:
    """The lock several bot processes share when they share dialog state in Redis: aiogram's FSM
    middleware takes it (per person in a chat) before it reads the dialog's state, and holds it
    until the update is handled and committed. One process needs none: OneAtATimePerChat does it."""
    if not settings.redis_url:
        return None
    from aiogram.fsm.storage.redis import RedisEventIsolation

    return RedisEventIsolation.from_url(settings.redis_url)
