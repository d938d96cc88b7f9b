"""A party member who presses 📍 签到 days before the post is told at once when check-in opens,
and is not asked for a photo that would be refused."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.e2e.test_volunteering_e2e import staff_make_a_post

# 2026-11-27 08:40 in Beijing: ten minutes into the check-in window of a post starting at 09:00
IN_THE_WINDOW = datetime(2026, 11, 27, 0, 40, tzinfo=timezone.utc)


async def test_a_check_in_three_days_early_is_refused_at_the_press_before_any_photo(demo):
    chen = demo.persona("陈书记")
    await chen.sends_text("/newpost")
    post = await staff_make_a_post(chen, people="1", when="11-27 09:00")  # it is Monday 11-23 now
    liu = demo.persona("刘建国")
    await liu.sees(post, timeout=10, anywhere=True)
    await liu.presses("🙋 接单")
    await liu.sees("接单成功")
    await liu.sends_text("/mytasks")
    await liu.sees(post)
    answer = await liu.presses("📍 签到")
    assert answer.show_alert and "还没到签到时间" in answer.text and "11月27日 08:30" in answer.text, answer.text
    await liu.receives_nothing()  # no "请拍一张现场照片"
    await demo.settled()

    demo.clock.set(IN_THE_WINDOW)
    await liu.presses("📍 签到")
    await liu.sees("请拍一张现场照片")
