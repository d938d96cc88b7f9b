"""Staff send an urgent notice to the community: every resident gets it once; the sender watches it go."""

from __future__ import annotations


async def test_staff_notice_reaches_every_resident_with_progress_and_summary(demo):
    chen = demo.persona("陈书记")
    await chen.sends_text("/notice 明天上午 9 点到 12 点停水，请提前储水。")
    confirm = await chen.sees("将把这条通知发给 东城社区 的 3 位居民")
    assert "停水" in confirm.text
    await chen.presses("📢 发送")
    for name in ("王阿姨", "李大爷", "张女士"):
        resident = demo.persona(name)
        notice = await resident.sees("东城社区通知", timeout=10, anywhere=True)
        assert "停水" in notice.text
        assert demo.stack.standin.duplicate_texts(resident.user_id) == {}
    summary = await chen.sees("已发送完毕", timeout=20, anywhere=True)
    assert "共 3，成功 3" in summary.text


async def test_residents_cannot_send_notices(demo):
    wang = demo.persona("王阿姨")
    await wang.sends_text("/notice 大家好")
    await wang.sees("没有权限")
