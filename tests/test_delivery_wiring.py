"""`redgrid run`'s background: the leader's worker turns outbox rows into the catalog's words."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from core.clock import SystemClock
from core.notifications import Notification
from core.people import Person
from demo.harness import running_standin, standin_bot
from redgrid.bootstrap import background
from redgrid.settings import Settings
from storage import tables as t
from tests.delivery_kit import add_recipients, user_id_of


async def test_the_running_bot_delivers_notifications_in_each_persons_language(db, now, tmp_path):
    zhang, grace = await add_recipients(db, 2, now)
    async with db.uow() as uow:
        person = await uow.people.get(grace)
        await uow.people.update(Person(person.id, "Grace Lin", "en", None, person.created_at))
        for who in (zhang, grace):
            await uow.outbox.add(Notification(who, "report.ask_photos"))
        await uow.outbox.add(Notification(zhang, "no.such.text"))  # never sent half-made
        await uow.commit()
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")
    async with running_standin() as standin:
        for n in range(2):
            standin.add_user(user_id_of(n), f"居民{n}")
        bot = standin_bot(standin.base_url)
        runner = background(db, bot, settings, SystemClock())
        task = asyncio.create_task(runner.run())
        try:
            await standin.wait_until(lambda: len(standin.deliveries()) == 2, timeout=10)
            assert runner.leading.is_set()
        finally:
            await runner.stop()
            await bot.session.close()
    assert task.done()
    assert standin.deliveries(user_id_of(0))[0].text.startswith("请拍照")
    assert standin.deliveries(user_id_of(1))[0].text.startswith("Take or send photos")
    async with db.engine.connect() as conn:
        states = (await conn.execute(select(t.outbox.c.state).order_by(t.outbox.c.id))).scalars().all()
    assert states == ["sent", "sent", "skipped"]
