"""The demo as a person uses it: a newcomer registers as a resident in the web chat, in Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core.onboarding import roles_of
from core.people import Role
from demo.webchat import WebChat
from demo.seed import NEWCOMER


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the browser part is the same on both databases
async def test_newcomer_onboards_in_the_browser(db, demo, browser, tmp_path: Path):
    from playwright.async_api import expect

    webchat = WebChat(demo.stack.standin, [p.as_dict() for p in demo.personas], map_center=(32.7065, 116.7125))
    url = await webchat.start(port=0)
    try:
        page = await browser.new_page(viewport={"width": 1100, "height": 760})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(url)
        await page.click(f".persona[data-user-id='{NEWCOMER.user_id}']")
        await page.fill("#composer-input", "/start")
        await page.press("#composer-input", "Enter")
        picker = page.locator(".msg.bot", has_text="请选择您所在的小区").last
        await picker.locator(".inline-btn", has_text="粮食局小区").click()
        buildings = page.locator(".msg.bot", has_text="请选择您的楼栋").last
        await buildings.locator(".inline-btn", has_text="3号楼").click()
        await expect(page.locator(".msg.bot", has_text="登记成功")).to_have_count(1, timeout=5000)
        shot = tmp_path / "demo-onboarding.png"
        await page.screenshot(path=str(shot))
        assert shot.stat().st_size > 20_000
        if os.environ.get("REDGRID_SCREENSHOT_DIR"):  # how the README's screenshot is made
            shutil.copy(shot, Path(os.environ["REDGRID_SCREENSHOT_DIR"]) / shot.name)
        assert errors == []
    finally:
        await webchat.stop()
    async with db.uow() as uow:
        person = await uow.people.by_identity("telegram", str(NEWCOMER.user_id))
        roles = await roles_of(uow, person)
    assert roles.has(Role.RESIDENT)
