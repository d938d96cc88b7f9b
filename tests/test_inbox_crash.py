"""kill -9 in the middle of a burst: after a restart every update had exactly one effect.

The real `redgrid run` (tests/crash_bot.py, slowed down) polls a Bot API stand-in that lives in
this test; 100 residents each send /start and then a line of text. The bot is killed once about
a quarter is handled — when aiogram has long confirmed all 200 to "Telegram" — and started again.
"""

from __future__ import annotations

from sqlalchemy import func, select

from demo.harness import running_standin
from storage import tables as t
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.proc import kill, start, stop, wait_for

RESIDENTS = 100
UPDATES = 2 * RESIDENTS


async def _agreed(engine, user_ids) -> None:
    from datetime import datetime, timezone

    from core.onboarding import meet
    from storage.uow import Database

    db = Database(engine)
    async with db.uow() as uow:
        for user_id in user_ids:
            await meet(uow, "telegram", str(user_id), str(user_id), f"居民{user_id}", datetime.now(timezone.utc))
        await uow.commit()


async def test_no_update_is_lost_or_handled_twice_when_the_bot_is_killed(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/crash.sqlite3"
    engine = make_engine(url)
    await upgrade(engine)

    async def count(stmt) -> int:
        async with engine.connect() as conn:
            return (await conn.execute(stmt)).scalar()

    effects = select(func.count()).select_from(t.events).where(t.events.c.kind == "crash_test.handled")
    handled = select(func.count()).select_from(t.inbox).where(t.inbox.c.state == "handled")
    log_file = tmp_path / "bot.log"
    async with running_standin() as standin:
        env = {"BOT_TOKEN": "123456789:STAND-IN-TOKEN", "BOT_API_URL": standin.base_url, "DATABASE_URL": url,
               "DATA_DIR": str(tmp_path / "data"), "CRASH_BOT_DELAY": "0.05"}
        residents = range(7001, 7001 + RESIDENTS)
        for user_id in residents:
            standin.add_user(user_id, f"居民{user_id}", language_code="zh-hans")
        await _agreed(engine, residents)  # people who said yes to the privacy notice reach the handlers
        for text in ("/start", "楼道灯坏了"):
            for user_id in residents:
                standin.user_sends_text(user_id, text)

        bot = await start("crash_bot.py", env, log_file, tmp_path)
        try:
            await wait_for(lambda: _at_least(count, effects, UPDATES // 4), 20, "a quarter handled", log_file)
            confirmed = UPDATES - len(standin.pending_updates)
            handled_at_kill = await count(effects)
            await kill(bot)
        finally:
            await kill(bot)
        # the kill hit updates that aiogram had confirmed but not handled: without the inbox they were gone
        assert confirmed > handled_at_kill + 10, (confirmed, handled_at_kill)

        bot = await start("crash_bot.py", env, log_file, tmp_path)
        try:
            await wait_for(lambda: _at_least(count, handled, UPDATES), 25, "every update handled", log_file)
        finally:
            await stop(bot)

    assert await count(effects) == UPDATES
    async with engine.connect() as conn:
        once = (await conn.execute(select(t.events.c.subject_id, func.count()).where(
            t.events.c.kind == "crash_test.handled").group_by(t.events.c.subject_id))).all()
        first_contacts = (await conn.execute(select(t.events.c.subject_id, func.count()).where(
            t.events.c.kind == "first_contact").group_by(t.events.c.subject_id))).all()
        inbox_states = dict((await conn.execute(select(t.inbox.c.state, func.count())
                                                .group_by(t.inbox.c.state))).all())
    assert len(once) == UPDATES and {n for _, n in once} == {1}  # each update: one effect
    assert len(first_contacts) == RESIDENTS and {n for _, n in first_contacts} == {1}
    assert inbox_states == {"handled": UPDATES}
    await engine.dispose()


async def _at_least(count, stmt, n: int) -> bool:
    try:
        return await count(stmt) >= n
    except Exception:  # the table is being written: try again
        return False
