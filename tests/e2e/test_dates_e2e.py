"""Dates people read carry the year when it is not this year: a deadline over New Year."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.e2e.test_report_loop_e2e import wang_reports_a_broken_light


async def test_a_deadline_in_next_year_shows_its_year_to_the_resident_and_the_grid_member(demo):
    demo.clock.set(datetime(2026, 12, 30, 2, 0, tzinfo=timezone.utc))  # Wednesday 10:00 in Beijing
    wang, number = await wang_reports_a_broken_light(demo)
    await demo.settled()
    async with demo.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.deadline.year == 2027
    submitted = await wang.sees("已提交，编号", anywhere=True)
    assert "最迟 2027年1月" in submitted.text, submitted.text
    li = demo.persona("李秀英")
    told = await li.sees(number, timeout=10, anywhere=True)
    assert "请在 2027年1月" in told.text, told.text
    await wang.sends_text("/my")
    listing = await wang.sees("您反映的问题")
    await wang.presses(next(label for label in listing.buttons if number in label))
    story = await wang.sees("上报问题")
    assert "12月30日 10:00" in story.text and "2026年" not in story.text  # this year: no year
