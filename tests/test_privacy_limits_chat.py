"""#17 in the chat, through the real Dispatcher (tests/botkit.py): messages per minute, the anonymous
toggle of the report summary, staff's /suspend and /restore, the desk's member list with masked phones."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.scenes.report import Step
from core import cases_services
from core.cases import Actor, Category, PhotoKind, PhotoRef
from core.clock import ManualClock
from core.onboarding import roles_of
from core.people import Role, RoleGrant
from redgrid.bootstrap import build_dispatcher, report_policy
from redgrid.settings import Settings
from tests.botkit import ChatHarness
from tests.factories import seed_world


@pytest.fixture
async def chat(request, db, now, tmp_path):
    async with db.uow() as uow:
        world = await seed_world(uow)
    clock = ManualClock(now)
    settings = Settings(_env_file=None, bot_token="4242:TEST", page_size=4, data_dir=tmp_path,
                        messages_per_minute=getattr(request, "param", 30))
    harness = ChatHarness(build_dispatcher(db, settings, clock))
    harness.world, harness.db, harness.clock, harness.settings = world, db, clock, settings
    yield harness
    await harness.bot.session.close()


async def person_of(chat, tester):
    async with chat.db.uow() as uow:
        return await uow.people.by_identity("telegram", str(tester.id))


async def registered(chat, name: str, building: str = "3号楼"):
    """A resident who has chatted once (the bot knows them) and lives in `building`."""
    tester = chat.person(name)
    await tester.sends_text("/help")
    await tester.agrees()  # the privacy notice comes first
    person = await person_of(chat, tester)
    async with chat.db.uow() as uow:
        await uow.people.add_grant(RoleGrant(None, person.id, Role.RESIDENT,
                                             community_id=chat.world.communities["东城社区"].id,
                                             building_id=chat.world.buildings[building].id))
        await uow.commit()
    return tester, person


async def with_role(chat, tester, grant: RoleGrant, phone: str | None = None):
    await tester.sends_text("/help")
    if await person_of(chat, tester) is None:
        await tester.agrees()  # the privacy notice comes first
    person = await person_of(chat, tester)
    async with chat.db.uow() as uow:
        await uow.people.add_grant(replace(grant, person_id=person.id))
        if phone:
            await uow.people.update(replace(person, phone=phone))
        await uow.commit()
    return person


@pytest.mark.parametrize("chat", [5], indirect=True)
async def test_the_sixth_message_in_a_minute_is_answered_once_politely_and_the_rest_dropped(chat):
    wang = chat.person("王阿姨")
    for n in range(5):
        await wang.sends_text("/help")
    assert len([m for m in wang.messages if "发得太快" in m.text]) == 0
    await wang.sends_text("/help")
    await wang.sees("您发得太快了，请稍等一分钟再发")
    await wang.sends_text("/help")
    await wang.receives_nothing()
    chat.clock.advance(minutes=1)  # a new minute
    await wang.sends_text("/help")
    assert "发得太快" not in wang.last_message.text
    zhao = chat.person("赵大爷")  # counted per person
    await zhao.sends_text("/help")
    assert "发得太快" not in zhao.last_message.text


async def test_a_resident_reports_anonymously_with_the_summarys_toggle(chat):
    wang, person = await registered(chat, "王阿姨")
    await wang.sends_text("/report")
    await wang.sees("请拍照")
    # botkit downloads nothing: the photo goes into the dialog as the photo step would put it
    key = StorageKey(bot_id=chat.bot.id, chat_id=wang.id, user_id=wang.id)
    await chat.dp.fsm.storage.set_data(key, {"photos": [{"sha256": "a" * 64, "width": 800, "height": 600,
                                                         "dhash": 1}]})
    await wang.presses_data(Step(action="next").pack())
    await wang.presses("💡 路灯/楼道灯")
    await wang.presses("🏠 我的楼栋（粮食局小区 3号楼）")
    await wang.presses("跳过")
    await wang.sees("请确认")
    await wang.presses("🙈 不让网格员看到我是谁")
    summary = await wang.sees("匿名上报")
    assert "👤 让网格员看到我是谁" in summary.buttons
    await wang.presses("✅ 确认提交")
    done = await wang.sees("已提交")
    assert "匿名上报" in done.text
    async with chat.db.uow() as uow:
        (case,) = await uow.cases.of_reporter(person.id)
    assert case.anonymous is True


async def test_staff_suspend_and_restore_a_reporter_in_the_chat(chat, now):
    wang, person = await registered(chat, "王阿姨")
    chen = chat.person("陈书记")
    await with_role(chat, chen, RoleGrant(None, 0, Role.STAFF, community_id=chat.world.communities["东城社区"].id))
    async with chat.db.uow() as uow:
        case = await cases_services.report_problem(
            uow, report_policy(chat.settings), Actor(person.id, await roles_of(uow, person)),
            chat.world.buildings["3号楼"].id, Category.LIGHTS, [PhotoRef("b" * 64, PhotoKind.BEFORE)], "", now)
        await uow.commit()
    await chen.sends_text("/suspend")
    await chen.sees("用法：/suspend")
    await chen.sends_text(f"/suspend {case.number}")
    await chen.sees("请写明原因")
    await chen.sends_text(f"/suspend {case.number.lower()} 多次上报无关照片")
    await chen.sees(f"已暂停 {case.number} 上报人的上报功能")
    await wang.sends_text("/report")
    await wang.sees("您的上报功能已被社区暂停，原因：多次上报无关照片")
    zhao, _ = await registered(chat, "赵大爷")  # a resident may not
    await zhao.sends_text(f"/restore {case.number}")
    await zhao.sees("没有权限")
    await chen.sends_text(f"/restore {case.number}")
    await chen.sees(f"已恢复 {case.number}")
    await wang.sends_text("/report")
    await wang.sees("照片")


async def test_the_desks_member_list_shows_phones_masked(chat, now):
    wang, person = await registered(chat, "王阿姨")
    chen = chat.person("陈书记")
    await with_role(chat, chen, RoleGrant(None, 0, Role.STAFF, community_id=chat.world.communities["东城社区"].id))
    li = chat.person("李秀英")
    await with_role(chat, li, RoleGrant(None, 0, Role.GRID_MEMBER, grid_id=chat.world.grids["粮食局第二网格"].id),
                    phone="13955556666")
    async with chat.db.uow() as uow:  # 3号楼's grid has no member: the case goes on the desk
        case = await cases_services.report_problem(
            uow, report_policy(chat.settings), Actor(person.id, await roles_of(uow, person)),
            chat.world.buildings["3号楼"].id, Category.LIGHTS, [PhotoRef("c" * 64, PhotoKind.BEFORE)], "", now)
        await uow.commit()
    await chen.presses_data(f"ca:members:{case.number}:")
    listed = await chen.sees("派给")
    assert any("李秀英 139****6666" in label for label in listed.buttons), listed.buttons
    assert not any("13955556666" in label for label in listed.buttons)
