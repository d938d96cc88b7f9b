"""A voice note through the real bot and the stand-in: the resident speaks the words of her report, the
bot downloads it (getFile), the grid member receives it as a voice message (sendVoice, uploaded)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_report_loop_e2e import jpeg, submits

SAMPLE = (Path(__file__).resolve().parents[2] / "samples" / "voice_sample.ogg").read_bytes()


async def test_a_spoken_report_reaches_the_grid_member_as_a_voice_message(demo):
    wang = demo.persona("王阿姨")
    await wang.sends_photo(jpeg("navy"))
    await wang.sees("已收到 1 张照片")
    await wang.sends_voice(SAMPLE, 3)  # too early: a photo step
    await wang.sees("语音请在后面")
    await wang.presses("下一步")
    await wang.presses("💡 路灯/楼道灯")
    await wang.presses("我的楼栋（粮食局小区 3号楼）")
    await wang.sees("说一段语音")
    await wang.sends_voice(SAMPLE, 240)
    await wang.sees("语音太长了")
    await wang.sends_voice(SAMPLE, 3)
    assert "🎤 0:03" in (await wang.sees("请确认")).text
    number = await submits(wang)
    li = demo.persona("李秀英")
    await li.sees(number, timeout=10, anywhere=True)
    voice = await li.sees(f"🎤 {number}", timeout=10, anywhere=True)
    assert voice.voice is not None and voice.voice["duration"] == 3
    assert demo.stack.standin.file_bytes(voice.voice["file_id"]) == SAMPLE  # as she sent it
