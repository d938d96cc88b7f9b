"""Onboarding through the real Dispatcher: residents choose a building, invites give roles."""

from __future__ import annotations

from datetime import timedelta

import pytest

from redgrid.bootstrap import build_dispatcher
from bot.callbacks import PickBuilding, SetLanguage
from core.clock import ManualClock
from core.onboarding import create_invite, roles_of
from core.people import Role
from redgrid.settings import Settings
from tests.botkit import ChatHarness
from tests.factories import add_person, seed_world, staff_of


@pytest.fixture
async def chat(db, now):
    async with db.uow() as uow:
        world = await seed_world(uow)
    clock = ManualClock(now)
    settings = Settings(_env_file=None, bot_token="4242:TEST", page_size=4)
    harness = ChatHarness(build_dispatcher(db, settings, clock))
    harness.world, harness.db, harness.clock = world, db, clock
    yield harness
    await harness.bot.session.close()


async def _roles(db, tester):
    async with db.uow() as uow:
        person = await uow.people.by_identity("telegram", str(tester.id))
        return await roles_of(uow, person)


async def _invite(db, role, now, **scope):
    async with db.uow() as uow:
        invite = await create_invite(uow, None, role, now, ttl_hours=72, **scope)
        await uow.commit()
    return invite


async def test_resident_picks_compound_then_building(chat):
    wang = chat.person("王阿姨")
    await wang.sends_text("/start")
    await wang.agrees()
    assert "欢迎使用" in (await wang.sees("您好，王阿姨")).text
    # two communities: she picks hers, then the compound, then the building
    await wang.presses("东城社区")
    assert "请选择您所在的小区" in wang.last_message.text
    await wang.presses("粮食局小区")
    assert wang.last_message.buttons[:4] == ["1号楼", "2号楼", "3号楼", "4号楼"]
    await wang.presses("3号楼")
    assert "登记成功：东城社区 粮食局小区 3号楼" in wang.last_message.text
    roles = await _roles(chat.db, wang)
    assert roles.home_building_id() == chat.world.buildings["3号楼"].id
    assert "start" in chat.commands_for_chat(wang.id)


async def test_pick_list_pages_and_goes_back(chat):
    li = chat.person("李师傅")
    await li.sends_text("/start")
    await li.agrees()
    await li.presses("东城社区")
    await li.presses("↩ 返回")
    assert "请选择您所在的社区" in li.last_message.text
    assert set(li.last_message.buttons) >= {"东城社区", "西城社区"}


async def test_shared_location_finds_nearest_building_and_confirms(chat):
    zhao = chat.person("赵大爷")
    await zhao.sends_text("/start")
    await zhao.agrees()
    await zhao.sends_location(32.70561, 116.71079)  # a few metres from 3号楼
    await zhao.presses("✅ 同意使用位置")  # a precise location is asked for once, separately
    await zhao.sends_location(32.70561, 116.71079)
    offer = zhao.last_message
    assert "3号楼" in offer.text and "米" in offer.text
    await zhao.presses("✅ 是的")
    assert "登记成功" in zhao.last_message.text
    assert (await _roles(chat.db, zhao)).home_building_id() == chat.world.buildings["3号楼"].id


async def test_location_far_from_every_building_is_explained(chat):
    zhao = chat.person("赵大爷")
    await zhao.sends_text("/start")
    await zhao.agrees()
    await zhao.sends_location(39.9, 116.4)  # Beijing
    await zhao.presses("✅ 同意使用位置")
    await zhao.sends_location(39.9, 116.4)
    assert "米内没有找到登记的楼栋" in zhao.last_message.text
    assert (await _roles(chat.db, zhao)).names == []


async def test_forged_building_from_another_community_is_refused_and_nothing_saved(chat):
    w = chat.world
    mallory = chat.person("Mallory")
    await mallory.sends_text("/start")
    await mallory.agrees()
    forged = PickBuilding(community=w.communities["东城社区"].id, compound=w.compounds["粮食局小区"].id,
                          building=w.buildings["西1栋"].id).pack()
    await mallory.presses_data(forged)
    assert any("不属于" in alert for alert in mallory.alerts)
    assert (await _roles(chat.db, mallory)).names == []


