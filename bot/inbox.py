"""Updates are never lost and never handled twice.

aiogram confirms an update to Telegram (the next getUpdates offset) as soon as it has started a
task for it, long before the handler is done; a crash in between would lose the update. And
Telegram may deliver an update twice. So every update is written to the `inbox` table first:

1. `intake` — a request middleware on the bot's session — records each getUpdates batch in one
   transaction *before* aiogram sees it, so nothing is confirmed that is not stored. If the
   database cannot take it, the poll fails and aiogram asks again with the same offset.
2. The outer update middleware lets an update through only once: one the intake just admitted,
   one being replayed, or (webhook, tests) one it records itself; a second delivery is dropped.
   After the handler it marks the row handled, or failed with the error.
3. `seal` — an inner middleware inside the per-update unit of work (bot/middlewares.py) — marks
   the row handled in the handler's own transaction, so "handled" and the handler's effects are
   committed together: a crash at any point either replays the update or finds it done.
4. Leases: a process holds the updates it admitted (storage/inbox.py) and renews them while it
   works on them. A keeper task (every third of the lease) takes what nobody alive holds, in
   update_id order, and feeds it through the dispatcher again: updates a crash interrupted (at
   once when the dead process was on this host, else when its lease runs out) and updates whose
   transient failure has waited out its backoff. On start it does so before polling.

Retries: a handler that fails on something that may work later (the network, Telegram's 5xx or
429, a lost database or Redis connection) rolls back; the update waits (2 s, 6 s, 18 s … ×3) and
is tried again, up to `max_attempts`; then, like any other failure (a bug: the same input would
fail the same way), it is kept as `failed` with its error and the person is told politely
(bot/middlewares.py). A refusal (a DomainError) is handled, not failed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Awaitable, Callable, Sequence

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.methods import GetUpdates
from aiogram.types import TelegramObject, Update

from bot.middlewares import HANDLING_AGAIN
from core.clock import Clock, SystemClock
from storage.engine import database_away
from storage.inbox import SqlInbox, owner_token
from storage.uow import Database

log = logging.getLogger(__name__)
REPLAY = "inbox_replay"    # feed_update(..., inbox_replay=True): the row exists, handle it
ATTEMPTS = "inbox_attempts"  # … and was tried this many times before
RECEIPT = "inbox_receipt"  # in the handler data: which update is being handled
LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 6


def is_transient(exc: BaseException) -> bool:
    """A failure that may not happen again: worth another try of the same update later."""
    import aiohttp
    from aiogram.exceptions import RestartingTelegram, TelegramNetworkError, TelegramRetryAfter, TelegramServerError
    if isinstance(exc, (TelegramNetworkError, TelegramServerError, TelegramRetryAfter, RestartingTelegram,
                        aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)):
        return True
    if database_away(exc):
        return True
    try:
        from redis.exceptions import ConnectionError as RedisDown, TimeoutError as RedisSlow
    except ImportError:
        return False
    return isinstance(exc, (RedisDown, RedisSlow))


def backoff(attempts: int, exc: BaseException) -> timedelta:
    """How long a transient failure waits: Telegram's own word for a 429, else 2 s × 3^attempts."""
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, (int, float)) and retry_after > 0:
        return timedelta(seconds=retry_after)
    return timedelta(seconds=min(300, 2 * 3 ** attempts))


def raw_update(update: Update) -> dict[str, Any]:
    """The update as Telegram sent it (JSON), enough to feed it again."""
    return update.model_dump(mode="json", exclude_none=True, by_alias=True)


@dataclass
class Receipt:
    update_id: int
    sealed: bool = False  # marked handled inside the handler's own transaction
    attempts: int = 0     # tries before this one
    max_attempts: int = MAX_ATTEMPTS

    def will_retry(self, exc: BaseException) -> bool:
        """This failure gives the update back for another try (so nobody is told of it yet)."""
        return is_transient(exc) and self.attempts + 1 < self.max_attempts


