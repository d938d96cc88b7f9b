"""Auto-close after the resident's silence (#21): the resident is told, not only the grid member,
with the wait from CONFIRM_WAIT_DAYS."""

from __future__ import annotations

from datetime import timedelta

from redgrid.bootstrap import report_policy
from scheduler.sla import sweep_reports
from tests.e2e.test_report_loop_e2e import jpeg, wang_reports_a_broken_light


async def test_a_fix_the_resident_never_answers_is_closed_and_the_resident_is_told(demo):
    wang, number = await wang_reports_a_broken_light(demo)
    li = demo.persona("李秀英")
    await li.sees(number, timeout=10)
    await li.presses("✅ 受理")
    await li.presses("✅ 已处理，上传完成照片")
    await li.sends_photo(jpeg("yellow"))
    await li.sends_text("换了新灯泡")
    await wang.sees("问题解决了吗", timeout=10)
    await demo.settled()
    demo.clock.set(demo.clock.now() + timedelta(days=3, minutes=1))
    counts = await sweep_reports(demo.db, report_policy(demo.stack.settings), demo.clock)  # the minute's job
    assert counts["auto_closed"] == 1
    told = await wang.sees("已按已解决办结", timeout=10)
    assert told.text == (f"您反映的问题 {number} 处理完成后 3 天未收到您的确认，已按已解决办结。"
                         "如果问题还在，请重新拍照反映（/report）。")
    handler = await li.sees(f"{number} 居民 3 天未回复", timeout=10)
    assert "已按已解决办结" in handler.text