async def test_text_before_registering_gets_a_hint_and_the_picker(chat):
    wang = chat.person("王阿姨")
    await wang.sends_text("楼道灯坏了")
    await wang.agrees()  # the privacy notice comes first, then where she lives
    await wang.sends_text("楼道灯坏了")
    assert "请先用下面的按钮选择您住的楼栋" in (await wang.sees("请先")).text
    assert "东城社区" in wang.last_message.buttons


async def test_moving_house_replaces_the_building(chat):
    wang = chat.person("王阿姨")
    await wang.sends_text("/start")
    await wang.agrees()
    await wang.presses("东城社区")
    await wang.presses("东城花园")
    await wang.presses("A栋")
    await wang.sends_text("/start")
    assert "东城花园 A栋" in wang.last_message.text
    await wang.presses("🏠 更换住址")
    await wang.presses("东城社区")
    await wang.presses("粮食局小区")
    await wang.presses("1号楼")
    assert "住址已更新" in wang.last_message.text
    assert (await _roles(chat.db, wang)).home_building_id() == chat.world.buildings["1号楼"].id


async def test_grid_member_joins_by_invite(chat, now):
    invite = await _invite(chat.db, Role.GRID_MEMBER, now, grid_id=chat.world.grids["粮食局第一网格"].id)
    li = chat.person("李敏")
    await li.sends_text(f"/start {invite.deep_link_payload}")
    await li.agrees()
    assert "您已成为「粮食局小区 粮食局第一网格」的网格员" in li.last_message.text
    assert (await _roles(chat.db, li)).grid_ids() == {chat.world.grids["粮食局第一网格"].id}
    # the same single-use link a second time, by someone else
    other = chat.person("张三")
    await other.sends_text(f"/start {invite.deep_link_payload}")
    await other.agrees()
    assert "已被使用" in other.last_message.text
    assert (await _roles(chat.db, other)).names == []


async def test_expired_unknown_and_repeated_invites_are_explained(chat, now):
    invite = await _invite(chat.db, Role.STAFF, now, community_id=chat.world.communities["东城社区"].id)
    chat.clock.advance(hours=73)
    late = chat.person("迟到")
    await late.sends_text(f"/start {invite.deep_link_payload}")
    await late.agrees()
    assert "已过期" in late.last_message.text
    await late.sends_text("/start inv_doesnotexist")
    assert "邀请链接无效" in late.last_message.text
    await late.sends_text("/start something-else")
    assert "邀请链接无效" in late.last_message.text


async def test_staff_invites_a_grid_member_in_the_bot(chat, now):
    w = chat.world
    async with chat.db.uow() as uow:
        await add_person(uow, w, "staff", "陈书记", staff_of(w.communities["东城社区"]))
        # the staff member's chat account
        from core.people import Identity
        staff_user = chat.person("陈书记")
        await uow.people.add_identity(Identity(None, w.people["staff"].id, "telegram", str(staff_user.id),
                                               str(staff_user.id)))
        await uow.commit()
    await staff_user.sends_text("/invite")
    await staff_user.presses("网格员")
    assert "东城花园网格" in staff_user.last_message.buttons
    assert "西苑网格" not in staff_user.last_message.buttons  # another community's grid is not offered
    await staff_user.presses("东城花园网格")
    text = staff_user.last_message.text
    assert "https://t.me/redgrid_test_bot?start=inv_" in text
    payload = text.split("?start=")[1].split()[0]
    newcomer = chat.person("刘网格")
    await newcomer.sends_text(f"/start {payload}")
    await newcomer.agrees()
    assert "东城花园网格" in newcomer.last_message.text
    assert (await _roles(chat.db, newcomer)).has(Role.GRID_MEMBER)