class Inbox(BaseMiddleware):
    """The outer update middleware; `intake`, `seal` and `on_startup` are its other three parts."""

    is_inbox = True  # bot/serial.py puts the per-chat lock before it

    def __init__(self, db: Database, clock: Clock, *, lease: timedelta = LEASE,
                 max_attempts: int = MAX_ATTEMPTS, wall: Clock | None = None) -> None:
        self.db = db
        self.clock = clock
        self.wall = wall or SystemClock()  # leases and backoffs run on real time, whatever the domain's clock
        self.lease = lease
        self.max_attempts = max_attempts
        self.owner = owner_token()
        self._admitted: set[int] = set()
        self._working: set[int] = set()  # held by this process and not finished: their leases are renewed
        self._keeper: asyncio.Task | None = None
        self._retries_due: list[float] = []  # loop times when updates this process gave back are due
        self._wake = asyncio.Event()
        self.seal = _Seal(clock)
        self.dropped = 0
        self.retried = 0

    async def admit(self, bot_id: int, updates: Sequence[Update]) -> set[int]:
        async with self.db.engine.begin() as conn:
            new = await SqlInbox(conn).admit(bot_id, [(u.update_id, raw_update(u)) for u in updates],
                                             self.clock.now(), self.owner, self.wall.now() + self.lease)
        self._working |= new
        return new

    # 1. before aiogram confirms a batch
    async def intake(self, make_request, bot: Bot, method):
        response = await make_request(bot, method)
        if isinstance(method, GetUpdates):
            updates = getattr(response, "result", response)  # the result itself in aiogram 3.2x+
            if updates:
                self._admitted |= await self.admit(bot.id, updates)
        return response

    def watch(self, bot: Bot) -> None:
        """Record this bot's polls (once per bot)."""
        if self.intake not in bot.session.middleware:
            bot.session.middleware(self.intake)

    async def on_startup(self, bot: Bot, dispatcher: Dispatcher) -> None:
        self.watch(bot)
        replayed = await self.take_over(dispatcher, bot)
        if replayed:
            log.warning("handled %d updates that a crash had interrupted", replayed)
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self.keep(dispatcher, bot), name="inbox-keeper")

    async def on_shutdown(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            try:
                await self._keeper
            except (asyncio.CancelledError, Exception):
                pass
            self._keeper = None

    async def keep(self, dp: Dispatcher, bot: Bot, every: float | None = None) -> None:
        """Renew the leases of what this process works on; take and handle what nobody alive holds."""
        every = every if every is not None else self.lease.total_seconds() / 3
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            delay = every
            if self._retries_due:  # a retry this process scheduled: take it when it is due, not later
                delay = max(0.05, min(delay, min(self._retries_due) - loop.time() + 0.05))
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass
            self._retries_due = [t for t in self._retries_due if t > loop.time()]
            try:
                async with self.db.engine.begin() as conn:
                    await SqlInbox(conn).renew(self.owner, sorted(self._working), self.wall.now() + self.lease)
                taken = await self.take_over(dp, bot)
                if taken:
                    log.warning("handled %d updates that another process or a failure had left", taken)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the inbox keeper could not renew or take over; trying again")

    async def take_over(self, dp: Dispatcher, bot: Bot) -> int:
        """Handle, in order, every update nobody alive holds; returns how many."""
        handled = 0
        while True:
            async with self.db.engine.begin() as conn:
                rows = await SqlInbox(conn).take(bot.id, self.owner, self.wall.now(), self.wall.now() + self.lease)
            if not rows:
                return handled
            self._working |= {row.update_id for row in rows}
            for row in rows:
                update = Update.model_validate(row.raw, context={"bot": bot})
                try:
                    await dp.feed_update(bot, update, **{REPLAY: True, ATTEMPTS: row.attempts})
                except Exception:
                    log.exception("handling update %s again failed", row.update_id)
                handled += 1

    # 2. once per update
    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        update_id = event.update_id
        if data.get(REPLAY):
            pass
        elif update_id in self._admitted:
            self._admitted.discard(update_id)
        elif update_id not in await self.admit(data["bot"].id, [event]):
            self.dropped += 1
            log.info("update %s arrived again; it is not handled twice", update_id)
            return UNHANDLED
        receipt = Receipt(update_id, attempts=data.get(ATTEMPTS, 0), max_attempts=self.max_attempts)
        data[RECEIPT] = receipt
        HANDLING_AGAIN.set(bool(data.get(REPLAY)))  # this update's task only (a context variable)
        self._working.add(update_id)
        try:
            result = await handler(event, data)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if receipt.will_retry(exc):
                wait = backoff(receipt.attempts, exc)
                self.retried += 1
                log.warning("update %s failed (%s); trying it again in %.0f s", update_id, error, wait.total_seconds())
                await self._close(update_id, error, retry_at=self.wall.now() + wait)
                self._retries_due.append(asyncio.get_running_loop().time() + wait.total_seconds())
                self._wake.set()
                return UNHANDLED
            await self._close(update_id, error)
            raise
        finally:
            self._working.discard(update_id)
        if not receipt.sealed:
            await self._close(update_id, None)
        return result

    async def _close(self, update_id: int, error: str | None, retry_at=None) -> None:
        try:
            async with self.db.engine.begin() as conn:
                inbox = SqlInbox(conn)
                if error is None:
                    await inbox.mark_handled(update_id, self.clock.now())
                elif retry_at is not None:
                    await inbox.retry_later(update_id, retry_at, error)
                else:
                    await inbox.mark_failed(update_id, self.clock.now(), error)
        except Exception:
            # the database is away: the row stays `received`, its lease runs out, a keeper takes it
            log.exception("could not record how update %s ended; it will be taken again", update_id)


class _Seal(BaseMiddleware):
    """3. Inside the unit of work: "handled" is committed with the handler's effects."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        result = await handler(event, data)
        receipt: Receipt | None = data.get(RECEIPT)
        uow = data.get("uow")
        inbox = getattr(uow, "inbox", None)
        if receipt is not None and inbox is not None and not receipt.sealed:
            await inbox.mark_handled(receipt.update_id, self.clock.now())
            receipt.sealed = True
        return result


def install(dp: Dispatcher, db: Database, clock: Clock) -> Inbox:
    """Wire the inbox into a dispatcher: call before the other update middlewares and after the
    context middleware is registered (the seal must run inside its unit of work)."""
    inbox = Inbox(db, clock)
    # Before aiogram's FSM middleware, which reads the dialog's state (Redis, the database): when that
    # read fails, the update is still the inbox's to retry. aiogram offers no insert, hence the list.
    outer = dp.update.outer_middleware._middlewares
    outer.insert(outer.index(dp.fsm) if dp.fsm in outer else len(outer), inbox)
    dp.message.middleware(inbox.seal)
    dp.callback_query.middleware(inbox.seal)
    dp.startup.register(inbox.on_startup)
    dp.shutdown.register(inbox.on_shutdown)
    dp["inbox"] = inbox
    return inbox


async def replay_unhandled(db: Database, dp: Dispatcher, bot: Bot) -> int:
    """Handle again, in order, every update nobody alive holds (a crash, an expired lease); returns how
    many. The dispatcher's own inbox does it when it has one, so its leases and retries apply."""
    inbox = dp.workflow_data.get("inbox")
    if not isinstance(inbox, Inbox):
        inbox = Inbox(db, SystemClock())
    return await inbox.take_over(dp, bot)
