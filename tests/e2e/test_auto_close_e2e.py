"""Auto-close after the resident's silence (#21): the resident is told, not only the grid member,
with the wait from CONFIRM_WAIT_DAYS."""

from __future__ import annotations

from datetime import timedelta

from redgrid.bootstrap import report_policy
from scheduler.sla import sweep_reports
from tests.e2e.test_card_note_e2e import story_of
from tests.e2e.test_report_loop_e2e import li_accepts_and_resolves, wang_reports_a_broken_light


async def test_a_fix_the_resident_never_answers_is_closed_and_the_resident_is_told(demo):
    wang, number = await wang_reports_a_broken_light(demo)
    li, _ = await li_accepts_and_resolves(demo, number)
    await wang.sees("问题解决了吗", timeout=10)
    await demo.settled()
    demo.clock.set(demo.clock.now() + timedelta(days=3, minutes=1))
    counts = await sweep_reports(demo.db, report_policy(demo.stack.settings), demo.clock)  # the minute's job
    assert counts["auto_closed"] == 1
    told = await wang.sees("已按已解决办结", timeout=10)
    assert told.text == (f"您反映的问题 {number} 处理完成后 3 天未收到您的确认，已按已解决办结。"
                         "如果问题还在，7 天内可按「🔁 还没解决」交回原处理人返工，或重新拍照反映（/report）。")
    assert told.buttons == ["🔁 还没解决"]
    handler = await li.sees(f"{number} 居民 3 天未回复", timeout=10)
    assert "已按已解决办结" in handler.text


async def test_the_resident_sends_an_auto_closed_case_back_within_the_days_and_its_handler_reworks_it(demo):
    wang, number = await wang_reports_a_broken_light(demo)
    li, _ = await li_accepts_and_resolves(demo, number)
    await wang.sees("问题解决了吗", timeout=10)
    await demo.settled()
    demo.clock.set(demo.clock.now() + timedelta(days=3, minutes=1))
    await sweep_reports(demo.db, report_policy(demo.stack.settings), demo.clock)
    await wang.sees("已按已解决办结", timeout=10)
    demo.clock.set(demo.clock.now() + timedelta(days=2))  # two days later the light is out again
    await wang.presses("🔁 还没解决")
    await wang.sees(f"已把 {number} 交回原处理人返工")
    rework = await li.sees(f"居民认为 {number} 还没解决", timeout=10)
    assert "✅ 受理" in rework.buttons
    await demo.settled()
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.state.value == "reopened" and case.rework_count == 1 and case.closed_at is None
    story = await story_of(wang, number)
    assert "自动办结后居民反映没解决，退回返工" in story.text
