"""The inbox on SQLite and PostgreSQL: each update handled once, a crash replays, nothing twice."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import Chat, Message, Update, User
from sqlalchemy import func, select

from bot import inbox as inbox_module
from bot.inbox import replay_unhandled
from bot.middlewares import ContextMiddleware
from core.clock import ManualClock
from core.errors import NotAllowed
from core.onboarding import record
from demo.harness import running_standin, standin_bot
from storage import tables as t
from tests.botkit import RecordingSession


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs, no handler catches it."""


def message_update(update_id: int, user_id: int, text: str) -> Update:
    user = User(id=user_id, is_bot=False, first_name=f"居民{user_id}", language_code="zh-hans")
    return Update(update_id=update_id, message=Message(
        message_id=update_id, date=datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc),
        chat=Chat(id=user_id, type="private"), from_user=user, text=text))


def world(db, now, *, crashing: bool = True):
    """A dispatcher wired like bot.app's: the context middleware, then the inbox; small handlers."""
    clock = ManualClock(now)
    dp = Dispatcher(storage=MemoryStorage())
    context = ContextMiddleware(db, clock, "zh")
    dp.message.middleware(context)
    inbox = inbox_module.install(dp, db, clock)
    router = Router()

    @router.message(F.text == "/effect")
    async def effect(message: Message, uow, person, now):
        await record(uow, "person", person.id, "said_something", now, person.id)

    @router.message(F.text == "/crash")
    async def crash(message: Message, uow, person, now):
        await record(uow, "person", person.id, "said_something", now, person.id)
        if crashing:
            raise Crash()

    @router.message(F.text == "/boom")
    async def boom(message: Message):
        raise RuntimeError("the handler broke")

    @router.message(F.text == "/refuse")
    async def refuse(message: Message):
        raise NotAllowed(action="anything")

    dp.include_router(router)
    bot = Bot("4242:TEST", session=RecordingSession())
    return dp, bot, inbox


async def inbox_rows(db) -> dict[int, tuple[str, str | None]]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(select(t.inbox.c.update_id, t.inbox.c.state, t.inbox.c.error))
        return {u: (state, error) for u, state, error in rows}


async def said(db) -> int:
    async with db.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(t.events)
                                   .where(t.events.c.kind == "said_something"))).scalar()


async def test_an_update_delivered_twice_is_handled_once(db, now):
    dp, bot, inbox = world(db, now)
    update = message_update(1, 501, "/effect")
    await dp.feed_update(bot, update)
    await dp.feed_update(bot, update)  # Telegram delivers it again
    assert await said(db) == 1 and inbox.dropped == 1
    assert await inbox_rows(db) == {1: ("handled", None)}


async def test_the_same_id_with_other_content_is_a_new_update(db, now):
    """Telegram picks ids at random after a week of silence; a restarted stand-in starts at 1 again."""
    dp, bot, _ = world(db, now)
    await dp.feed_update(bot, message_update(1, 501, "/effect"))
    await dp.feed_update(bot, message_update(1, 502, "/effect"))
    assert await said(db) == 2


async def test_failures_are_kept_with_their_error_and_refusals_count_as_handled(db, now):
    dp, bot, _ = world(db, now)
    with pytest.raises(RuntimeError):
        await dp.feed_update(bot, message_update(1, 501, "/boom"))
    await dp.feed_update(bot, message_update(2, 501, "/refuse"))
    rows = await inbox_rows(db)
    assert rows[1] == ("failed", "RuntimeError: the handler broke")
    assert rows[2] == ("handled", None)


async def test_handled_is_committed_with_the_handlers_effects(db, now, monkeypatch):
    """A crash right after the handler's commit finds the update done: no replay, no second effect."""
    dp, bot, inbox = world(db, now)
    closed = []

    async def close(update_id, error):  # the inbox's own short transaction, after the handler
        closed.append(update_id)

    monkeypatch.setattr(inbox, "_close", close)
    await dp.feed_update(bot, message_update(1, 501, "/effect"))
    assert closed == []  # not needed: the unit of work already said "handled"
    assert await inbox_rows(db) == {1: ("handled", None)} and await said(db) == 1
    assert await replay_unhandled(db, dp, bot) == 0 and await said(db) == 1


async def test_a_crash_mid_handler_is_replayed_once_in_order(db, now):
    dp, bot, _ = world(db, now)
    with pytest.raises(Crash):
        await dp.feed_update(bot, message_update(1, 501, "/crash"))
    assert await inbox_rows(db) == {1: ("received", None)} and await said(db) == 0  # its effect rolled back
    # two more were recorded by the intake but the process died before they reached a handler
    await inbox_module.Inbox(db, ManualClock(now)).admit(bot.id, [message_update(3, 503, "/effect"),
                                                                   message_update(2, 502, "/effect")])
    restarted, bot2, _ = world(db, now, crashing=False)
    seen = []

    @restarted.update.outer_middleware()
    async def watch(handler, event, data):
        seen.append(event.update_id)
        return await handler(event, data)

    assert await replay_unhandled(db, restarted, bot2) == 3
    assert seen == [1, 2, 3]
    assert await inbox_rows(db) == {1: ("handled", None), 2: ("handled", None), 3: ("handled", None)}
    assert await said(db) == 3
    assert await replay_unhandled(db, restarted, bot2) == 0


async def test_a_poll_is_recorded_before_aiogram_confirms_it(db, now):
    async with running_standin() as standin:
        standin.add_user(501, "王阿姨")
        for text in ("你好", "/start", "楼道灯坏了"):
            standin.user_sends_text(501, text)
        bot = standin_bot(standin.base_url)
        dp, _, inbox = world(db, now)
        inbox.watch(bot)
        inbox.watch(bot)  # once is enough
        assert len(bot.session.middleware) == 1
        updates = await bot.get_updates(timeout=0)
        await bot.session.close()
    rows = await inbox_rows(db)
    assert sorted(rows) == [u.update_id for u in updates] and {s for s, _ in rows.values()} == {"received"}
