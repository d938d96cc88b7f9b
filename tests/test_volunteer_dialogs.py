"""Volunteering dialogs and buttons through the real Dispatcher (no network): the points shop's last
step taken twice, the staff's /posts after the day, and the buttons of a registration request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import func, select

from redgrid.bootstrap import build_dispatcher
from bot.rendering.notifications import NotificationRenderer
from core import points_services
from core.volunteering import common_services, posts_services, registration_services
from core.cases import Actor
from core.clock import ManualClock
from core.notifications import Notification
from core.onboarding import roles_of
from core.people import Identity, Role, RoleGrant
from core.points import PointsEntry, PointsReason
from core.workdays import WorkCalendar
from redgrid.settings import Settings
from storage import tables
from storage.volunteer_tables import points_entries
from tests.botkit import BOT_USER, ChatHarness
from tests.factories import add_person, seed_world, staff_of

POLICY = common_services.VolunteerPolicy(calendar=WorkCalendar())


@pytest.fixture
async def chat(db, now):
    async with db.uow() as uow:
        world = await seed_world(uow)
    clock = ManualClock(now)
    settings = Settings(_env_file=None, bot_token="4242:TEST", page_size=4)
    dp = build_dispatcher(db, settings, clock)  # dialogs in the database, as `redgrid run` keeps them
    harness = ChatHarness(dp)
    harness.world, harness.db, harness.clock, harness.storage = world, db, clock, dp.storage
    harness.settings = settings
    harness.dc = world.communities["东城社区"]
    yield harness
    await harness.bot.session.close()


async def in_chat(chat, name: str, *grants: RoleGrant, language: str = "zh-hans"):
    """A person with these roles, who writes to the bot from a Telegram account."""
    tester = chat.person(name, language)
    async with chat.db.uow() as uow:
        person = await add_person(uow, chat.world, name, name, *grants)
        await uow.people.add_identity(Identity(None, person.id, "telegram", str(tester.id), str(tester.id)))
        await uow.commit()
    tester.person = person
    return tester


def member_of(community) -> RoleGrant:
    return RoleGrant(None, 0, Role.PARTY_MEMBER, community_id=community.id, work_unit="县财政局")


async def test_the_last_step_of_a_redemption_taken_twice_spends_the_points_once(chat):
    chen = await in_chat(chat, "陈书记", staff_of(chat.dc))
    async with chat.db.uow() as uow:
        member = await add_person(uow, chat.world, "m1", "党员甲", member_of(chat.dc))
        await uow.volunteering.add_points(PointsEntry(member.id, chat.dc.id, 10, PointsReason.SERVICE, "claim:seed",
                                                      chat.clock.now()))
        await uow.commit()
    await chen.sends_text("/redeem")
    await chen.sends_text("党员")
    await chen.presses("党员甲（10 分）")
    await chen.sends_text("3")
    await chen.sees("兑换什么物品")
    key = StorageKey(bot_id=BOT_USER.id, chat_id=chen.id, user_id=chen.id)
    state, data = await chat.storage.get_state(key), await chat.storage.get_data(key)
    await chen.sends_text("洗衣液一瓶")
    assert "用了 3 分，还剩 7 分" in chen.last_message.text

    # the dialog outlived its redemption (the bot stopped between committing and closing it, or a
    # second bot process took the words sent again): its last step comes once more, a minute later
    await chat.storage.set_state(key, state)
    await chat.storage.set_data(key, data)
    chat.clock.advance(minutes=1)
    await chen.sends_text("洗衣液一瓶")
    assert "已经登记过了" in chen.last_message.text and "还剩 7 分" in chen.last_message.text
    async with chat.db.uow() as uow:
        assert await points_services.points_balance(uow, member.id, chat.dc.id) == 7
    async with chat.db.engine.connect() as conn:
        spent = (await conn.execute(select(func.count()).select_from(points_entries)
                                    .where(points_entries.c.reason == PointsReason.REDEMPTION.value))).scalar_one()
    assert spent == 1
    assert await chat.storage.get_state(key) is None  # and the dialog is over


async def test_posts_keeps_a_started_post_until_staff_settle_it_from_the_roster(chat):
    chen = await in_chat(chat, "陈书记", staff_of(chat.dc))
    start = chat.clock.now() + timedelta(days=2)
    async with chat.db.uow() as uow:
        member = await add_person(uow, chat.world, "m1", "党员甲", member_of(chat.dc))
        staff = Actor.of(chen.person, await roles_of(uow, chen.person))
        post = await posts_services.create_post(uow, POLICY, staff, chat.dc.id, chat.clock.now(), title="帮老人搬米",
                                                starts_at=start, ends_at=start + timedelta(hours=2), place="A栋",
                                                capacity=2, points_per_person=5)
        await posts_services.claim_post(uow, POLICY, Actor.of(member, await roles_of(uow, member)), post.number,
                                        chat.clock.now())
        await uow.commit()
    await chen.sends_text("/posts")
    assert "即将开始的岗位" not in chen.last_message.text and chen.last_message.buttons == ["👥 名单"]

    chat.clock.set(start + timedelta(days=1))  # the day after: 党员甲 never came
    await chen.sends_text("/posts")
    assert "没有即将开始的岗位" not in (await chen.sees("帮老人搬米")).text
    assert "还需要您确认服务、标记缺席或为忘记签退的人代为签退的岗位（1 个）" in chen.messages[-2].text
    await chen.presses("👥 名单")
    assert "党员甲：已接单" in chen.last_message.text
    await chen.presses("❌ 党员甲 缺席")
    assert "已记录 党员甲 缺席" in chen.last_message.text
    await chen.sends_text("/posts")
    assert chen.last_message.text == "没有即将开始的岗位。"  # settled: nothing left to do


async def test_a_registration_button_names_its_community_and_staff_of_another_are_refused(chat):
    chen = await in_chat(chat, "陈书记", staff_of(chat.dc))
    xi_desk = await in_chat(chat, "西城书记", staff_of(chat.world.communities["西城社区"]))
    async with chat.db.uow() as uow:
        zhao = await add_person(uow, chat.world, "zhao", "赵红")
        qian = await add_person(uow, chat.world, "qian", "钱明")
        for who in (zhao, qian):
            await registration_services.ask_to_register(uow, who.id, chat.dc.id, "县教育局", chat.clock.now())
        await uow.commit()
    async with chat.db.engine.connect() as conn:
        rows = list(await conn.execute(select(tables.outbox).where(
            tables.outbox.c.kind == "party.registration_requested", tables.outbox.c.person_id == chen.person.id)
            .order_by(tables.outbox.c.id)))
    assert [r.payload["community"] for r in rows] == [chat.dc.id, chat.dc.id]
    told = await NotificationRenderer(chat.settings)(
        None, Notification(chen.person.id, rows[0].kind, rows[0].payload), chen.person,
        Identity(None, chen.person.id, "telegram", str(chen.id), str(chen.id)))
    approve = told.markup.inline_keyboard[0][0].callback_data
    assert approve == f"vo:reg_ok::{zhao.id}:{chat.dc.id}"

    # 西城's desk presses (or forges) 东城's button: refused, and nothing changes
    await xi_desk.sends_text("/help")
    await xi_desk.presses_data(approve)
    assert "没有权限" in xi_desk.alerts[-1]
    async with chat.db.uow() as uow:
        assert [p.id for p, _ in await registration_services.pending_registrations(uow, chat.dc.id)] == [zhao.id, qian.id]

    await chen.sends_text("/help")
    await chen.presses_data(approve)
    assert f"已通过 {zhao.display_name} 的报到" in chen.last_message.text
    await chen.presses_data(approve)  # pressed again: already decided, and it says so
    assert "已处理" in chen.alerts[-1]
    await chen.presses_data(f"vo:reg_ok::{qian.id}:")  # a button from before it named the community
    assert f"已通过 {qian.display_name} 的报到" in chen.last_message.text
    async with chat.db.uow() as uow:
        assert await registration_services.pending_registrations(uow, chat.dc.id) == []
