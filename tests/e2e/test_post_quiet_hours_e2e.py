"""Staff who publish a post in the quiet hours are told when the members will hear of it, not that
they already have."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.e2e.test_volunteering_e2e import staff_make_a_post

# 2026-11-23 05:37 in Beijing: inside the quiet hours (22:00–07:00)
EARLY_MORNING = datetime(2026, 11, 22, 21, 37, tzinfo=timezone.utc)


async def test_a_post_published_at_dawn_says_the_members_are_told_at_seven(demo):
    demo.clock.set(EARLY_MORNING)
    chen = demo.persona("陈书记")
    await chen.sends_text("/newpost")
    await staff_make_a_post(chen)
    published = await chen.sees("已发布岗位")
    assert "已通知" not in published.text and "11月23日 07:00" in published.text, published.text


async def test_a_post_published_in_the_day_says_the_members_are_told(demo):
    chen = demo.persona("陈书记")  # Monday 17:30 in Beijing
    await chen.sends_text("/newpost")
    await staff_make_a_post(chen)
    published = await chen.sees("已发布岗位")
    assert "已通知本社区报到的党员" in published.text