async def test_invite_command_refused_to_a_resident(chat):
    wang = chat.person("王阿姨")
    await wang.sends_text("/start")
    await wang.agrees()
    await wang.sends_text("/invite")
    assert "没有权限" in wang.last_message.text


async def test_language_follows_client_and_can_be_changed(chat):
    tom = chat.person("Tom", language_code="en")
    await tom.sends_text("/start")
    await tom.agrees()
    assert "Welcome to Red Grid" in (await tom.sees("Hello, Tom")).text
    await tom.sends_text("/lang")
    await tom.presses("中文")
    assert tom.last_message.text == "好的，以后用中文和您交流。"
    await tom.sends_text("/help")
    assert "您可以" in tom.last_message.text
    await tom.presses_data(SetLanguage(lang="xx").pack())  # forged language
    assert any("没有权限" in a for a in tom.alerts)


async def test_help_and_menu_follow_roles(chat, now):
    invite = await _invite(chat.db, Role.STAFF, now, community_id=chat.world.communities["东城社区"].id)
    chen = chat.person("陈书记")
    await chen.sends_text(f"/start {invite.deep_link_payload}")
    await chen.agrees()
    assert "invite" in chat.commands_for_chat(chen.id)
    await chen.sends_text("/help")
    assert "/invite" in chen.last_message.text and "社区工作人员" in chen.last_message.text
    wang = chat.person("王阿姨")
    await wang.sends_text("/start")
    await wang.agrees()
    await wang.sends_text("/help")
    assert "/help" in wang.last_message.text and "/invite" not in wang.last_message.text


async def test_cancel_works_anywhere_and_says_when_nothing_to_cancel(chat):
    wang = chat.person("王阿姨")
    await wang.sends_text("/start")
    await wang.agrees()
    await wang.sends_text("/cancel")
    assert wang.last_message.text == "当前没有进行中的操作。"


async def test_stale_unknown_button_is_answered_not_ignored(chat):
    wang = chat.person("王阿姨")
    await wang.sends_text("/start")
    await wang.agrees()
    await wang.presses_data("zz:old:format")
    assert any("按钮已过期" in a for a in wang.alerts)


async def test_bound_invite_links_account_to_imported_grid_member(chat, now):
    w = chat.world
    async with chat.db.uow() as uow:
        from core.people import RoleGrant
        roster = await add_person(uow, w, "li", "李敏",
                                  RoleGrant(None, 0, Role.GRID_MEMBER, grid_id=w.grids["西苑网格"].id,
                                            community_id=w.communities["西城社区"].id))
    invite = await _invite(chat.db, Role.GRID_MEMBER, now, grid_id=w.grids["西苑网格"].id, person_id=roster.id)
    li = chat.person("Li M")
    await li.sends_text("/start")  # a visitor first
    await li.agrees()
    await li.sends_text(f"/start {invite.deep_link_payload}")
    assert "西苑网格" in li.last_message.text
    async with chat.db.uow() as uow:
        person = await uow.people.by_identity("telegram", str(li.id))
        assert person.id == roster.id and person.display_name == "李敏"
        events = await uow.events.of("person", str(roster.id))
    assert "identity_linked" in [e.kind for e in events]


async def test_registration_event_is_recorded_with_actor_and_time(chat, now):
    wang = chat.person("王阿姨")
    await wang.sends_text("/start")
    await wang.agrees()
    chat.clock.advance(minutes=5)
    await wang.presses("东城社区")
    await wang.presses("东城花园")
    await wang.presses("B栋")
    async with chat.db.uow() as uow:
        person = await uow.people.by_identity("telegram", str(wang.id))
        events = await uow.events.of("person", str(person.id))
    registered = [e for e in events if e.kind == "resident_registered"]
    assert len(registered) == 1
    assert registered[0].actor_id == person.id
    assert registered[0].at == now + timedelta(minutes=5)
    assert registered[0].after["building_id"] == chat.world.buildings["B栋"].id
