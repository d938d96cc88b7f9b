"""Messages per minute, per person: the Telegram channel's abuse limit (core.limits has the others).

Counted per Telegram user and per clock minute, before the inbox and before any database work, so a
flood costs no database round trip. One process counts in memory; several processes sharing dialog
state in Redis (REDIS_URL) count in Redis, one INCR + EXPIRE a message. The first message over the
limit is answered once, politely, in the person's language; the rest of that minute is dropped.
Messages and button presses count alike; an album counts one per photo (Telegram sends one update each).
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Protocol

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message, TelegramObject, Update, User

from core.people import pick_language
from texts import text

log = logging.getLogger(__name__)


class Counter(Protocol):
    async def hit(self, user_id: int, minute: int) -> int: ...


class MemoryCounter:
    """This minute's count per user, in this process; the previous minutes are forgotten as it turns."""

    def __init__(self) -> None:
        self.minute = -1
        self.counts: dict[int, int] = {}

    async def hit(self, user_id: int, minute: int) -> int:
        if minute != self.minute:
            self.minute, self.counts = minute, {}
        self.counts[user_id] = count = self.counts.get(user_id, 0) + 1
        return count


class RedisCounter:
    """The count shared by every process: one key per user and minute, gone two minutes later."""

    def __init__(self, redis_url: str, prefix: str = "rate") -> None:
        from redis.asyncio import Redis  # the optional `redis` package, there whenever REDIS_URL is set

        self.redis = Redis.from_url(redis_url)
        self.prefix = prefix

    async def hit(self, user_id: int, minute: int) -> int:
        key = f"{self.prefix}:{user_id}:{minute}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = await pipe.execute()
        return int(count)

    async def close(self) -> None:
        await self.redis.aclose()


class MessageRate(BaseMiddleware):
    """`MessageRate(limit, default_language).install(dp)`: right after the per-chat serial layer."""

    def __init__(self, limit: int, default_language: str, counter: Counter | None = None, *,
                 minute: Callable[[], int]) -> None:
        """`minute`: the number of the current minute (the composition root gives its clock's)."""
        self.limit = limit
        self.default_language = default_language
        self.counter = counter or MemoryCounter()
        self.fallback = MemoryCounter()  # this process's count while the shared one cannot be reached
        self.minute = minute
        self.dropped = 0

    def install(self, dp: Any) -> "MessageRate":
        outer = dp.update.outer_middleware._middlewares  # aiogram has no insert
        serial = next((i for i, m in enumerate(outer) if type(m).__name__ == "OneAtATimePerChat"), None)
        outer.insert(serial + 1 if serial is not None else len(outer), self)
        return self

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        inner = event.event if isinstance(event, Update) else event
        if user is None or user.is_bot or not isinstance(inner, (Message, CallbackQuery)):
            return await handler(event, data)
        try:
            count = await self.counter.hit(user.id, self.minute())
        except Exception as away:  # Redis down: a limit is no reason to lose a resident's message
            log.warning("message rate not counted (%s): let through", type(away).__name__)
            count = await self.fallback.hit(user.id, self.minute())
        if count <= self.limit:
            return await handler(event, data)
        self.dropped += 1
        if count == self.limit + 1:  # told once a minute, never answered message by message
            log.info("person with telegram id %s is over %s messages a minute", user.id, self.limit)
            await self._tell(inner, data.get("bot"), user)
        return None

    async def _tell(self, event: Message | CallbackQuery, bot: Bot | None, user: User) -> None:
        words = text(pick_language(None, user.language_code, self.default_language), "limits.too_fast")
        try:
            if isinstance(event, CallbackQuery):
                await event.answer(words, show_alert=True)
            elif bot is not None:
                await bot.send_message(event.chat.id, words)
        except TelegramAPIError as failed:
            log.warning("could not tell telegram id %s to slow down: %s", user.id, failed)
