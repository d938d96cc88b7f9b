"""The delivery worker: sends the outbox once, as fast as Telegram allows, and survives a crash.

Each batch is one claim (due rows become `sending`, committed before the Bot API is called),
then the rows are sent one by one under a global pace (`global_rate` messages in any second,
counted from when earlier sends finished, so Telegram's sliding window never sees more) and a
per-chat spacing (`per_chat_rate`). Each outcome is committed on its own before the next send:

- sent: `sent` with Telegram's message id;
- 429 Too Many Requests: every send pauses for `retry_after`, then the same row is tried again;
- network trouble or Telegram's 5xx: pending again after an exponential backoff (`not_before`),
  `failed` after `max_attempts`; sending also pauses briefly so an outage is not hammered;
- 403 (the person blocked the bot) or "chat not found": the identity becomes unreachable and the
  row `skipped`; their later rows are skipped at claim time until they write again
  (`core.onboarding.meet` makes them reachable);
- no Telegram identity, or the renderer has nothing to say: `skipped`; any other 400: `failed`.

At most one duplicate per crash, by construction: a row is marked sent right after Telegram
answers and before the next send starts, so a crash can catch at most `in_flight` rows (1 by
default) sent but not yet marked. On start, `sending` rows go back to pending and are sent again:
the one that may have been in flight arrives twice, all others were never tried. (`in_flight` > 1
sends on several lanes when the Bot API's round trip is long; a crash may then repeat that many.)
A network error is ambiguous in the same way (the request may have arrived before the connection
broke), and Telegram offers no way to ask, so such a retry may repeat one message too.

Who runs it: one worker per bot, in the process that leads (scheduler/runner.py), because
Telegram's limits are per bot, not per process; the claim uses SKIP LOCKED anyway, so a second
worker (a benchmark, an operator's one-off run) never takes the same row.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable, Protocol

import aiohttp
from aiogram import Bot
from aiogram.exceptions import (
    RestartingTelegram, TelegramBadRequest, TelegramConflictError, TelegramForbiddenError, TelegramNetworkError,
    TelegramNotFound, TelegramRetryAfter, TelegramServerError, TelegramUnauthorizedError,
)
from aiogram.methods import (
    CopyMessage, EditMessageCaption, EditMessageMedia, EditMessageReplyMarkup, EditMessageText, ForwardMessage,
    SendDocument, SendLocation, SendMediaGroup, SendMessage, SendPhoto, SendVoice,
)
from aiogram.types import BufferedInputFile, FSInputFile, InlineKeyboardMarkup

from core.clock import Clock, SystemClock
from core.notifications import Notification
from core.people import Identity, Person
from core.ports import UnitOfWork
from storage.engine import database_away
from storage.outbox import LEASE, Claimed, DeliveryQueue
from storage.uow import Database


class Progress(Protocol):
    """What the worker tells after sending: scheduler.broadcasts.ProgressReporter keeps the staff's
    progress message up to date (declared here so delivery does not import broadcasts, which paces
    its edits with delivery's Pacer)."""

    async def tick(self, force: bool = False) -> None: ...


log = logging.getLogger(__name__)

CAPTION_MAX = 1024


@dataclass
class Outgoing:
    """One message as the bot layer rendered it.

    photo: JPEG/PNG bytes, a file on disk (a Path) or a Telegram file_id (a str). A text longer
    than a caption may be goes in a second message after the photo. voice: a voice note to play
    (sendVoice), with the text as its caption.
    """

    text: str
    photo: bytes | Path | str | None = None
    markup: InlineKeyboardMarkup | None = None
    parse_mode: str | None = None
    voice: Path | bytes | None = None  # a voice note (OGG/Opus) sent as a voice message, `text` its caption
    duration: int | None = None  # the voice note's length in seconds, for the player before it loads


# (uow, notification, person, their Telegram identity) -> the message, or None for "nothing to say"
Render = Callable[[UnitOfWork, Notification, Person, Identity], Awaitable["Outgoing | None"]]


class _Slot:
    __slots__ = ("done", "chat")

    def __init__(self, chat: str | None) -> None:
        self.done: float | None = None
        self.chat = chat


class Pacer:
    """Telegram's limits, kept on our side: `rate` sends in any second and `per_chat_rate` per chat.

    A send may start when fewer than `rate` earlier sends finished within the last second (the
    server counts a request somewhere between its start and its answer, so counting from the
    answer is safe against a sliding window). One chat gets one send at a time, the next one
    `1 / per_chat_rate` seconds after the previous answer; 0 turns the per-chat spacing off.
    `pause()` stops every send for a while (after a 429 or a network error).

    Those waiting for the global window queue first come, first served, and each is woken once,
    when a slot is handed to it: a freed slot (the oldest one leaving the window, watched by one
    timer) goes to the next waiter in line. (Each waiter used to sleep to the same instant and
    look again, so with 200 dialogs waiting every freed slot woke all 200, one won and 199 went
    back to sleep: issue #18.) A send waiting for its chat's interval waits before it joins the
    line, holding no place in it.
    """

    def __init__(self, rate: float = 30.0, per_chat_rate: float | None = 1.0, *,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        """`monotonic` and `sleep` are the clock it paces by; tests pass a manual one."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.capacity = max(1, int(rate))
        self.period = self.capacity / rate
        self.chat_interval = 1.0 / per_chat_rate if per_chat_rate else 0.0
        self._window: deque[_Slot] = deque()
        self._waiters: deque[asyncio.Future[_Slot]] = deque()  # the line for the global window, oldest first
        self._timer: asyncio.Task[None] | None = None  # sleeps until the window may have room again
        self._chat_next: dict[str, float] = {}
        self._chat_busy: dict[str, asyncio.Event] = {}
        self.paused_until = 0.0
        self._monotonic, self._sleep = monotonic, sleep

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self._monotonic() + seconds)

    def chat_ready_at(self, chat: str) -> float:
        """Monotonic time from which `chat` may get its next message (if nothing else is sent to it)."""
        return self._chat_next.get(chat, 0.0)

    async def acquire(self, chat: str | None = None) -> _Slot:
        if chat is not None and self.chat_interval:
            while True:
                busy = self._chat_busy.get(chat)
                if busy is not None:
                    await busy.wait()
                    continue
                wait = self._chat_next.get(chat, 0.0) - self._monotonic()
                if wait <= 0:
                    break
                await self._sleep(wait)
            self._chat_busy[chat] = asyncio.Event()
        else:
            chat = None
        try:
            slot = await self._acquire_global(chat)
        except BaseException:
            if chat is not None:
                self._chat_busy.pop(chat).set()
            raise
        return slot

    async def _acquire_global(self, chat: str | None) -> _Slot:
        if not self._waiters and self._room(self._monotonic()):  # nobody in line and room: no waiting
            slot = _Slot(chat)
            self._window.append(slot)
            return slot
        waiter: asyncio.Future[_Slot] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._grant()
        try:
            slot = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed a slot, then cancelled: it goes to the next
                self._window.remove(waiter.result())
                self._grant()
            raise
        slot.chat = chat
        return slot

    def _room(self, now: float) -> bool:
        """Whether a send may start now (not paused, fewer than `capacity` sends in the window)."""
        if self.paused_until > now:
            return False
        window = self._window
        while window and window[0].done is not None and window[0].done <= now - self.period:
            window.popleft()
        return len(window) < self.capacity

    def _grant(self) -> None:
        """Hand the free slots to the first in line; if some are left waiting, have the timer wake
        this when the window may next have room (a slot in flight calls it when released)."""
        waiters = self._waiters
        now = self._monotonic()
        while waiters and self._room(now):
            waiter = waiters.popleft()
            if waiter.done():  # cancelled while in line
                continue
            slot = _Slot(None)
            self._window.append(slot)
            waiter.set_result(slot)
        while waiters and waiters[0].done():
            waiters.popleft()
        if not waiters or (self._timer is not None and self._timer.get_loop() is asyncio.get_running_loop()):
            return  # nobody waits, or the timer is set (one from a loop that has ended does not count)
        if self.paused_until > now:
            at = self.paused_until
        elif self._window[0].done is not None:
            at = self._window[0].done + self.period
        else:
            return  # the oldest send is still in flight: its release calls this again
        self._timer = asyncio.get_running_loop().create_task(self._wake_at(at))

    async def _wake_at(self, at: float) -> None:
        try:
            await self._sleep(max(0.0, at - self._monotonic()))
        finally:
            self._timer = None
        self._grant()

    def release(self, slot: _Slot) -> None:
        slot.done = self._monotonic()
        if slot.chat is not None:
            self._chat_next[slot.chat] = slot.done + self.chat_interval
            busy = self._chat_busy.pop(slot.chat, None)
            if busy is not None:
                busy.set()
            if len(self._chat_next) > 50_000:  # a broadcast touched many chats: forget the past ones
                self._chat_next = {c: t for c, t in self._chat_next.items() if t > slot.done}
        if self._waiters:
            self._grant()


@dataclass
class DeliveryStats:
    claimed: int = 0
    sent: int = 0
    flood_waits: int = 0        # 429 answers received
    network_errors: int = 0
    failed: int = 0
    skipped: int = 0
    unreachable: int = 0
    recovered: int = 0          # rows found `sending` at start (a crash)
    started: float = field(default_factory=time.monotonic)


@dataclass
class _Job:
    row: Claimed
    out: Outgoing

    @property
    def chat(self) -> str:
        assert self.row.identity is not None
        return self.row.identity.chat_id


_NETWORK = (TelegramNetworkError, TelegramServerError, RestartingTelegram, aiohttp.ClientError, asyncio.TimeoutError)
_BOT_BROKEN = (TelegramUnauthorizedError, TelegramConflictError, TelegramNotFound)


class DeliveryWorker:
    """Sends the outbox. `run()` until `stop()`; `run_once()` sends one batch (for tests and tools)."""

    def __init__(self, db: Database, bot: Bot, render: Render, *, global_rate: float = 30.0,
                 per_chat_rate: float | None = 1.0, batch: int = 100, clock: Clock | None = None,
                 in_flight: int = 1, max_attempts: int = 10, backoff_base: float = 5.0,
                 backoff_max: float = 600.0, network_pause: float = 1.0, idle_poll: float = 0.5,
                 hold: float = 1.5, request_timeout: int = 20, progress: Progress | None = None,
                 channel: str = "telegram", pacer: "Pacer | Any | None" = None) -> None:
        """`pacer`: the limits' keeper; by default one of this process (scheduler/shared_pacer.py shares
        one through Redis between several processes)."""
        self.db = db
        self.bot = bot
        self.render = render
        self.clock = clock or SystemClock()
        self.pacer = pacer if pacer is not None else Pacer(global_rate, per_chat_rate)
        self.queue = DeliveryQueue(db.engine, channel)
        self.batch = batch
        self.in_flight = max(1, in_flight)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.network_pause = network_pause
        self.idle_poll = idle_poll
        self.hold = hold  # a row whose chat must wait longer than this goes back to the queue
        self.request_timeout = request_timeout
        self.progress = progress
        self.stats = DeliveryStats()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._network_streak = 0

    # ------------------------------------------------------------------ running

    async def recover(self) -> int:
        """Rows a crash left in `sending` are sent again (the one in flight may arrive twice)."""
        recovered = await self.queue.recover()
        if recovered:
            log.warning("%d outbox rows were being sent when the last worker stopped; sending them again "
                        "(at most %d of them may arrive twice)", recovered, self.in_flight)
        self.stats.recovered += recovered
        return recovered

    async def run(self) -> None:
        self._stop.clear()
        try:
            await self.recover()
            while not self._stop.is_set():
                try:
                    claimed = await self.run_once()
                except Exception:
                    log.exception("delivery batch failed; trying again shortly")
                    claimed = 0
                await self._report_progress()
                if not claimed:
                    await self._idle()
        finally:
            await asyncio.shield(self.queue.close())

    async def close(self) -> None:
        """Give back the worker's database connection (`run` and `drain` do it when they end)."""
        await self.queue.close()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Look at the outbox now (after a commit that added rows) instead of at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """Claim one batch and deliver it; returns how many rows were claimed."""
        claimed = await self.queue.claim(self.clock.now(), self.batch)
        if not claimed:
            return 0
        self.stats.claimed += len(claimed)
        no_identity = [c.id for c in claimed if c.identity is None]
        unreachable = [c.id for c in claimed if c.identity is not None and not c.identity.reachable]
        await self.queue.skip(no_identity, "no telegram account")
        await self.queue.skip(unreachable, "unreachable: blocked the bot")
        self.stats.skipped += len(no_identity) + len(unreachable)
        # which rows go out in this batch is decided before rendering: a row given back for later (its chat
        # must wait) is not rendered now, only when its turn comes (a backlog to a few chats used to render
        # all 100 claimed rows, ~5 queries each, to send a handful)
        ready, later = self._plan([c for c in claimed if c.identity is not None and c.identity.reachable])
        await self.queue.release(later)
        await self._deliver(await self._render(ready))
        return len(claimed)

    async def drain(self, timeout: float = 30.0) -> None:
        """Send until nothing is due (tests and the benchmark)."""
        deadline = time.monotonic() + timeout
        await self.recover()
        while time.monotonic() < deadline:
            if await self.run_once():
                await self._report_progress()
                continue
            await self._report_progress(force=True)  # a finished broadcast queues its summary
            next_due = await self.queue.next_due()
            if next_due is None:
                await self.queue.close()
                return
            await asyncio.sleep(min(self.idle_poll, max(0.0, (next_due - self.clock.now()).total_seconds())))
        await self.queue.close()
        raise TimeoutError(f"outbox not drained within {timeout} s: {await self.queue.counts()}")

    async def _idle(self) -> None:
        """Wait until a row is due (or `wake()`), looking with a read-only query every `idle_poll` seconds."""
        self._wake.clear()
        while not self._stop.is_set():
            try:
                next_due = await self.queue.next_due()
            except Exception:
                log.exception("could not read the outbox")
                next_due = None
            delay = self.idle_poll
            if next_due is not None:
                delay = min(delay, (next_due - self.clock.now()).total_seconds())
                if delay <= 0:
                    return
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
                return
            except TimeoutError:
                await self._report_progress()

    async def _report_progress(self, force: bool = False) -> None:
        if self.progress is not None:
            try:
                await self.progress.tick(force=force)
            except Exception:
                log.exception("broadcast progress report failed")

    # ------------------------------------------------------------------ one batch

    async def _render(self, rows: list[Claimed]) -> list[_Job]:
        jobs: list[_Job] = []
        nothing: list[int] = []
        async with self.db.uow() as uow:
            for n, row in enumerate(rows):
                assert row.identity is not None
                try:
                    out = await self.render(uow, row.notification, row.person, row.identity)
                except Exception as exc:
                    if database_away(exc):  # not the row's fault: it and the rest are tried again shortly
                        log.warning("the database went away while rendering; %d rows wait %s s", len(rows) - n,
                                    self.backoff_base)
                        later = self.clock.now() + timedelta(seconds=self.backoff_base)
                        await self.queue.release({r.id: later for r in rows[n:]})
                        break
                    log.exception("could not render %s for person %s", row.notification.kind, row.person.id)
                    await uow.rollback()
                    await self.queue.failed(row.id, f"render: {exc!r}", attempted=False)
                    self.stats.failed += 1
                    continue
                if out is None:
                    nothing.append(row.id)
                else:
                    jobs.append(_Job(row, out))
        await self.queue.skip(nothing, "nothing to say")
        self.stats.skipped += len(nothing)
        return jobs

    def _plan(self, rows: list[Claimed]) -> tuple[list[Claimed], dict[int, datetime]]:
        """Order by when each chat may get its message; give back those that would wait too long."""
        if not self.pacer.chat_interval:
            return rows, {}
        now_m, now = time.monotonic(), self.clock.now()
        estimate: dict[str, float] = {}
        ready: list[tuple[float, int, Claimed]] = []
        later: dict[int, datetime] = {}
        for n, row in enumerate(rows):
            assert row.identity is not None
            chat = row.identity.chat_id
            at = max(now_m, estimate.get(chat, self.pacer.chat_ready_at(chat)))
            estimate[chat] = at + self.pacer.chat_interval
            if at - now_m > self.hold:
                later[row.id] = now + timedelta(seconds=at - now_m)
            else:
                ready.append((at, n, row))
        ready.sort(key=lambda item: (item[0], item[1]))
        return [row for _, _, row in ready], later

    async def _deliver(self, jobs: list[_Job]) -> None:
        queue = deque(jobs)
        blocked: set[int] = set()  # people who blocked the bot during this batch
        lease_renewed = time.monotonic()

        async def lane() -> None:
            nonlocal lease_renewed
            while queue:
                if self._stop.is_set():
                    return
                if time.monotonic() - lease_renewed > LEASE.total_seconds() / 3:  # a long batch (429s, pauses)
                    lease_renewed = time.monotonic()
                    await self.queue.renew([j.row.id for j in queue], self.clock.now() + LEASE)
                job = queue.popleft()
                if job.row.person.id in blocked:
                    await self.queue.skip([job.row.id], "unreachable: blocked the bot")
                    self.stats.skipped += 1
                    continue
                await self._deliver_one(job, blocked)
                await self._report_progress()  # a batch may take minutes: the sender sees it go (every 5 s)

        try:
            await asyncio.gather(*(lane() for _ in range(min(self.in_flight, len(queue)))))
        finally:
            if queue:  # stopping: rows never tried go back at once
                now = self.clock.now()
                await asyncio.shield(self.queue.release({job.row.id: now for job in queue}))

    async def _deliver_one(self, job: _Job, blocked: set[int]) -> None:
        row = job.row
        try:
            message_id = await self._send(job.chat, job.out)
        except TelegramForbiddenError as exc:
            await self._unreachable(row, exc, blocked)
        except TelegramBadRequest as exc:
            if "chat not found" in exc.message.lower():
                await self._unreachable(row, exc, blocked)
            else:
                log.warning("Telegram refused %s for person %s: %s", row.notification.kind, row.person.id, exc.message)
                await self.queue.failed(row.id, f"bad request: {exc.message}")
                self.stats.failed += 1
        except _BOT_BROKEN as exc:
            log.error("the Bot API refuses this bot (%s); delivery pauses for a minute", exc)
            await self.queue.release({row.id: self.clock.now()})
            self.pacer.pause(60.0)
        except _NETWORK as exc:
            await self._retry(row, exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("unexpected error sending %s to person %s", row.notification.kind, row.person.id)
            await self._retry(row, exc)
        else:
            self._network_streak = 0
            await self.queue.sent(row.id, self.clock.now(), message_id)
            self.stats.sent += 1

    async def _unreachable(self, row: Claimed, exc: Exception, blocked: set[int]) -> None:
        assert row.identity is not None and row.identity.id is not None
        await self.queue.unreachable(row.id, row.identity.id, row.person.id, self.clock.now(), str(exc))
        blocked.add(row.person.id)
        self.stats.unreachable += 1
        self.stats.skipped += 1

    async def _retry(self, row: Claimed, exc: BaseException) -> None:
        self.stats.network_errors += 1
        self._network_streak += 1
        attempts = row.attempts + 1
        error = f"{type(exc).__name__}: {exc}"
        if attempts >= self.max_attempts:
            log.warning("giving up on %s for person %s after %d attempts: %s",
                        row.notification.kind, row.person.id, attempts, error)
            await self.queue.failed(row.id, error)
            self.stats.failed += 1
        else:
            delay = min(self.backoff_max, self.backoff_base * 2 ** (attempts - 1))
            await self.queue.retry(row.id, self.clock.now() + timedelta(seconds=delay), error)
        if self.network_pause:
            self.pacer.pause(min(30.0, self.network_pause * 2 ** min(self._network_streak - 1, 5)))

    # ------------------------------------------------------------------ the Bot API

    async def _send(self, chat: str, out: Outgoing) -> int:
        common = {"chat_id": chat, "request_timeout": self.request_timeout}
        if out.voice is not None:
            voice = BufferedInputFile(out.voice, "voice.ogg") if isinstance(out.voice, bytes) else FSInputFile(out.voice)
            message = await self._api(chat, lambda: self.bot.send_voice(
                voice=voice, caption=out.text[:CAPTION_MAX] or None, duration=out.duration, reply_markup=out.markup,
                **common))
            return message.message_id
        if out.photo is None:
            message = await self._api(chat, lambda: self.bot.send_message(
                text=out.text, reply_markup=out.markup, parse_mode=out.parse_mode, **common))
            return message.message_id
        photo = _input_file(out.photo)
        if len(out.text) <= CAPTION_MAX:
            message = await self._api(chat, lambda: self.bot.send_photo(
                photo=photo, caption=out.text or None, reply_markup=out.markup, parse_mode=out.parse_mode,
                **common))
            return message.message_id
        await self._api(chat, lambda: self.bot.send_photo(photo=photo, **common))
        message = await self._api(chat, lambda: self.bot.send_message(
            text=out.text, reply_markup=out.markup, parse_mode=out.parse_mode, **common))
        return message.message_id

    async def _api(self, chat: str, call: Callable[[], Awaitable]):
        """One Bot API call within the limits; a 429 pauses every send and the call is made again."""
        while True:
            slot = await self.pacer.acquire(chat)
            paced = PACED.set(True)
            try:
                return await call()
            except TelegramRetryAfter as exc:
                self.stats.flood_waits += 1
                log.warning("Telegram asks to wait %s s (flood control); every send pauses", exc.retry_after)
                self.pacer.pause(exc.retry_after)
            finally:
                PACED.reset(paced)
                self.pacer.release(slot)


# Set while a call is made under a slot its caller already holds (the worker, the progress reporter).
PACED: ContextVar[bool] = ContextVar("paced", default=False)
_COUNTED = (SendMessage, SendPhoto, SendVoice, SendDocument, SendMediaGroup, SendLocation, CopyMessage, ForwardMessage,
            EditMessageText, EditMessageReplyMarkup, EditMessageCaption, EditMessageMedia)


def pace_replies(bot: Bot, pacer: Pacer) -> None:
    """Handlers' own messages and edits take their share of the budget the delivery worker keeps:
    Telegram counts every message of the bot, so after an outage the replies do not meet 429s while
    the worker sends at full rate. A 429 a reply meets pauses the worker too."""
    async def paced(make_request, bot: Bot, method):
        if PACED.get() or not isinstance(method, _COUNTED):
            return await make_request(bot, method)
        slot = await pacer.acquire(None)
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as exc:
            pacer.pause(exc.retry_after)
            raise
        finally:
            pacer.release(slot)

    bot.session.middleware(paced)


def _input_file(photo: bytes | Path | str):
    if isinstance(photo, bytes):
        return BufferedInputFile(photo, "photo.jpg")
    if isinstance(photo, Path):
        return FSInputFile(photo)
    return photo  # a file_id Telegram already has

