"""/bind on Telegram shows a one-time code; the same person then binds their WeChat account with it.
Staff get a code for someone on their roster (/bind 名字)."""

from __future__ import annotations

import re

import pytest

from core.clock import ManualClock
from core.people import Role, RoleGrant
from redgrid.bootstrap import build_dispatcher
from redgrid.settings import Settings
from tests.botkit import ChatHarness
from tests.factories import add_person, seed_world, staff_of
from tests.wechat_kit import WeChatKit


@pytest.fixture
async def chat(db, now, tmp_path):
    async with db.uow() as uow:
        world = await seed_world(uow)
        await add_person(uow, world, "li", "李网格", RoleGrant(None, 0, Role.GRID_MEMBER,
                                                             grid_id=world.grids["粮食局第一网格"].id))
    clock = ManualClock(now)
    settings = Settings(_env_file=None, bot_token="4242:TEST", data_dir=tmp_path)
    harness = ChatHarness(build_dispatcher(db, settings, clock))
    harness.world, harness.db, harness.clock = world, db, clock
    harness.wechat = WeChatKit(db, tmp_path, now)
    harness.wechat.clock = clock
    harness.wechat.conversation.clock = clock
    yield harness
    await harness.bot.session.close()


async def test_a_telegram_resident_binds_her_wechat_with_the_code_bind_shows(chat):
    wang = chat.person("王阿姨")
    await wang.sends_text("/bind")
    await wang.sees("个人信息说明")  # before agreeing, nothing (the privacy notice comes first)
    await wang.agrees()
    await wang.sends_text("/bind")
    await wang.sees("没有权限")  # nobody yet: nothing to bind
    await wang.sends_text("/start")
    await wang.presses("东城社区")
    await wang.presses("粮食局小区")
    await wang.presses("3号楼")
    assert "bind" in chat.commands_for_chat(wang.id)
    await wang.sends_text("/bind")
    code = re.search(r"绑定码：(\d{6})", (await wang.sees("绑定码")).text).group(1)
    phone = chat.wechat.resident("o-wang")
    await phone.sends_text(f"绑定 {code}")
    phone.sees("绑定成功。您好，王阿姨")
    async with chat.db.uow() as uow:
        on_telegram = await uow.people.by_identity("telegram", str(wang.id))
        on_wechat = await uow.people.by_identity("wechat", "o-wang")
    assert on_telegram.id == on_wechat.id
    await phone.sends_text("我的上报")
    phone.sees("您还没有反映过问题")  # she is the resident she is on Telegram


async def test_staff_get_a_code_for_a_grid_member_on_their_roster(chat):
    chen = chat.person("陈书记")
    await chen.sends_text("/start")
    await chen.agrees()
    async with chat.db.uow() as uow:
        person = await uow.people.by_identity("telegram", str(chen.id))
        grant = staff_of(chat.world.communities["东城社区"])
        grant.person_id = person.id
        await uow.people.add_grant(grant)
        await uow.commit()
    await chen.sends_text("/bind 王")
    await chen.sees("没有找到名字含「王」的人")
    await chen.sends_text("/bind 李网格")
    code = re.search(r"李网格 的绑定码：(\d{6})", (await chen.sees("的绑定码")).text).group(1)
    li = chat.wechat.staff_member("LiWangGe")
    await li.sends_text(f"绑定{code}")
    li.sees("您好，李网格")
    li.sees("我的问题")
