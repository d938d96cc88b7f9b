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
4. `replay_unhandled` feeds rows left `received` (a crash mid-handler) through the dispatcher
   again, in update_id order, on start before polling (a startup hook, so `redgrid run` and the
   demo both do it).

A failed update (the handler raised) is kept with its error and not replayed by itself: the same
input would fail the same way; an operator can set it back to `received`.
Replay assumes one process polls (Telegram allows one getUpdates consumer per bot).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.methods import GetUpdates
from aiogram.types import TelegramObject, Update

from core.clock import Clock
from storage.inbox import SqlInbox
from storage.uow import Database

log = logging.getLogger(__name__)
REPLAY = "inbox_replay"    # feed_update(..., inbox_replay=True): the row exists, handle it
RECEIPT = "inbox_receipt"  # in the handler data: which update is being handled


def raw_update(update: Update) -> dict[str, Any]:
    """The update as Telegram sent it (JSON), enough to feed it again."""
    return update.model_dump(mode="json", exclude_none=True, by_alias=True)


@dataclass
class Receipt:
    update_id: int
    sealed: bool = False  # marked handled inside the handler's own transaction


class Inbox(BaseMiddleware):
    """The outer update middleware; `intake`, `seal` and `on_startup` are its other three parts."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._admitted: set[int] = set()
        self.seal = _Seal(clock)
        self.dropped = 0

    async def admit(self, bot_id: int, updates: Sequence[Update]) -> set[int]:
        async with self.db.engine.begin() as conn:
            return await SqlInbox(conn).admit(bot_id, [(u.update_id, raw_update(u)) for u in updates],
                                              self.clock.now())

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
        replayed = await replay_unhandled(self.db, dispatcher, bot)
        if replayed:
            log.warning("handled %d updates that a crash had interrupted", replayed)

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
        receipt = Receipt(update_id)
        data[RECEIPT] = receipt
        try:
            result = await handler(event, data)
        except Exception as exc:
            await self._close(update_id, f"{type(exc).__name__}: {exc}")
            raise
        if not receipt.sealed:
            await self._close(update_id, None)
        return result

    async def _close(self, update_id: int, error: str | None) -> None:
        async with self.db.engine.begin() as conn:
            inbox = SqlInbox(conn)
            if error is None:
                await inbox.mark_handled(update_id, self.clock.now())
            else:
                await inbox.mark_failed(update_id, self.clock.now(), error)


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
    dp.update.outer_middleware(inbox)
    dp.message.middleware(inbox.seal)
    dp.callback_query.middleware(inbox.seal)
    dp.startup.register(inbox.on_startup)
    dp["inbox"] = inbox
    return inbox


async def replay_unhandled(db: Database, dp: Dispatcher, bot: Bot) -> int:
    """4. Handle again, in order, every update a crash left unhandled; returns how many."""
    replayed = 0
    while True:
        async with db.engine.connect() as conn:
            rows = await SqlInbox(conn).unhandled(bot.id, limit=500)
        if not rows:
            return replayed
        for update_id, raw in rows:
            update = Update.model_validate(raw, context={"bot": bot})
            try:
                await dp.feed_update(bot, update, **{REPLAY: True})
            except Exception:
                log.exception("replaying update %s failed; it is kept as failed", update_id)
            replayed += 1
        async with db.engine.connect() as conn:  # a row still `received` now would loop forever
            still = {u for u, _ in await SqlInbox(conn).unhandled(bot.id, limit=500)} & {u for u, _ in rows}
        if still:
            log.error("updates %s stay unhandled after a replay; leaving them", sorted(still))
            return replayed
