"""Staff keep the community's theme-day activities in the chat (/themes), through the real bot and
the stand-in on every test database: 陈书记 sees the two seeded activities, adds one (a bad number
typed first) which gets November's post at once because the 14th's job has run, retires one; a
resident and a party member forging the retire button are refused and change nothing."""

from __future__ import annotations

from datetime import date

from redgrid.bootstrap import volunteer_policy
from bot.callbacks import Theme
from core import theme_day_services
from core.theme_day import JobKind, job_key

NOVEMBER_THEME_DAY = date(2026, 11, 28)   # a Saturday: the activities start at 09:00


async def active_templates(demo) -> dict[str, object]:
    await demo.settled()  # the reply comes before the commit
    async with demo.db.uow() as uow:
        (community,) = [c for c in await uow.places.communities() if c.code == "DC"]
        return {t.title: t for t in await uow.volunteering.templates(community.id)}


async def test_staff_list_add_and_retire_theme_day_activities(demo):
    chen = demo.persona("陈书记")
    await chen.sends_text("/themes")
    title = await chen.sees("主题党日活动（每月28日），共 2 个")
    talk_card = await chen.sees("政策宣讲进社区")
    clean_card = await chen.sees("环境整治义务清扫")
    await chen.sees("当月岗位会马上生成")
    assert "东城社区" in title.text
    assert "🕘 工作日 18:30 · 休息日 09:00" in talk_card.text and "⏱ 1.5 小时" in talk_card.text
    assert "仅白天" in clean_card.text and "👥 8 人 · ⭐ 每人 10 分" in clean_card.text
    assert clean_card.buttons == ["🗑 停用"]

    # November's create job (the 14th) has run by now (the 23rd): make sure, and check it did
    async with demo.db.uow() as uow:
        (community,) = [c for c in await uow.places.communities() if c.code == "DC"]
    await theme_day_services.run_theme_day_jobs(demo.db, volunteer_policy(demo.stack.settings), demo.clock.now())
    async with demo.db.uow() as uow:
        done = await uow.volunteering.done_keys("theme:2026-11:")
        posts_before = list(await uow.volunteering.theme_posts(community.id, NOVEMBER_THEME_DAY))
    assert f"{job_key(2026, 11, JobKind.CREATE)}:c{community.id}" in done

    await chen.presses("➕ 新增活动")
    await chen.sees("活动名称？")
    await chen.sends_text("走访慰问空巢老人")
    kinds = await chen.sees("活动类型？")
    assert "👵 走访慰问" in kinds.buttons and "📢 政策宣讲" in kinds.buttons
    await chen.sends_text("随便")  # typed instead of pressed: asked again
    await chen.sees("请点按钮选择")
    await chen.presses("👵 走访慰问")
    await chen.sees("在哪里举行")
    await chen.sends_text("粮食局小区 3号楼")
    await chen.sees("需要几个人")
    await chen.sends_text("很多")
    await chen.sees("请写一个 1 到 500 之间的数字")
    await chen.sends_text("600")
    await chen.sees("请写一个 1 到 500 之间的数字")
    await chen.sends_text("6")
    await chen.sees("每人多少积分")
    await chen.presses("10")
    await chen.sees("大约几个小时")
    await chen.presses("2")
    workday = await chen.sees("下班后几点开始")
    assert workday.buttons[:2] == ["18:30", "19:00"] and "☀ 仅白天，工作日不举行" in workday.buttons
    await chen.sends_text("晚上")
    await chen.sees("没看懂这个时间")
    await chen.presses("19:00")
    summary = await chen.sees("请确认主题党日活动")
    assert "👵 走访慰问" in summary.text and "👥 6 人 · ⭐ 每人 10 分 · ⏱ 2 小时" in summary.text
    assert "工作日 19:00 · 休息日 09:00" in summary.text
    await chen.presses("✅ 保存活动")
    saved = await chen.sees("已保存「走访慰问空巢老人」")
    assert "11月28日 的岗位已生成：DC-GW-2026-" in saved.text

    templates = await active_templates(demo)
    assert sorted(templates) == ["政策宣讲进社区", "环境整治义务清扫", "走访慰问空巢老人"]
    visit = templates["走访慰问空巢老人"]
    assert (visit.capacity, visit.points_per_person, visit.workday_starts.isoformat()) == (6, 10, "19:00:00")
    async with demo.db.uow() as uow:
        posts = list(await uow.volunteering.theme_posts(community.id, NOVEMBER_THEME_DAY))
    [made] = [p for p in posts if p.template_id == visit.id]
    assert len(posts) == len(posts_before) + 1 and made.number in saved.text
    assert made.starts_at.hour == 1  # 09:00 in Beijing on a Saturday

    await chen.sends_text("/themes")
    await chen.sees("共 3 个")
    assert "走访慰问空巢老人" in (await chen.sees("粮食局小区 3号楼")).text

    # retire the clean-up: from its old card, asked first
    standin = demo.stack.standin
    await chen.sends_text("/help")
    query = standin.user_presses_button(chen.user_id, clean_card.message_id, clean_card.button_data("🗑 停用"))
    await standin.wait_callback_answer(query)
    ask = await chen.sees("停用「环境整治义务清扫」？")
    assert ask.buttons == ["✅ 确认停用", "↩ 保留"]
    await chen.presses("✅ 确认停用")
    await chen.sees("已停用「环境整治义务清扫」")
    assert sorted(await active_templates(demo)) == ["政策宣讲进社区", "走访慰问空巢老人"]
    await chen.sends_text("/themes")
    listed = await chen.sees("共 2 个")
    await chen.sees("当月岗位会马上生成")
    shown = " ".join(m.text for m in chen.messages if m.message_id >= listed.message_id)
    assert "政策宣讲进社区" in shown and "走访慰问空巢老人" in shown and "环境整治义务清扫" not in shown
    # the old 🗑 pressed again says so and changes nothing
    query = standin.user_presses_button(chen.user_id, clean_card.message_id, clean_card.button_data("🗑 停用"))
    answer = await standin.wait_callback_answer(query)
    assert answer.show_alert and "已经停用了" in answer.text


async def test_a_resident_or_party_member_forging_retire_is_refused_and_nothing_changes(demo):
    before = await active_templates(demo)
    talk = before["政策宣讲进社区"]
    standin = demo.stack.standin
    for name in ("王阿姨", "刘建国"):  # a resident; a registered party member
        someone = demo.persona(name)
        await someone.sends_text("/help")
        some = (await someone.sees("您可以")).message_id
        for action in ("retire", "retire_yes"):
            query = standin.user_presses_button(someone.user_id, some, Theme(action=action, ref=talk.id).pack(),
                                                forged=True)
            answer = await standin.wait_callback_answer(query)
            assert answer.show_alert and "没有权限" in answer.text, (name, action)
        query = standin.user_presses_button(someone.user_id, some, Theme(action="add", ref=talk.community_id).pack(),
                                            forged=True)
        assert "没有权限" in (await standin.wait_callback_answer(query)).text
        await someone.sends_text("/themes")
        await someone.sees("没有权限")
    after = await active_templates(demo)  # settled: the refusals were answered before their rollbacks
    assert sorted(after) == sorted(before) and after["政策宣讲进社区"].active
    async with demo.db.uow() as uow:
        kinds = [e.kind for e in await uow.events.of("theme_template", str(talk.id))]
    assert kinds == ["theme_template_defined"]
