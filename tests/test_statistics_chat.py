"""`/stats` in chat: staff read the month's figures (the dashboard's overview) in their language."""

from __future__ import annotations

import pytest

from core.clock import ManualClock
from core.people import Identity
from redgrid.bootstrap import build_dispatcher
from redgrid.settings import Settings
from tests.botkit import ChatHarness
from tests.test_statistics import NOW, month_of_work  # noqa: F401  (fixture)


@pytest.fixture
async def chat(month_of_work):
    w = month_of_work
    dp = build_dispatcher(w.db, Settings(_env_file=None, bot_token="4242:TEST"), ManualClock(NOW))
    harness = ChatHarness(dp)
    yield harness, w
    await harness.bot.session.close()


async def as_tester(harness, world, key, language="zh-hans"):
    tester = harness.person(world.people[key].display_name, language)
    async with world.db.uow() as uow:
        await uow.people.add_identity(Identity(None, world.people[key].id, "telegram", str(tester.id), str(tester.id)))
        await uow.commit()
    return tester


async def test_staff_read_a_months_figures_and_this_months_by_default(chat):
    harness, w = chat
    chen = await as_tester(harness, w, "chen")
    await chen.sends_text("/stats 2026-11")
    got = await chen.sees("📊 东城社区 · 2026-11")
    for line in ("收到问题（件）：8", "办结（件）：5", "一次性办结率：80.0%", "按时办结率：80.0%",
                 "办结用时中位数（小时）：48.0", "90% 办结用时（小时）：211.2", "返工（次）：2", "吹哨上报部门（次）：1",
                 "满意率（4–5星）：50.0%", "平均评分（星）：3.50", "目前未办结（件）：2", "其中已超时（件）：1",
                 "服务时长（小时）：4.5", "主题党日参加（人）：2", "发放积分：18", "兑换积分：8"):
        assert line in got.text, line
    await chen.sends_text("/stats")  # "now" is 1 December: nothing yet, but the open cases
    december = await chen.sees("2026-12")
    assert "收到问题（件）：0" in december.text and "目前未办结（件）：2" in december.text


async def test_a_bad_month_is_explained_and_a_resident_is_refused(chat):
    harness, w = chat
    chen = await as_tester(harness, w, "chen", language="en")
    await chen.sends_text("/stats November")
    await chen.sees("/stats 2026-11 (year-month)")
    await chen.sends_text("/stats 2026-13")
    await chen.sees("year-month")
    wang = await as_tester(harness, w, "wang")
    await wang.sends_text("/stats")
    await wang.sees("没有权限")


async def test_dashboard_gives_staff_a_one_time_link_and_nobody_else(chat):
    harness, w = chat
    chen = await as_tester(harness, w, "chen")
    await chen.sends_text("/dashboard")
    got = await chen.sees("📊 统计看板：http://127.0.0.1:8081/dashboard/login?t=")
    assert "10 分钟内有效" in got.text
    from core.sign_in import token_hash
    from sqlalchemy import select
    from storage.tables import sign_in_links

    token = got.text.split("?t=")[1].split()[0]
    async with w.db.engine.connect() as conn:
        rows = list(await conn.execute(select(sign_in_links)))
    assert [(r.token_hash, r.person_id) for r in rows] == [(token_hash(token), w.people["chen"].id)]  # only its hash
    wang = await as_tester(harness, w, "wang")
    await wang.sends_text("/dashboard")
    await wang.sees("没有权限")
