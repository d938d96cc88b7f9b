"""What the WeChat channel keeps, on SQLite and PostgreSQL: migration 0009 builds what the tables
declare (and goes back down), a callback is admitted once even when its retries race, a user's
message wakes only their own held rows."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import Table, select, update

from core.notifications import Notification
from core.onboarding import meet
from storage import tables as t
from storage import wechat_tables
from storage.wechat import SqlWeChat


async def test_migration_0009_builds_exactly_what_the_tables_declare_and_goes_back_down(db):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage.migrate import alembic_config, upgrade

    ours = {v.name for v in vars(wechat_tables).values() if isinstance(v, Table)} | {"outbox"}

    async def diffs() -> list:
        async with db.engine.connect() as conn:
            found = await conn.run_sync(lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True}), t.metadata))
        return [d for d in found if any(f"'{name}'" in repr(d) for name in ours)]

    assert len(ours) == 4 and await diffs() == []

    def downgrade(sync_conn) -> None:
        config = alembic_config()
        config.attributes["connection"] = sync_conn
        command.downgrade(config, "0008")

    async with db.engine.begin() as conn:
        await conn.run_sync(downgrade)
    await upgrade(db.engine)
    assert await diffs() == []


async def test_retries_racing_for_one_callback_admit_it_once(db, now):
    store = SqlWeChat(db.engine)
    admitted = await asyncio.gather(*(store.admit("mp:6054768590064713728", "mp", "o-wang", now) for _ in range(8)))
    assert sorted(admitted) == [False] * 7 + [True]
    await store.finish("mp:6054768590064713728", now, reply="收到")
    seen = await store.seen("mp:6054768590064713728")
    assert (seen.state, seen.reply) == ("handled", "收到")
    assert await store.prune(now + timedelta(seconds=1)) == 1 and await store.seen("mp:6054768590064713728") is None


async def test_a_users_message_wakes_only_their_own_held_rows(db, now):
    store = SqlWeChat(db.engine)
    async with db.uow() as uow:
        wang = await meet(uow, "wechat", "o-wang", "o-wang", "王阿姨", now)
        zhao = await meet(uow, "wechat", "o-zhao", "o-zhao", "赵大爷", now)
        for person in (wang, zhao):
            await uow.outbox.add(Notification(person.id, "case.accepted", {"case": "DC-1"}))
        await uow.commit()
    later = now + timedelta(hours=6)
    async with db.engine.begin() as conn:
        await conn.execute(update(t.outbox).values(not_before=later))
    assert await store.user_wrote("wechat", "o-wang", now) == 1
    async with db.engine.connect() as conn:
        due = dict((await conn.execute(select(t.outbox.c.person_id, t.outbox.c.not_before))).all())
    assert due == {wang.id: now, zhao.id: later}
    (contact,) = (await store.contacts("wechat", ["o-wang"])).values()
    assert (contact.last_message_at, contact.window_used) == (now, 0)
