"""The dashboard as staff use it, in Debian's Chromium: /dashboard in the chat gives a one-time link, the
link signs in, the overview shows the seeded months with charts, a case shows its photos, and the month's
Excel downloads with the overview's totals. Screenshots: docs/dashboard-*.png (REDGRID_SCREENSHOT_DIR)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from demo.seed import seed_history
from redgrid.bootstrap import serving_web, web_app
from tests.e2e.screenshots import keep


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the browser part is the same on both databases
async def test_staff_sign_in_with_the_chat_link_and_read_the_month(db, demo, browser, tmp_path: Path):
    from playwright.async_api import expect

    settings = demo.stack.settings
    made = await seed_history(db, demo.clock.now(), settings.data_dir, days=42)
    assert made > 20
    chen = demo.persona("陈书记")
    await chen.sends_text("/dashboard")
    link = re.search(r"(https?://\S+/dashboard/login\?t=\S+)", (await chen.sees("统计看板")).text).group(1)
    async with serving_web(web_app(db, settings, demo.clock), "127.0.0.1", 0) as base:
        url = base + "/dashboard" + link.split("/dashboard", 1)[1]  # the link, on this test's port
        page = await browser.new_page(viewport={"width": 420, "height": 900}, accept_downloads=True)  # a phone
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(url)
        await page.click("#enter")
        await expect(page.locator("h1")).to_contain_text("东城社区")
        await page.goto(f"{base}/dashboard/?month=2026-11")
        received = await page.locator('[data-figure="received"] b').inner_text()
        assert int(received) > 10
        await expect(page.locator("#chart-weeks svg")).to_have_count(1)
        shot = tmp_path / "dashboard-overview.png"
        await page.set_viewport_size({"width": 1100, "height": 1750})  # the figures and the first charts
        await page.screenshot(path=str(shot))
        keep(shot)
        # a case: its three photos and its history
        await page.goto(f"{base}/dashboard/cases?month=2026-11")
        closed = page.locator("tr", has_text="已办结").filter(has_text="★★★★★")
        await closed.locator("a[href^='/dashboard/cases/DC-']").first.click()
        await expect(page.locator("section", has_text="办理经过")).to_contain_text("上报问题")
        await expect(page.locator(".photos img")).to_have_count(2)  # before and after (no during-photo)
        assert await page.locator(".photos img").first.evaluate("img => img.naturalWidth") > 0
        shot = tmp_path / "dashboard-case.png"
        await page.screenshot(path=str(shot), full_page=True)
        keep(shot)
        # the month's Excel, with the overview's totals
        await page.goto(f"{base}/dashboard/?month=2026-11")
        async with page.expect_download() as download_info:
            await page.click("text=导出月报 Excel")
        download = await download_info.value
        book = load_workbook(io.BytesIO(Path(await download.path()).read_bytes()))
        written = {row[1]: row[2] for row in book["汇总"].iter_rows(min_row=5, values_only=True)}
        assert written["收到问题（件）"] == int(received)
        assert len(list(book["问题清单"].iter_rows())) - 1 == int(received)
        assert errors == []
