"""The demo as a person uses it: a newcomer agrees to the privacy notice and registers as a resident in the
web chat, in Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.onboarding import roles_of
from core.people import Role
from demo.app import demo_webchat
from demo.seed import NEWCOMER
from tests.e2e.screenshots import screenshot


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the browser part is the same on both databases
async def test_newcomer_onboards_in_the_browser(db, demo, browser, tmp_path: Path):
    from playwright.async_api import expect

    webchat = demo_webchat(db, demo.stack.standin, demo.personas, demo.stack.settings, map_center=(32.7065, 116.7125))
    url = await webchat.start(port=0)
    try:
        page = await browser.new_page(viewport={"width": 1100, "height": 760})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(url)
        await page.click(f".persona[data-user-id='{NEWCOMER.user_id}']")
        await page.fill("#composer-input", "/start")
        await page.press("#composer-input", "Enter")
        notice = page.locator(".msg.bot", has_text="个人信息说明").last  # nothing kept before she agrees
        await notice.locator(".inline-btn", has_text="同意").first.click()
        picker = page.locator(".msg.bot", has_text="请选择您所在的小区").last
        await picker.locator(".inline-btn", has_text="粮食局小区").click()
        buildings = page.locator(".msg.bot", has_text="请选择您的楼栋").last
        await buildings.locator(".inline-btn", has_text="3号楼").click()
        await expect(page.locator(".msg.bot", has_text="登记成功")).to_have_count(1, timeout=5000)
        # she is a resident now: the list and the header say so, and ☰ offers a resident's commands
        await expect(page.locator("#chat-name")).to_have_text("新邻居 · 居民", timeout=10000)
        await page.click("#menu-button")
        await expect(page.locator("#command-list")).to_contain_text("/report")
        await page.click("#menu-button")
        await screenshot(page, tmp_path, "demo-onboarding.png")
        assert errors == []
    finally:
        await webchat.stop()
    await demo.settled()  # the page shows the reply before the bot commits
    async with db.uow() as uow:
        person = await uow.people.by_identity("telegram", str(NEWCOMER.user_id))
        roles = await roles_of(uow, person)
    assert roles.has(Role.RESIDENT)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_resident_reports_in_the_browser_and_confirms_the_three_photo_card(db, demo, browser, tmp_path: Path):
    from playwright.async_api import expect

    from tests.e2e.test_report_loop_e2e import jpeg

    webchat = demo_webchat(db, demo.stack.standin, demo.personas, demo.stack.settings, map_center=(32.7065, 116.7125))
    url = await webchat.start(port=0)
    try:
        page = await browser.new_page(viewport={"width": 1100, "height": 900})
        await page.goto(url)
        wang = next(p for p in demo.personas if p.name == "王阿姨")
        await page.click(f".persona[data-user-id='{wang.user_id}']")
        await page.set_input_files("#photo-input", [{"name": "light.jpg", "mimeType": "image/jpeg",
                                                     "buffer": jpeg("navy")}])

        async def press(message_text: str, label: str) -> None:
            message = page.locator(".msg.bot", has_text=message_text).last
            await message.locator(".inline-btn", has_text=label).click()

        await press("已收到 1 张照片", "下一步")
        await press("这是什么问题", "路灯/楼道灯")
        await press("问题在哪里", "我的楼栋")
        await press("几句话", "跳过")
        await press("请确认", "确认提交")
        submitted = page.locator(".msg.bot", has_text="已提交，编号").last
        await expect(submitted).to_have_count(1, timeout=5000)
        number = (await submitted.inner_text()).split("编号 ")[1].split("。")[0]

        li = demo.persona("李秀英")  # the grid member works from her phone
        await li.sees(number, timeout=10, anywhere=True)
        await li.presses("✅ 受理")
        await li.presses("✅ 已处理，上传完成照片")
        await li.sends_photo(jpeg("yellow"))
        await li.sends_text("换了新灯泡")
        await li.presses("已离开现场")  # proof on the spot (issue #20): a reason instead of a location

        card = page.locator(".msg.bot", has_text="请看事前、事中、事后照片").last
        await expect(card.locator("img.photo")).to_have_count(1, timeout=10000)
        await card.locator(".inline-btn", has_text="已解决").click()
        await press("请为这次处理打分", "⭐⭐⭐⭐⭐ 5")
        await expect(page.locator(".msg.bot", has_text="谢谢您的评价")).to_have_count(1, timeout=5000)
        await card.scroll_into_view_if_needed()
        await screenshot(page, tmp_path, "demo-report-card.png")
    finally:
        await webchat.stop()
    await demo.settled()  # the page shows the reply before the bot commits
    async with db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.state.value == "closed" and case.rating == 5
