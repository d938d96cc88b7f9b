"""Check-out with the same photo as check-in (#21): refused, but the dialog stays in the step, so the
member's next photo checks them out instead of starting a 随手拍 report."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.test_report_loop_e2e import jpeg
from tests.e2e.test_volunteering_e2e import POST_STARTS, staff_make_a_post


async def test_check_out_with_the_check_in_photo_asks_again_and_the_next_photo_checks_out(demo):
    chen, he = demo.persona("陈书记"), demo.persona("何敏")
    await chen.sends_text("/newpost")
    post = await staff_make_a_post(chen, people="1")
    await he.sees(post, timeout=10)
    await he.presses("🙋 接单")
    await he.sees("接单成功")
    demo.clock.set(POST_STARTS + timedelta(minutes=20))
    await he.sends_text("/mytasks")
    await he.presses("📍 签到")
    await he.sees("请拍一张现场照片")
    await he.sends_photo(jpeg("teal"))
    await he.sees("签到成功")
    demo.clock.set(POST_STARTS + timedelta(hours=2))
    answer = await he.presses("🏁 签退")
    assert not answer.show_alert, answer.text
    await he.sees("请拍一张服务完成的照片")
    await he.sends_photo(jpeg("teal"))  # the very photo of the check-in
    await he.sees("签退照片不能和签到照片相同")
    await he.sends_photo(jpeg("purple"))
    out = await he.sees("签退成功")
    assert post in out.text
    assert not any("已收到 1 张照片" in m.text for m in he.messages)  # no 随手拍 was started
    await demo.settled()
