"""A broadcast's progress, as the staff member who started it sees it: one message, edited.

Every few seconds (`every`) the delivery worker asks the reporter to look at the unfinished
broadcasts (one query): the progress message is sent on the first look and edited afterwards
(sent / left / failed / time to go). When nothing is left, the broadcast is marked finished and
a summary ("broadcast.finished") goes to its author through the outbox, so it too arrives once.

The words come from the bot layer (`text`), so they stay in the catalog in the person's
language; `plain_progress` is plain English for tests and tools.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Awaitable, Callable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramRetryAfter

from core.clock import Clock, SystemClock
from core.people import Person
from core.ports import UnitOfWork
from scheduler.delivery import PACED, Pacer
from storage.broadcasts import BroadcastCounts, SqlBroadcasts
from storage.uow import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BroadcastProgress:
    broadcast_id: int
    title: str
    total: int
    sent: int
    failed: int
    skipped: int    # blocked the bot, no Telegram account, nothing to say
    left: int
    elapsed: float  # seconds since it was started
    eta: float | None  # seconds to go; None while the pace is not known yet
    finished: bool


ProgressText = Callable[[UnitOfWork, BroadcastProgress, "Person | None"], Awaitable[str]]


def plain_progress(p: BroadcastProgress) -> str:
    """Plain English, for tests and tools (the bot's words come from its catalog)."""
    if p.finished:
        return (f"Broadcast “{p.title}” finished: {p.sent} sent, {p.failed} failed, {p.skipped} skipped "
                f"of {p.total} in {_duration(p.elapsed)}.")
    eta = _duration(p.eta) if p.eta is not None else "…"
    return f"Broadcast “{p.title}”: {p.sent} sent, {p.left} left, {p.failed} failed; about {eta} to go."


async def plain_progress_text(uow: UnitOfWork, progress: BroadcastProgress, person: Person | None) -> str:
    return plain_progress(progress)


def _duration(seconds: float) -> str:
    seconds = max(0, math.ceil(seconds))
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


class ProgressReporter:
    def __init__(self, db: Database, bot: Bot, text: ProgressText, *, pacer: Pacer | None = None,
                 every: float = 5.0, clock: Clock | None = None, channel: str = "telegram") -> None:
        self.db = db
        self.bot = bot
        self.text = text
        self.pacer = pacer
        self.every = every
        self.clock = clock or SystemClock()
        self.channel = channel
        self.store = SqlBroadcasts(db)
        self._last_tick = -math.inf
        self._shown: dict[int, str] = {}
        self._samples: dict[int, deque[tuple[float, int]]] = {}

    async def tick(self, force: bool = False) -> None:
        now_m = time.monotonic()
        if not force and now_m - self._last_tick < self.every:
            return
        self._last_tick = now_m
        for counts in await self.store.unfinished():
            await self._report(counts, now_m)

    def _eta(self, broadcast_id: int, now_m: float, done: int, left: int) -> float | None:
        samples = self._samples.setdefault(broadcast_id, deque())
        samples.append((now_m, done))
        while len(samples) > 2 and now_m - samples[1][0] >= 60:  # the pace of the last minute
            samples.popleft()
        first_m, first_done = samples[0]
        if now_m - first_m < 1 or done <= first_done:
            return None
        return left / ((done - first_done) / (now_m - first_m))

    async def _report(self, c: BroadcastCounts, now_m: float) -> None:
        now = self.clock.now()
        finished = c.left == 0
        if finished and not await self.store.finish(c, now):
            return  # another process finished it and speaks for it
        done = c.sent + c.failed + c.skipped
        progress = BroadcastProgress(
            c.id, c.title, c.total, c.sent, c.failed, c.skipped, c.left,
            max(0.0, (now - c.created_at).total_seconds()),
            None if finished else self._eta(c.id, now_m, done, c.left), finished)
        async with self.db.uow() as uow:
            person = await uow.people.get(c.created_by) if c.created_by is not None else None
            chat = c.progress_chat_id or await self._chat_of(uow, c.created_by)
            text = await self.text(uow, progress, person) if chat is not None else None
        if finished:
            self._samples.pop(c.id, None)
            last = self._shown.pop(c.id, None)
        else:
            last = self._shown.get(c.id)
        if chat is None or text is None or text == last:
            return
        if c.progress_message_id is None:
            message = await self._call(chat, lambda: self.bot.send_message(chat_id=chat, text=text))
            if message is not None:
                await self.store.set_progress_message(c.id, chat, message.message_id)
        else:
            message = await self._call(chat, lambda: self.bot.edit_message_text(
                text=text, chat_id=chat, message_id=c.progress_message_id))
        if message is not None and not finished:
            self._shown[c.id] = text

    async def _chat_of(self, uow: UnitOfWork, person_id: int | None) -> str | None:
        if person_id is None:
            return None
        for identity in await uow.people.identities(person_id):
            if identity.channel == self.channel and identity.reachable:
                return identity.chat_id
        return None

    async def _call(self, chat: str, call):
        """A progress message is nice to have: on any trouble this look is skipped, the next one tries."""
        slot = await self.pacer.acquire(chat) if self.pacer is not None else None
        paced = PACED.set(slot is not None)  # under its own slot: the reply pacing leaves it alone
        try:
            return await call()
        except TelegramRetryAfter as exc:
            if self.pacer is not None:
                self.pacer.pause(exc.retry_after)
        except (TelegramAPIError, TelegramNetworkError) as exc:
            log.info("broadcast progress not shown this time: %s", exc)
        finally:
            PACED.reset(paced)
            if slot is not None:
                self.pacer.release(slot)  # type: ignore[union-attr]
        return None
