"""The inbox on SQLite and PostgreSQL: each update handled once, a crash replays, nothing twice."""

from __future__ import annotations

import os
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
from core.onboarding import meet, record
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


@pytest.fixture(autouse=True)
async def residents_who_agreed(db, now):
    """The updates here come from people who agreed to the privacy notice (a newcomer's updates meet
    the notice instead of the handlers: tests/test_privacy_dialog.py)."""
    async with db.uow() as uow:
        for user_id in (501, 502, 503):
            await meet(uow, "telegram", str(user_id), str(user_id), f"居民{user_id}", now)
        await uow.commit()


def world(db, now, *, crashing: bool = True):
    """A dispatcher wired like redgrid.bootstrap's: the context middleware, then the inbox; small handlers."""
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


async def test_a_live_processs_updates_are_left_to_it_and_a_dead_ones_are_taken_at_once(db, now):
    """#14 item 5: a second process started beside a live one replayed the first one's in-flight updates
    (23 duplicate cases). Now it takes only what nobody alive holds: a lease that ran out, or an owner
    that is a process of this host that no longer exists."""
    import socket
    import subprocess
    from datetime import timedelta

    from storage.inbox import SqlInbox

    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()[:40]
    wall = ManualClock(now)
    lease_end = now + timedelta(seconds=30)
    async with db.engine.begin() as conn:
        inbox = SqlInbox(conn)
        await inbox.admit(4242, [(1, message_update(1, 501, "/effect").model_dump(mode="json", exclude_none=True))],
                          now, "elsewhere:77:aaaa", lease_end)                 # alive on another host
        await inbox.admit(4242, [(2, message_update(2, 502, "/effect").model_dump(mode="json", exclude_none=True))],
                          now, f"{host}:{dead.pid}:bbbb", lease_end)           # a process here that died
        await inbox.admit(4242, [(3, message_update(3, 503, "/effect").model_dump(mode="json", exclude_none=True))],
                          now, f"{host}:{os.getppid()}:cccc", lease_end)       # a process here that lives
    dp, bot, inbox_mw = world(db, now)
    inbox_mw.wall = wall
    bot_id = bot.id
    assert bot_id == 4242
    assert await inbox_mw.take_over(dp, bot) == 1                              # only the dead one's
    assert (await inbox_rows(db))[2] == ("handled", None) and await said(db) == 1
    wall.advance(seconds=31)                                                   # their leases ran out: gone
    assert await inbox_mw.take_over(dp, bot) == 2
    assert {u: s for u, (s, _) in (await inbox_rows(db)).items()} == {1: "handled", 2: "handled", 3: "handled"}
    assert await said(db) == 3


async def test_a_transient_failure_is_tried_again_after_a_backoff_and_given_up_after_max_attempts(db, now):
    """#14 item 4: a 5xx, a 429 or a lost connection marked the update failed for good."""
    from aiogram.exceptions import TelegramServerError
    from aiogram.methods import SendMessage

    dp, bot, inbox_mw = world(db, now)
    wall = ManualClock(now)
    inbox_mw.wall = wall
    inbox_mw.max_attempts = 3
    outage = {"left": 1}
    router = Router()

    @router.message(F.text == "/flaky")
    async def flaky(message: Message, uow, person, now):
        await record(uow, "person", person.id, "said_something", now, person.id)
        if outage["left"]:
            outage["left"] -= 1
            raise TelegramServerError(method=SendMessage(chat_id=1, text="x"), message="Bad Gateway")

    dp.include_router(router)
    await dp.feed_update(bot, message_update(1, 501, "/flaky"))                # no exception: given back
    assert (await inbox_rows(db))[1][0] == "received" and await said(db) == 0  # its effect rolled back
    assert await inbox_mw.take_over(dp, bot) == 0                              # waits out its backoff (2 s)
    wall.advance(seconds=3)
    assert await inbox_mw.take_over(dp, bot) == 1
    assert (await inbox_rows(db))[1][0] == "handled" and await said(db) == 1  # (the last error is kept)

    outage["left"] = 5                                                         # down for longer: bounded
    await dp.feed_update(bot, message_update(2, 502, "/flaky"))
    wall.advance(seconds=3)
    assert await inbox_mw.take_over(dp, bot) == 1                              # second try fails too
    wall.advance(seconds=7)
    with_error = await inbox_mw.take_over(dp, bot)                             # the third is the last
    assert with_error == 1 and (await inbox_rows(db))[2][0] == "failed" and await said(db) == 1
    sent = [r.text for r in bot.session.requests if isinstance(r, SendMessage)]
    assert any("出了点问题" in text for text in sent)                           # told, once, at the end
    assert sum("出了点问题" in text for text in sent) == 1
