"""Onboarding through the stand-in: what a resident and a new grid member really see."""

from __future__ import annotations

from core.onboarding import create_invite, roles_of
from core.people import Role


async def _roles(demo, user_id):
    await demo.settled()  # the bot replies before its unit of work commits
    async with demo.db.uow() as uow:
        person = await uow.people.by_identity("telegram", str(user_id))
        return await roles_of(uow, person)


async def test_newcomer_registers_as_resident_with_buttons(demo):
    zhou = demo.newcomer("周奶奶")
    await zhou.sends_text("/start")
    await zhou.sees("个人信息说明")  # nothing is kept before she agrees
    await zhou.agrees()
    await zhou.sees("欢迎使用")
    picker = await zhou.sees("请选择您所在的小区")  # one community: straight to its compounds
    assert {"粮食局小区", "东城花园"} <= set(picker.buttons)
    assert zhou.reply_keyboard is not None  # the "send my location" button
    await zhou.presses("东城花园")
    await zhou.sees("请选择您的楼栋")
    await zhou.presses("2号楼")
    done = await zhou.sees("登记成功")
    assert "东城社区 东城花园 2号楼" in done.text
    assert (await _roles(demo, zhou.user_id)).has(Role.RESIDENT)
    assert zhou.commands[:2] == ["/start", "/help"]


async def test_newcomer_registers_by_sharing_location(demo):
    async with demo.db.uow() as uow:
        (community,) = await uow.places.communities()
        compound = await uow.places.compound_named(community.id, "粮食局小区")
        building = await uow.places.building_named(compound.id, "1号楼")
    qian = demo.newcomer("钱先生")
    await qian.sends_text("/start")
    await qian.agrees()
    await qian.sees("请选择您所在的小区")
    await qian.sends_location(building.lat + 0.00002, building.lon)
    await qian.presses("✅ 同意使用位置")  # a precise location: asked once, separately
    await qian.sends_location(building.lat + 0.00002, building.lon)
    offer = await qian.sees("离您最近的是")
    assert "1号楼" in offer.text
    await qian.presses("✅ 是的")
    await qian.sees("登记成功")
    assert (await _roles(demo, qian.user_id)).home_building_id() == building.id


async def test_grid_member_joins_by_deep_link_and_reused_link_is_refused(demo):
    async with demo.db.uow() as uow:
        (grid, *_) = await uow.places.grids()
        invite = await create_invite(uow, None, Role.GRID_MEMBER, demo.clock.now(), ttl_hours=24, grid_id=grid.id)
        await uow.commit()
    new_member = demo.newcomer("吴网格")
    await new_member.sends_text(f"/start {invite.deep_link_payload}")
    await new_member.agrees()
    welcome = await new_member.sees("您已成为")
    assert grid.name in welcome.text
    assert grid.id in (await _roles(demo, new_member.user_id)).grid_ids()
    again = demo.newcomer("郑某")
    await again.sends_text(f"/start {invite.deep_link_payload}")
    await again.agrees()
    await again.sees("已被使用")


async def test_seeded_resident_is_recognised_and_english_client_gets_english(demo):
    wang = demo.persona("王阿姨")
    await wang.sends_text("/start")
    home = await wang.sees("您登记的住址")
    assert "粮食局小区 3号楼" in home.text
    grace = demo.persona("Grace Lin")
    await grace.sends_text("/help")
    assert "party-member volunteer" in (await grace.sees("Your roles")).text
