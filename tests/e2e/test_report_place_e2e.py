"""The place step of a report: the resident's own building in one press, another place with the
location keyboard, which goes away again once a building is chosen."""

from __future__ import annotations

from tests.e2e.test_report_loop_e2e import jpeg


async def to_the_place_question(resident) -> int:
    await resident.sends_photo(jpeg("teal"))
    await resident.sees("已收到 1 张照片")
    await resident.presses("下一步")
    await resident.sees("这是什么问题")
    await resident.presses("💡 路灯/楼道灯")
    await resident.sees("问题在哪里")
    return len(resident.messages)


async def test_own_building_needs_no_location_keyboard_and_the_dialog_stays_one_card(demo):
    wang = demo.persona("王阿姨")
    before = await to_the_place_question(wang)
    assert wang.reply_keyboard == []  # her building is one press away: no location keyboard
    await wang.presses("我的楼栋（粮食局小区 3号楼）")
    words = await wang.sees("几句话")
    assert "问题在哪里？ 东城社区 粮食局小区 3号楼" in words.text  # the answer stays above the next question
    assert len(wang.messages) == before  # the question replaced the buttons in the same message
    await wang.presses("跳过")
    summary = await wang.sees("请确认")
    assert "东城社区 粮食局小区 3号楼" in summary.text


async def test_another_place_offers_the_location_keyboard_and_takes_it_away(demo):
    wang = demo.persona("王阿姨")
    await to_the_place_question(wang)
    await wang.presses("其他楼栋")
    await wang.sees("最近的楼栋")
    assert wang.reply_keyboard == ["📍 发送我的位置"]
    await wang.presses("东城花园 2号楼")
    await wang.sees("几句话")
    assert wang.reply_keyboard == []


async def test_cancelling_at_another_place_takes_the_location_keyboard_away(demo):
    wang = demo.persona("王阿姨")
    await to_the_place_question(wang)
    await wang.presses("其他楼栋")
    await wang.sees("最近的楼栋")
    assert wang.reply_keyboard
    await wang.presses("✖ 取消")
    await wang.sees("已取消")
    assert wang.reply_keyboard == []
