"""Notice and consent, /privacy, /mydata and /forget through the real Dispatcher (issue #17)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from bot.callbacks import ConsentAnswer
from core.clock import ManualClock
from core.people import Identity, Role, RoleGrant
from redgrid.bootstrap import build_dispatcher
from redgrid.settings import Settings
from storage import case_tables, tables as t, volunteer_tables  # noqa: F401  (every table in the metadata)
from tests.botkit import ChatHarness
from tests.factories import add_person, seed_world


def _harness(db, world, now, tmp_path, **settings):
    clock = ManualClock(now)
    settings = Settings(_env_file=None, bot_token="4242:TEST", page_size=8, data_dir=tmp_path / "data", **settings)
    harness = ChatHarness(build_dispatcher(db, settings, clock))
    harness.world, harness.db, harness.clock = world, db, clock
    return harness


@pytest.fixture
async def chat(db, now, tmp_path):
    async with db.uow() as uow:
        world = await seed_world(uow)
    harness = _harness(db, world, now, tmp_path)
    yield harness
    await harness.bot.session.close()


async def _counts(db) -> dict[str, int]:
    async with db.engine.connect() as conn:
        return {table.name: (await conn.execute(select(func.count()).select_from(table))).scalar()
                for table in t.metadata.sorted_tables}


async def _resident(chat, name: str, building: str = "3号楼", user_id: int | None = None):
    """A registered resident who agreed to the notice, writing from a Telegram account."""
    tester = chat.person(name, user_id=user_id)
    w = chat.world
    async with chat.db.uow() as uow:
        person = await add_person(uow, w, name, name, RoleGrant(
            None, 0, Role.RESIDENT, community_id=w.communities["东城社区"].id, building_id=w.buildings[building].id))
        await uow.people.add_identity(Identity(None, person.id, "telegram", str(tester.id), str(tester.id)))
        await uow.commit()
    tester.person = person
    return tester


async def test_a_newcomer_who_says_no_leaves_nothing_behind(chat):
    before = await _counts(chat.db)
    zhou = chat.person("周奶奶")
    await zhou.sends_text("/start")
    notice = await zhou.sees("个人信息说明")
    assert "网格员和社区工作人员" in notice.text and "365 天" in notice.text  # who sees it, how long
    assert notice.buttons == ["✅ 同意", "✖ 不同意"]
    await zhou.sends_text("我家门口堆了垃圾")  # anything else before answering: the notice again
    await zhou.sees("个人信息说明")
    await zhou.presses("✖ 不同意")
    assert "没有保存您的任何信息" in (await zhou.sees("/start")).text
    await zhou.sends_location(32.7056, 116.7108)
    await zhou.sees("个人信息说明")
    after = await _counts(chat.db)
    # every table as it was; the inbox keeps each update's id (a second delivery is still known) and nothing else
    assert {k: v for k, v in after.items() if k != "inbox"} == {k: v for k, v in before.items() if k != "inbox"}
    async with chat.db.engine.connect() as conn:
        raws = [r.raw for r in await conn.execute(select(t.inbox.c.raw))]
    assert raws and all(set(raw) == {"update_id"} for raw in raws)
    assert "周奶奶" not in json.dumps(raws, ensure_ascii=False) and str(zhou.id) not in json.dumps(raws)


async def test_agreeing_records_the_notice_version_time_and_channel_then_onboards(chat, now):
    wang = chat.person("王阿姨")
    await wang.sends_text("/start")
    await wang.presses("✅ 同意")
    assert "您好，王阿姨" in (await wang.sees("欢迎使用")).text
    await wang.presses("东城社区")
    async with chat.db.uow() as uow:
        person = await uow.people.by_identity("telegram", str(wang.id))
        consents = await uow.consents.of(person.id)
        kinds = [e.kind for e in await uow.events.of("person", str(person.id))]
    assert [(c.purpose.value, c.version, c.channel, c.given_at) for c in consents] == [("notice", 1, "telegram", now)]
    assert person.notice_version == 1 and kinds[:2] == ["first_contact", "consent_given"]
    await wang.presses_data(ConsentAnswer(yes=1, version=1).pack())  # pressed again: nothing recorded twice
    async with chat.db.uow() as uow:
        assert len(await uow.consents.of(person.id)) == 1


async def test_an_invite_link_waits_behind_the_notice(chat, now):
    from core.onboarding import create_invite

    async with chat.db.uow() as uow:
        invite = await create_invite(uow, None, Role.GRID_MEMBER, now, ttl_hours=24,
                                     grid_id=chat.world.grids["东城花园网格"].id)
        await uow.commit()
    li = chat.person("李敏")
    await li.sends_text(f"/start {invite.deep_link_payload}")
    await li.sees("个人信息说明")
    await li.agrees()
    assert "东城花园网格" in li.last_message.text
    again = chat.person("张三")  # the same single-use link: refused after agreeing, the agreement stands
    await again.sends_text(f"/start {invite.deep_link_payload}")
    await again.agrees()
    assert "已被使用" in again.last_message.text
    async with chat.db.uow() as uow:
        person = await uow.people.by_identity("telegram", str(again.id))
    assert person is not None and person.notice_version == 1


async def test_a_new_notice_version_asks_again_before_anything_else(db, now, tmp_path):
    async with db.uow() as uow:
        world = await seed_world(uow)
    first = _harness(db, world, now, tmp_path)
    wang = await _resident(first, "王阿姨")
    await wang.sends_text("/my")
    await wang.sees("还没有反映过问题")  # agreed to version 1: served
    second = _harness(db, world, now, tmp_path, privacy_notice_version=2)
    wang.harness = second
    await wang.sends_text("/my")
    asked = await wang.sees("个人信息说明有更新")
    assert "第 2 版" in asked.text
    await wang.sends_text("/privacy")  # reading (or copying, or deleting) her data needs no new agreement
    assert "您的同意记录" in (await wang.sees("第 1 版")).text
    await wang.agrees()
    await wang.sees("可以继续使用了")
    await wang.sends_text("/my")
    await wang.sees("还没有反映过问题")
    async with db.uow() as uow:
        assert [c.version for c in await uow.consents.of(wang.person.id)] == [1, 2]
    await first.bot.session.close()
    await second.bot.session.close()


async def test_a_precise_location_is_asked_for_once_and_recorded(chat, now):
    zhao = chat.person("赵大爷")
    await zhao.sends_text("/start")
    await zhao.agrees()
    await zhao.sends_location(32.70561, 116.71079)
    ask = await zhao.sees("敏感个人信息")
    assert "3号楼" not in ask.text  # the location was not used before the consent
    await zhao.presses("✖ 不用了")
    await zhao.sees("手动选择")
    await zhao.sends_location(32.70561, 116.71079)
    await zhao.presses("✅ 同意使用位置")
    await zhao.sees("请再发送一次")
    await zhao.sends_location(32.70561, 116.71079)
    assert "3号楼" in (await zhao.sees("离您最近的是")).text
    await zhao.sends_location(32.70561, 116.71079)  # once agreed, never asked again
    await zhao.sees("离您最近的是")
    async with chat.db.uow() as uow:
        person = await uow.people.by_identity("telegram", str(zhao.id))
        consents = await uow.consents.of(person.id)
    assert [c.purpose.value for c in consents] == ["notice", "location"]
    assert person.location_agreed_at == now


async def test_privacy_shows_the_notice_and_her_consents(chat):
    wang = await _resident(chat, "王阿姨")
    await wang.sends_text("/privacy")
    shown = await wang.sees("个人信息说明")
    assert "您的同意记录" in shown.text and "第 1 版" in shown.text and "telegram" in shown.text
    assert shown.buttons == []  # agreed already: nothing to answer


async def test_mydata_sends_a_document_with_her_reports(chat, now):
    from core import cases_services
    from core.cases import Actor, Category, PhotoKind, PhotoRef
    from redgrid.bootstrap import report_policy

    wang = await _resident(chat, "王阿姨")
    async with chat.db.uow() as uow:
        roles = [g for g in await uow.people.grants(wang.person.id)]
        from core.people import Roles
        case = await cases_services.report_problem(
            uow, report_policy(Settings(_env_file=None)), Actor(wang.person.id, Roles(roles)),
            chat.world.buildings["3号楼"].id, Category.LIGHTS, [PhotoRef("a" * 64, PhotoKind.BEFORE)], "楼道灯坏了", now)
        await uow.commit()
    await wang.sends_text("/mydata")
    sent = wang.last_message
    assert sent.document is not None and sent.document[0].endswith(".json")
    document = json.loads(sent.document[1])
    assert document["summary"]["reports"] == 1
    assert [c["number"] for c in document["sections"]["cases.reporter_id"]] == [case.number]
    assert "submitted" in [e["kind"] for e in document["sections"]["events.subject (your reports)"]]
    (identity,) = document["sections"]["identities.person_id"]
    assert str(wang.id) not in json.dumps(identity)  # the account id is masked
    assert document["sections"]["persons.id"][0]["display_name"] == "王阿姨"
    async with chat.db.uow() as uow:
        assert "data_exported" in [e.kind for e in await uow.events.of("person", str(wang.person.id))]


async def test_forget_asks_twice_then_she_is_a_newcomer(chat):
    wang = await _resident(chat, "王阿姨")
    await wang.sends_text("/forget")
    await wang.sees("删除我的信息")
    await wang.presses("取消")
    await wang.sees("什么都没有删除")
    await wang.sends_text("/forget")
    await wang.presses("继续")
    await wang.sees("最后确认")
    await wang.presses("🗑 确认删除")
    await wang.sees("已删除您的信息")
    async with chat.db.uow() as uow:
        assert await uow.people.by_identity("telegram", str(wang.id)) is None
        gone = await uow.people.get(wang.person.id)
    assert gone.display_name == "—" and gone.forgotten_at is not None
    await wang.sends_text("/start")
    await wang.sees("个人信息说明")  # a newcomer again: asked before anything is kept


async def test_a_grid_member_with_open_cases_is_told_to_hand_them_over_first(chat, now):
    from core import cases_services
    from core.cases import Actor, Category, PhotoKind, PhotoRef
    from core.people import Roles
    from redgrid.bootstrap import report_policy

    w = chat.world
    li = chat.person("李网格")
    async with chat.db.uow() as uow:
        member = await add_person(uow, w, "li", "李网格", RoleGrant(None, 0, Role.GRID_MEMBER,
                                                                   grid_id=w.grids["粮食局第一网格"].id,
                                                                   community_id=w.communities["东城社区"].id))
        await uow.people.add_identity(Identity(None, member.id, "telegram", str(li.id), str(li.id)))
        resident = await add_person(uow, w, "wang", "王阿姨", RoleGrant(
            None, 0, Role.RESIDENT, community_id=w.communities["东城社区"].id, building_id=w.buildings["3号楼"].id))
        await cases_services.report_problem(
            uow, report_policy(Settings(_env_file=None)),
            Actor(resident.id, Roles(list(await uow.people.grants(resident.id)))), w.buildings["3号楼"].id,
            Category.GARBAGE, [PhotoRef("b" * 64, PhotoKind.BEFORE)], "", now)
        await uow.commit()
    await li.sends_text("/forget")
    assert "请先请社区工作人员改派" in (await li.sees("还在处理")).text
    async with chat.db.uow() as uow:
        assert (await uow.people.by_identity("telegram", str(li.id))).forgotten_at is None


async def test_forget_works_inside_a_dialog_and_leaves_no_dialog_behind(chat):
    wang = await _resident(chat, "王阿姨")
    await wang.sends_text("/ask")  # a dialog begins: its state is kept under her Telegram id

    async def dialog_rows() -> int:
        async with chat.db.engine.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(t.dialog_state)
                                       .where(t.dialog_state.c.user_id == wang.id))).scalar()

    assert await dialog_rows() > 0
    await wang.sends_text("/forget")
    await wang.presses("继续")
    await wang.presses("🗑 确认删除")
    await wang.sees("已删除您的信息")
    assert await dialog_rows() == 0


async def test_an_imported_grid_member_keeps_what_she_agreed_to_when_her_account_is_linked(chat, now):
    from core.onboarding import create_invite

    w = chat.world
    async with chat.db.uow() as uow:
        roster = await add_person(uow, w, "li", "李敏", RoleGrant(None, 0, Role.GRID_MEMBER, grid_id=w.grids["西苑网格"].id,
                                                                community_id=w.communities["西城社区"].id))
        invite = await create_invite(uow, None, Role.GRID_MEMBER, now, ttl_hours=24, grid_id=w.grids["西苑网格"].id,
                                     person_id=roster.id)
        await uow.commit()
    li = chat.person("Li M")
    await li.sends_text(f"/start {invite.deep_link_payload}")
    await li.agrees()
    await li.sees("西苑网格")
    async with chat.db.uow() as uow:
        person = await uow.people.by_identity("telegram", str(li.id))
        consents = await uow.consents.of(roster.id)
        names = await uow.people.display_names(list(range(1, roster.id + 5)))
    assert person.id == roster.id and person.notice_version == 1
    assert [c.channel for c in consents] == ["telegram", "telegram"]  # seeded, then hers from the chat
    assert "Li M" not in names.values()  # the visitor's chat name is not kept twice
