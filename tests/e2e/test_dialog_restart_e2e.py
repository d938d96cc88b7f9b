"""A report half-way survives the bot's restart: the resident presses confirm on the new process
and the case is made. With the dialog state in the database (the default) and in Redis (REDIS_URL,
several processes), each time through the real report dialog — scenes, several steps.

The bot is stopped and built again (a new Bot, a new Dispatcher, a new storage) over the same
database, as `redgrid run` does after a crash; the stand-in keeps the chat, as Telegram would.
"""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import func, select

from redgrid.bootstrap import build_bot, build_dispatcher, dialog_storage
from core.clock import ManualClock
from demo.app import DEMO_BOT_USERNAME, DEMO_TOKEN, prepare_demo_world
from demo.harness import ChatUser, polling, running_standin, settled
from redgrid.settings import Settings
from storage.case_tables import cases
from tests.e2e.test_report_loop_e2e import jpeg
from tests.redis_kit import REDIS_URL, keys_under, redis_prefix


@contextlib.asynccontextmanager
async def bot_process(db, standin, settings, clock, redis_keys: str | None):
    """One life of the bot: its own Bot, Dispatcher and dialog storage, polling until the block ends."""
    settings = settings.model_copy(update={"bot_token": DEMO_TOKEN, "bot_api_url": standin.base_url,
                                           "bot_username": "", "redis_url": REDIS_URL if redis_keys else ""})
    storage = dialog_storage(settings, db, redis_prefix=redis_keys) if redis_keys else None
    bot = build_bot(settings)
    dp = build_dispatcher(db, settings, clock, storage=storage)  # None: the default, as `redgrid run`
    try:
        async with polling(dp, bot, polling_timeout=1):
            yield
        await settled(standin, db.engine)
    finally:
        await dp.storage.close()
        await bot.session.close()


@pytest.mark.parametrize("where", ["database", "redis"])
async def test_a_report_half_way_is_confirmed_after_a_restart(db, now, tmp_path, where):
    clock = ManualClock(now)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", page_size=8)
    personas = await prepare_demo_world(db, clock)
    async with contextlib.AsyncExitStack() as stack:
        prefix = await stack.enter_async_context(redis_prefix()) if where == "redis" else None
        standin = await stack.enter_async_context(
            running_standin(token=DEMO_TOKEN, bot_username=DEMO_BOT_USERNAME, bot_first_name="红色网格"))
        for persona in personas:
            standin.add_user(persona.user_id, persona.name, language_code=persona.language_code)
        (wang,) = [ChatUser(standin, p.user_id, p.name, language_code=p.language_code)
                   for p in personas if p.name == "王阿姨"]

        async with bot_process(db, standin, settings, clock, prefix):
            await wang.sends_photo(jpeg("navy"))
            await wang.sees("已收到 1 张照片")
            await wang.presses("下一步")
            await wang.sees("这是什么问题")
            await wang.presses("💡 路灯/楼道灯")
            await wang.presses("我的楼栋（粮食局小区 3号楼）")
            await wang.sees("几句话")
            await wang.presses("跳过")
            await wang.sees("请确认")
        if prefix:  # the scenes' history lives under a destiny of its own
            assert any(key.endswith(":scenes_history:data") for key in await keys_under(prefix))

        async with bot_process(db, standin, settings, clock, prefix):  # the bot was down; now back
            answer = await wang.presses("✅ 确认提交")
            assert "过期" not in (answer.text or ""), answer.text
            await wang.sees("已提交，编号")

    async with db.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(cases))).scalar() == 1
