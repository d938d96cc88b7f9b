"""Dialog state in Redis changes only when the update's transaction commits (bot/dialog_buffer.py).

Found by the fault suite: with REDIS_URL a kill between a handler's `wizard.exit()` (written to Redis
at once) and its database commit left the replayed confirm press with no dialog: a lost report.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import Chat, Message, Update, User
from sqlalchemy import func, select

from redgrid.bootstrap import build_dispatcher, dialog_storage
from bot.dialog_buffer import CommitBound
from core.clock import ManualClock
from core.onboarding import meet, record
from redgrid.settings import Settings
from storage import tables as t
from storage.uow import SqlUnitOfWork
from tests.botkit import ChatHarness
from tests.redis_kit import REDIS_URL, redis_prefix


class Crash(BaseException):
    """The process dies: nothing after it runs."""


async def test_a_dialog_step_reaches_redis_only_with_its_commit(db, now, tmp_path, monkeypatch):
    async with redis_prefix() as prefix:
        settings = Settings(_env_file=None, bot_token="4242:TEST", redis_url=REDIS_URL, data_dir=tmp_path)
        storage = dialog_storage(settings, db, redis_prefix=prefix)
        assert isinstance(storage, CommitBound)
        def bot_process():
            dp = build_dispatcher(db, settings, ManualClock(now), storage=storage)

            @dp.message.middleware()  # a dialog step, in the update's unit of work like every handler
            async def step(handler, message: Message, data) -> None:
                state: FSMContext = data["state"]
                await state.set_state("report:summary")
                await state.update_data(photos=3)
                assert await state.get_state() == "report:summary"  # the step reads its own change
                await record(data["uow"], "person", data["person"].id, "stepped", data["now"], data["person"].id)

            return dp

        dp = bot_process()
        harness = ChatHarness(dp)
        user = User(id=9001, is_bot=False, first_name="王阿姨", language_code="zh-hans")
        async with db.uow() as uow:  # she agreed to the privacy notice before (else the notice answers her)
            await meet(uow, "telegram", "9001", "9001", "王阿姨", now)
            await uow.commit()
        update = Update(update_id=1, message=Message(
            message_id=1, date=datetime.now(timezone.utc), chat=Chat(id=9001, type="private"), from_user=user,
            text="/step"))
        key = StorageKey(bot_id=4242, chat_id=9001, user_id=9001)

        real_commit, commits = SqlUnitOfWork.commit, []

        async def dies_at_the_last_commit(self):
            commits.append(1)
            if len(commits) == 1:  # the step's (she is known already: nothing else to commit first)
                raise Crash()
            await real_commit(self)

        monkeypatch.setattr(SqlUnitOfWork, "commit", dies_at_the_last_commit)
        with pytest.raises(Crash):
            await harness.feed(update)
        assert await storage.inner.get_state(key) is None and await storage.inner.get_data(key) == {}
        monkeypatch.setattr(SqlUnitOfWork, "commit", real_commit)

        restarted = bot_process()  # after the crash: a new process, a new inbox
        assert await restarted["inbox"].take_over(restarted, harness.bot) == 1  # handled again
        assert await storage.inner.get_state(key) == "report:summary"
        assert await storage.inner.get_data(key) == {"photos": 3}
        async with db.engine.connect() as conn:
            stepped = (await conn.execute(select(func.count()).select_from(t.events)
                                          .where(t.events.c.kind == "stepped"))).scalar()
        assert stepped == 1
        await storage.close()
        await harness.bot.session.close()
