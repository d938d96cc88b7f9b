"""A command typed in the middle of a dialog is not taken as the step's answer."""

from __future__ import annotations

from tests.e2e.test_report_loop_e2e import jpeg


async def test_a_command_inside_the_report_dialog_keeps_the_step(demo):
    wang = demo.persona("王阿姨")
    await wang.sends_photo(jpeg("olive"))
    await wang.sees("已收到 1 张照片")
    await wang.presses("下一步")
    await wang.presses("💡 路灯/楼道灯")
    await wang.presses("我的楼栋（粮食局小区 3号楼）")
    await wang.sees("几句话")
    await wang.sends_text("/points")
    hint = await wang.sees("/cancel")
    assert "/points" in hint.text and "还在填写" in hint.text
    await wang.sends_text("楼道灯不亮")  # the step is still the words step
    summary = await wang.sees("请确认")
    assert "楼道灯不亮" in summary.text and "/points" not in summary.text


async def test_outside_a_dialog_commands_work_as_usual(demo):
    wang = demo.persona("王阿姨")
    await wang.sends_text("/points")
    reply = await wang.next_message()
    assert "还在填写" not in reply.text
