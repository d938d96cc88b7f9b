"""The WeChat conversation on SQLite and PostgreSQL: a resident registers and reports on the Official
Account, the grid member (bound with a code staff issued) accepts and resolves on WeCom with photos,
the resident confirms and rates; binding refusals; bad input kept polite; stale and forged numbers
refused by core; a replayed message repeats nothing."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from core.binding_services import issue_bind_code
from core.cases import Actor, CaseState
from core.onboarding import roles_of
from core.people import Role, RoleGrant
from storage import tables
from storage.wechat_dialogs import SqlWeChatDialogs
from tests.factories import add_person, seed_world, staff_of
from tests.wechat_kit import WeChatKit

# Monday 2026-11-23 10:00 in Shanghai
MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
async def kit(db, tmp_path):
    async with db.uow() as uow:
        world = await seed_world(uow)
        dc = world.communities["东城社区"]
        await add_person(uow, world, "li", "李网格", RoleGrant(None, 0, Role.GRID_MEMBER,
                                                             grid_id=world.grids["粮食局第一网格"].id))
        await add_person(uow, world, "chen", "陈书记", staff_of(dc))
        await add_person(uow, world, "zhao", "赵大爷", RoleGrant(None, 0, Role.RESIDENT, community_id=dc.id,
                                                             building_id=world.buildings["2号楼"].id))
    k = WeChatKit(db, tmp_path, MONDAY)
    k.world = world
    return k


async def code_for(kit, staff: str, whom: str) -> str:
    async with kit.db.uow() as uow:
        by = kit.world.people[staff]
        code = await issue_bind_code(uow, Actor(by.id, await roles_of(uow, by)), kit.clock.now(),
                                     kit.world.people[whom].id)
        await uow.commit()
    return code.code


async def register(kit, wang) -> None:
    assert "欢迎使用" in await wang.subscribes()
    wang.sees("1. 东城社区")
    await wang.sends_text("1")
    wang.sees("请选择您所在的小区")
    await wang.sends_text("1")  # 粮食局小区
    wang.sees("3. 3号楼")
    await wang.sends_text("3")
    wang.sees("登记成功：东城社区 粮食局小区 3号楼")


async def report_lights(kit, wang) -> str:
    await wang.sends_photo(1)
    wang.sees("已收到 1 张照片")
    await wang.sends_text("1")
    wang.sees("这是什么问题？")
    assert "5. 💡 路灯/楼道灯" in wang.text
    await wang.sends_text("5")
    wang.sees("1. 🏠 我的楼栋（粮食局小区 3号楼）")
    await wang.sends_text("1")
    wang.sees("不描述请回复 1 跳过")
    await wang.sends_text("三楼楼道灯坏了")
    wang.sees("📝 三楼楼道灯坏了")
    await wang.sends_text("1")  # ✅ 确认提交
    return re.search(r"编号 (DC-\d{4}-\d{6})", wang.sees("已提交")).group(1)


async def test_a_report_goes_round_the_loop_on_wechat_and_wecom(kit):
    wang = kit.resident("o-wang")
    await register(kit, wang)
    number = await report_lights(kit, wang)
    assert number == "DC-2026-000001"
    wang.sees("最迟 11月25日 18:00")

    # the grid member, imported from the org file, has no chat yet: staff give him a code, he binds on WeCom
    li = kit.staff_member("LiWangGe")
    assert "绑定码" in await li.sends_text("你好")
    code = await code_for(kit, "chen", "li")
    await li.sends_text(f"绑定 {code}")
    li.sees("绑定成功。您好，李网格")
    assert (await kit.person_of(li)).id == kit.world.people["li"].id

    told = await kit.told(kit.world.people["li"].id, "case.new_for_handler")
    assert told[0].image is not None  # the resident's photo
    assert "🆕 新问题 DC-2026-000001" in told[-1].text and "1. ✅ 受理" in told[-1].text

    await li.sends_text("1")
    li.sees("已受理 DC-2026-000001")
    li.sees("1. 📷 上传处理中照片")
    await li.sends_text("1")
    li.sees("请发送处理中的照片")
    await li.sends_photo(2)
    li.sees("已保存处理中照片")
    await li.sends_text("2")  # ✅ 已处理，上传完成照片
    li.sees("请发送处理后的照片")
    await li.sends_text("好了")  # not a photo: the step stays
    li.sees("需要一张照片")
    await li.sends_photo(3)
    li.sees("请用一句话说明怎么处理的")
    await li.sends_text("换了新灯泡")
    li.sees("等待居民确认")

    told = await kit.told((await kit.person_of(wang)).id, "case.resolved")
    assert told[0].image is not None and told[0].image[:2] == b"\xff\xd8"  # the three-photo card
    assert "1. 👍 已解决" in told[-1].text and "2. 👎 没解决" in told[-1].text

    await wang.sends_text("1")
    wang.sees("请为这次处理打分")
    await wang.sends_text("9")
    wang.sees("请为这次处理打分")  # kept polite, the step stays
    await wang.sends_text("5")
    wang.sees("谢谢您的评价（5 星）")
    async with kit.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.state == CaseState.CLOSED and case.rating == 5
    assert len(case.photos) == 3

    # WeChat retries the last message: the same answer, nothing done twice
    assert "谢谢您的评价（5 星）" in await wang.sends_again()
    async with kit.db.uow() as uow:
        confirmed = [e for e in await uow.events.of("case", number) if e.kind == "confirmed"]
    assert len(confirmed) == 1


async def test_a_rejected_fix_goes_back_with_the_residents_reason_in_english(kit):
    wang = kit.resident("o-wang")
    await register(kit, wang)
    await wang.sends_text("English")
    wang.sees("English")
    number = None
    await wang.clicks("REPORT")
    wang.sees("photo")
    await wang.sends_photo(1)
    await wang.sends_text("1")
    await wang.sends_text("1")  # garbage
    await wang.sends_text("1")  # my building
    await wang.sends_text("1")  # skip the words
    wang.sees("(none)")
    await wang.sends_text("1")
    number = re.search(r"(DC-\d{4}-\d{6})", wang.sees("Submitted")).group(1)
    li = kit.staff_member("LiWangGe")
    await li.sends_text(f"绑定 {await code_for(kit, 'chen', 'li')}")
    for step in ("1", "2"):  # accept, then resolve
        await li.sends_text(step)
    await li.sends_photo(5)
    await li.sends_text("清理了")
    await wang.sends_text("2")  # not fixed
    wang.sees("What is still wrong")
    await wang.sends_text("还是有垃圾")  # typed words are the reason
    wang.sees("Sent back")
    async with kit.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.state == CaseState.REOPENED
    told = await kit.told(kit.world.people["li"].id, "case.reopened")
    assert "还是有垃圾" in told[-1].text and "1. ✅ 受理" in told[-1].text


async def test_binding_with_a_code_from_telegram_refuses_wrong_expired_and_reused_codes(kit):
    wang_tg = kit.world.people["zhao"]  # registered on Telegram; asks for a code (/bind)
    async with kit.db.uow() as uow:
        code = (await issue_bind_code(uow, Actor(wang_tg.id, await roles_of(uow, wang_tg)), kit.clock.now())).code
        await uow.commit()
    phone = kit.resident("o-zhao")
    wrong = "000000" if code != "000000" else "111111"
    await phone.sends_text(f"绑定 {wrong}")
    phone.sees("这个绑定码不对")
    await phone.sends_text(f"绑定 {code}")
    phone.sees("绑定成功。您好，赵大爷")
    assert (await kit.person_of(phone)).id == wang_tg.id
    other = kit.resident("o-someone-else")
    await other.sends_text(f"绑定 {code}")
    other.sees("已经用过了")
    # a code lives ten minutes
    async with kit.db.uow() as uow:
        chen = kit.world.people["chen"]
        late = (await issue_bind_code(uow, Actor(chen.id, await roles_of(uow, chen)), kit.clock.now())).code
        await uow.commit()
    kit.clock.advance(minutes=11)
    await other.sends_text(f"绑定 {late}")
    other.sees("已过期")
    # five wrong codes within the hour, and even the right one is refused
    async with kit.db.uow() as uow:
        fresh = (await issue_bind_code(uow, Actor(chen.id, await roles_of(uow, chen)), kit.clock.now())).code
        await uow.commit()
    guesser = kit.resident("o-guesser")
    for guess in ("123455", "123456", "123457", "123458", "123459"):
        if guess != fresh:
            await guesser.sends_text(f"绑定 {guess}")
    await guesser.sends_text(f"绑定 {fresh}")
    guesser.sees("错误次数太多")
    async with kit.db.uow() as uow:
        bound = await uow.conn.execute(select(func.count()).select_from(tables.events).where(
            tables.events.c.kind == "account_bound"))
    assert bound.scalar_one() == 1  # every bind is an event; refusals bound nobody


async def test_bad_input_gets_a_polite_answer_and_keeps_the_dialog(kit):
    wang = kit.resident("o-wang")
    await register(kit, wang)
    await wang.clicks("REPORT")
    await wang.sends_text("我要反映问题")  # text where a photo is expected
    wang.sees("这里需要一张照片")
    kit.media.failing.add("broken")
    await wang._send(kind="image", media_id="broken", msg_id="m-broken")
    wang.sees("照片没有收到，请再发一次")
    await wang.sends_photo(1)
    await wang.sends_text("1")
    await wang.sends_text("42")  # no such category
    wang.sees("没有这个选项，请回复 1–10 之间的数字")
    await wang.sends_text("3")  # parking
    await wang.sends_text("2")  # another building
    wang.sees("东城花园 A栋")
    await wang.sends_location(40.0, 116.0)  # far away: no building near, the step stays
    wang.sees("附近 300 米内没有找到登记的楼栋")
    await wang.sends_location(32.7080, 116.7150)  # at A栋
    wang.sees("东城花园 A栋（")
    await wang.sends_text("1")
    await wang.sends_text("1")  # skip the words
    wang.sees("🚗 乱停车")
    wang.sees("东城社区 东城花园 A栋")
    # a stale menu: half an hour later the dialog has gone, politely
    kit.clock.advance(minutes=31)
    await wang.sends_text("1")
    wang.sees("上一步已超时")
    async with kit.db.uow() as uow:
        assert await uow.cases.by_number("DC-2026-000001") is None
    await wang.sends_text("0")
    wang.sees("当前没有进行中的操作")


async def test_a_stale_or_forged_number_is_refused_by_core(kit):
    wang = kit.resident("o-wang")
    await register(kit, wang)
    await wang.clicks("REPORT")
    number = await report_lights(kit, wang)
    li = kit.staff_member("LiWangGe")
    await li.sends_text(f"绑定 {await code_for(kit, 'chen', 'li')}")
    await li.sends_text("1")  # accept
    await li.sends_text("2")
    await li.sends_photo(9)
    await li.sends_text("修好了")
    # a forged menu: zhao (not the reporter) has "1" mean "fixed" on wang's case
    zhao = kit.resident("o-zhao")
    await zhao.sends_text(f"绑定 {await code_for(kit, 'chen', 'zhao')}")
    async with kit.db.uow() as uow:
        await SqlWeChatDialogs(uow.conn).put("wechat", "o-zhao", "menu", {
            "menu": [["fixed", number]], "menu_at": kit.clock.now().isoformat()}, kit.clock.now())
        await uow.commit()
    await zhao.sends_text("1")
    zhao.sees(f"这个问题（{number}）不是您负责的")
    # a stale number: the grid member's old menu ("1. 上传处理中照片") once the case is resolved
    async with kit.db.uow() as uow:
        await SqlWeChatDialogs(uow.conn).put("wecom", "LiWangGe", "menu", {
            "menu": [["during", number], ["resolve", number]], "menu_at": kit.clock.now().isoformat()},
            kit.clock.now())
        await uow.commit()
    await li.sends_text("2")
    li.sees("现在是「待您确认」状态")
    async with kit.db.uow() as uow:
        assert (await uow.cases.by_number(number)).state == CaseState.RESOLVED


async def test_menu_words_and_clicks_reach_the_same_entries(kit):
    wang = kit.resident("o-wang")
    await register(kit, wang)
    await wang.clicks("MY_REPORTS")
    wang.sees("您还没有反映过问题")
    await wang.clicks("POINTS")
    wang.sees("东城社区：您有 0 积分")
    await wang.clicks("POSTS")
    wang.sees("服务岗位只对在本社区报到的党员开放")
    await wang.sends_text("帮助")
    wang.sees("随手拍 — 拍照反映问题")
    number = await report_lights(kit, wang)
    await wang.sends_text("我的上报")
    wang.sees(f"1. {number} · 已派给网格员")
    await wang.sends_text("1")
    wang.sees("上报问题")  # the case's story


async def resolve_on_wecom(kit, photo: int = 9) -> None:
    li = kit.staff_member("LiWangGe")
    await li.sends_text(f"绑定 {await code_for(kit, 'chen', 'li')}")
    await li.sends_text("1")  # accept
    await li.sends_text("2")  # resolve
    await li.sends_photo(photo)
    await li.sends_text("修好了")
    li.sees("等待居民确认")
    li.sees("企业微信不能发送位置")  # no location step on WeCom: resolved, flagged to staff (issue #20)


async def test_a_case_closed_by_silence_is_sent_back_from_its_notification(kit):
    from core import cases_services

    wang = kit.resident("o-wang")
    await register(kit, wang)
    number = await report_lights(kit, wang)
    await resolve_on_wecom(kit)
    async with kit.db.uow() as uow:
        resolved = await uow.cases.by_number(number)
    assert resolved.on_site is False and resolved.proof_reason == "wecom"
    kit.clock.advance(days=4)  # three days without an answer: closed as fixed
    async with kit.db.uow() as uow:
        await cases_services.sweep(uow, kit.policy, kit.clock.now())
        await uow.commit()
    told = await kit.told((await kit.person_of(wang)).id, "case.auto_closed_for_resident")
    assert "1. 🔁 还没解决" in told[-1].text
    await wang.sends_text("1")
    wang.sees(f"已把 {number} 交回原处理人返工")
    async with kit.db.uow() as uow:
        assert (await uow.cases.by_number(number)).state == CaseState.REOPENED
    await wang.sends_text("1")  # answered already: nothing waits now
    wang.sees("现在没有等您回复的选项")


async def test_a_resident_orders_a_service_on_wechat(kit):
    wang = kit.resident("o-wang")
    await register(kit, wang)
    await wang.clicks("ORDER")
    wang.sees("您需要什么帮助？")
    await wang.sends_text("2")  # 📦 搬运物品
    wang.sees("不说明请回复 1 跳过")
    await wang.sends_text("搬一台冰箱到五楼")
    wang.sees("1. 尽快")
    await wang.sends_text("周六上午")
    wang.sees("1. 🏠 我家（粮食局小区 3号楼）")
    await wang.sends_text("1")
    wang.sees("📝 搬一台冰箱到五楼")
    await wang.sends_text("1")
    wang.sees("已提交，编号 DC-FW-2026-000001")
    async with kit.db.uow() as uow:
        order = await uow.volunteering.order("DC-FW-2026-000001")
    assert (order.preferred_time, order.place) == ("周六上午", "粮食局小区 3号楼")


async def test_a_party_member_claims_a_post_and_reads_her_points(kit):
    from datetime import timedelta

    from core.volunteering import posts_services

    dc = kit.world.communities["东城社区"]
    async with kit.db.uow() as uow:
        sun = await add_person(uow, kit.world, "sun", "孙党员", RoleGrant(None, 0, Role.PARTY_MEMBER,
                                                                      community_id=dc.id))
        chen = kit.world.people["chen"]
        start = kit.clock.now() + timedelta(days=2)
        await posts_services.create_post(uow, kit.conversation.volunteer_policy,
                                         Actor(chen.id, await roles_of(uow, chen)), dc.id, kit.clock.now(),
                                         title="政策宣讲", starts_at=start, ends_at=start + timedelta(hours=2),
                                         place="社区中心", capacity=1, points_per_person=10)
        await uow.commit()
    phone = kit.resident("o-sun")
    async with kit.db.uow() as uow:
        code = (await issue_bind_code(uow, Actor(sun.id, await roles_of(uow, sun)), kit.clock.now())).code
        await uow.commit()
    await phone.sends_text(f"绑定 {code}")
    told = await kit.told(sun.id, "post.new")
    assert "回复「志愿任务」" in told[-1].text
    await phone.clicks("POSTS")
    phone.sees("1. 政策宣讲 · 11月25日 10:00 · 已接 0/1")
    await phone.sends_text("1")
    phone.sees("接单成功")
    phone.sees("📍 社区中心")
    await phone.clicks("POINTS")
    phone.sees("东城社区：您有 0 积分")


async def test_staff_assign_a_case_from_the_desk_on_wecom(kit):
    wang = kit.resident("o-wang")
    await register(kit, wang)
    await wang.clicks("REPORT")
    await wang.sends_photo(1)
    await wang.sends_text("1")
    await wang.sends_text("1")
    await wang.sends_text("2")  # another building
    await wang.sends_text("5")  # 东城花园 A栋: its grid has no member, so the case waits on the desk
    await wang.sends_text("1")
    await wang.sends_text("1")
    number = re.search(r"(DC-\d{4}-\d{6})", wang.sees("已提交")).group(1)
    chen = kit.staff_member("ChenShuJi")
    await chen.sends_text(f"绑定 {await code_for(kit, 'chen', 'chen')}")
    told = await kit.told(kit.world.people["chen"].id, "case.on_desk")
    assert "回复「工作台」" in told[-1].text
    await chen.clicks("DESK")
    chen.sees(f"1. {number} · 待分派")
    await chen.sends_text("1")
    chen.sees("上报问题")
    chen.sees("1. 👤 指派给 粮食局小区 粮食局第一网格 · 李网格")
    async with kit.db.uow() as uow:
        assert any(e.kind == "viewed" for e in await uow.events.of("case", number))  # PIPL: who looked
    await chen.sends_text("1")
    chen.sees(f"已指派 {number}")
    told = await kit.told(kit.world.people["li"].id, "case.new_for_handler")
    assert number in told[-1].text and "1. ✅ 受理" in told[-1].text


async def test_photos_sent_together_all_land_in_the_report(kit):
    import asyncio

    wang = kit.resident("o-wang")
    await register(kit, wang)
    await wang.clicks("REPORT")
    others = [kit.resident("o-wang") for _ in range(3)]  # three deliveries of the same account, at once
    await asyncio.gather(*(user.sends_photo(seed) for user, seed in zip(others, (11, 12, 13))))
    await wang.sends_text("1")
    await wang.sends_text("1")
    await wang.sends_text("1")
    await wang.sends_text("1")
    wang.sees("📷 照片 3 张")


async def test_staff_on_wecom_give_a_grid_member_his_code(kit):
    chen = kit.staff_member("ChenShuJi")
    await chen.sends_text(f"绑定 {await code_for(kit, 'chen', 'chen')}")
    await chen.sends_text("绑定码 李")
    code = re.search(r"李网格 的绑定码：(\d{6})", chen.sees("李网格 的绑定码")).group(1)
    li = kit.staff_member("LiWangGe")
    await li.sends_text(f"绑定 {code}")
    li.sees("您好，李网格")
    stranger = kit.resident("o-stranger")
    await stranger.sends_text("绑定码 李")  # not staff: refused by core
    stranger.sees("没有权限")


async def test_a_shared_location_in_gcj02_lands_on_the_right_building(kit):
    wang = kit.resident("o-wang")
    await wang.sends_text("你好")
    wang.sees("欢迎使用")
    await wang.sends_location(32.7056, 116.7108)  # at 3号楼 (WGS84), sent by WeChat ~500 m off in GCJ-02
    wang.sees("离您最近的是：东城社区 粮食局小区 3号楼（约 0 米）")
    await wang.sends_text("1")
    wang.sees("登记成功：东城社区 粮食局小区 3号楼")


async def test_the_composition_root_builds_the_conversation_from_the_settings(db, tmp_path):
    from redgrid.bootstrap import wechat_conversation, wechat_renderer
    from redgrid.settings import Settings
    from tests.wechat_kit import FakeMedia

    settings = Settings(_env_file=None, data_dir=tmp_path, default_language="en")
    clock = type("Fixed", (), {"now": lambda self: MONDAY})()
    conversation = wechat_conversation(db, settings, clock, FakeMedia())
    assert conversation.default_language == "en" and conversation.max_m == settings.nearest_building_max_m
    assert wechat_renderer(settings, clock).reopen_within_days == settings.reopen_within_days


async def test_a_neighbour_joins_as_same_problem_and_gives_feedback_that_closes_nothing(kit):
    wang = kit.resident("o-wang")
    await register(kit, wang)
    number = await report_lights(kit, wang)
    zhao = kit.resident("o-zhao")  # 赵大爷, registered at 2号楼 on Telegram, binds his WeChat
    async with kit.db.uow() as uow:
        person = kit.world.people["zhao"]
        code = (await issue_bind_code(uow, Actor(person.id, await roles_of(uow, person)), kit.clock.now())).code
        await uow.commit()
    await zhao.sends_text(f"绑定 {code}")
    await zhao.sends_photo(21)
    await zhao.sends_text("1")
    await zhao.sends_text("5")  # lights
    await zhao.sends_text("1")  # his building, 2号楼, next door
    await zhao.sends_text("1")  # no words
    zhao.sees(f"3. 同一个问题：{number}")
    await zhao.sends_text("3")
    zhao.sees(f"已加入 {number}")
    await resolve_on_wecom(kit)
    told = await kit.told(person.id, "case.resolved")
    assert "您也反映过的问题" in told[-1].text and "1. 👍 已解决" in told[-1].text
    await zhao.sends_text("1")
    await zhao.sends_text("4")
    zhao.sees("谢谢您的反馈")
    async with kit.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.state == CaseState.RESOLVED  # his answer is feedback; 王阿姨 still confirms


async def _row_counts(db) -> dict[str, int]:
    async with db.engine.connect() as conn:
        return {name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                for name, table in tables.metadata.tables.items()}


async def test_a_newcomer_reads_the_privacy_notice_first_and_no_keeps_nothing_yes_keeps_the_agreement(kit):
    """PIPL on WeChat as on Telegram: the notice before anything; ✖ (2) stores nothing; ✅ (1) records the
    agreement and registration begins; a precise location is asked for once, separately, and not used."""
    newcomer = kit.resident("o-new", agreed=False)
    before = await _row_counts(kit.db)
    await newcomer.sends_text("你好")
    newcomer.sees("个人信息说明")
    assert "1. ✅ 同意" in newcomer.text and "/mydata" not in newcomer.text  # WeChat's words, not Telegram's
    await newcomer.sends_photo(7)
    newcomer.sees("个人信息说明")  # whatever comes first, the notice answers it
    await newcomer.sends_text("2")
    newcomer.sees("没有保存您的任何信息")
    assert await _row_counts(kit.db) == before and await kit.person_of(newcomer) is None

    await newcomer.sends_text("1")
    newcomer.sees("欢迎使用")
    person = await kit.person_of(newcomer)
    assert person is not None and person.notice_version == 1
    async with kit.db.uow() as uow:
        assert [c.purpose.value for c in await uow.consents.of(person.id)] == ["notice"]

    await newcomer.sends_location(32.7056, 116.7108)
    newcomer.sees("位置属于敏感个人信息")  # the first location is not used: asked first
    await newcomer.sends_text("同意位置")
    newcomer.sees("已同意")
    await newcomer.sends_location(32.7056, 116.7108)
    assert "位置属于敏感个人信息" not in newcomer.text  # asked once
    async with kit.db.uow() as uow:
        assert [c.purpose.value for c in await uow.consents.of(person.id)] == ["notice", "location"]
    await newcomer.sends_text("隐私")
    newcomer.sees("您的同意记录")


async def test_a_voice_message_at_the_words_step_is_answered_politely_and_the_dialog_goes_on(kit):
    """WeChat sends AMR voices (MsgType voice, MediaId, Format amr): not kept yet, said so politely; the
    report waits at its words step. WeChat's own transcript (Recognition), when it sends one, is the words."""
    wang = kit.resident("o-wang")
    await register(kit, wang)
    await wang.sends_photo(1)
    await wang.sends_text("1")
    await wang.sends_text("5")
    await wang.sends_text("1")
    wang.sees("不描述请回复 1 跳过")
    await wang._send(kind="voice", media_id="voice-1", msg_id="v-1")
    wang.sees("微信里暂时还不能发语音留言")
    await wang._send(kind="voice", media_id="voice-2", text="三楼楼道灯坏了", msg_id="v-2")
    wang.sees("📝 三楼楼道灯坏了")
    await wang.sends_text("1")
    wang.sees("已提交")
