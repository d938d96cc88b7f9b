"""One update at a time per chat.

aiogram handles updates concurrently; the photos of an album arrive as separate updates at the
same instant, and two of them must not both read and write the dialog's data at once. Other
chats still run in parallel.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject


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
                return await handler(event, data)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:  # nobody else queued: forget the lock so memory stays flat
                del self._waiting[key]
                self._locks.pop(key, None)
