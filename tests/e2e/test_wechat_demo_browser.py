"""The demo's "微信" page in Chromium: a newcomer on the Official Account agrees, registers and reports a
broken light with a photo, through the real signed, encrypted callback URL; replies come from the
passive answers and the WeChat stand-in's record of customer-service messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.app import demo_webchat
from demo.wechat_chat import WECHAT_PERSONAS, WeChatChat
from tests.e2e.test_report_loop_e2e import jpeg
from tests.e2e.screenshots import screenshot


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the browser part is the same on both databases
async def test_a_wechat_resident_reports_in_the_browser(db, demo_with_wechat, browser, tmp_path: Path):
    from playwright.async_api import expect

    demo, phones = demo_with_wechat
    webchat = demo_webchat(db, demo.stack.standin, demo.personas, demo.stack.settings, map_center=(32.7065, 116.7125))
    WeChatChat(phones, map_center=(32.7065, 116.7125)).add_to(webchat.app)
    url = await webchat.start(port=0)
    liu = WECHAT_PERSONAS[0]
    try:
        page = await browser.new_page(viewport={"width": 1000, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(url)
        await page.click("#wechat-tab")  # from the Telegram chat to the WeChat one
        await page.click(f".persona[data-openid='{liu['openid']}']")
        account = page.locator(".row.account .bubble")

        async def answer(asked: str, option: str) -> None:
            """Click the numbered line `option` of the newest message that says `asked`."""
            message = account.filter(has_text=asked).last
            await message.locator(".option", has_text=option).first.click()

        await expect(account.filter(has_text="个人信息说明")).to_have_count(1, timeout=10000)
        await page.fill("#text-input", "1")  # typed, as on a phone
        await page.press("#text-input", "Enter")
        await answer("请选择您所在的小区", "粮食局小区")
        await answer("请选择您的楼栋", "3号楼")
        await expect(account.filter(has_text="登记成功")).to_have_count(1, timeout=10000)

        await page.click("#menu button[data-key='REPORT']")
        await expect(account.filter(has_text="照片")).not_to_have_count(0, timeout=10000)
        await page.set_input_files("#photo-input", [{"name": "light.jpg", "mimeType": "image/jpeg",
                                                     "buffer": jpeg("navy")}])
        await expect(account.filter(has_text="已收到 1 张照片")).to_have_count(1, timeout=10000)
        await page.fill("#text-input", "1")  # 下一步
        await page.press("#text-input", "Enter")
        await answer("这是什么问题", "路灯/楼道灯")
        await answer("问题在哪里", "我的楼栋")
        await expect(account.filter(has_text="不描述请回复 1 跳过")).to_have_count(1, timeout=10000)
        await page.fill("#text-input", "三楼楼道灯坏了")
        await page.press("#text-input", "Enter")
        await answer("三楼楼道灯坏了", "确认提交")
        submitted = account.filter(has_text="已提交，编号").last
        await expect(submitted).to_have_count(1, timeout=10000)
        number = (await submitted.inner_text()).split("编号 ")[1].split("。")[0]
        sent_photo = page.locator(".row.me .bubble.photo img")
        await expect(sent_photo).to_have_count(1)
        await page.evaluate("document.querySelector('.row.me .bubble.photo').scrollIntoView({block: 'start'})")
        await screenshot(page, tmp_path, "demo-wechat.png")
        assert errors == []
    finally:
        await webchat.stop()
    async with db.uow() as uow:
        case = await uow.cases.by_number(number)
        reporter = await uow.people.by_identity("wechat", liu["openid"])
    assert case is not None and case.reporter_id == reporter.id and len(case.photos) == 1
