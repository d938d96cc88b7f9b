"""The web chat: its JSON/SSE API, then the page in a real browser with the test echo bot.

The browser is the system Chromium driven by Playwright; nothing downloads a browser.
Without /usr/bin/chromium the browser test is skipped locally and fails in CI (CI=true),
where the machine must provide it. The API tests need no browser and always run.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from demo.standin import BotApiStandIn
from demo.webchat import WebChat

pytestmark = pytest.mark.asyncio

PERSONAS = [
    {"user_id": 1001, "name": "王阿姨", "role_label": "居民", "language_code": "zh-hans"},
    {"user_id": 1002, "name": "李网格员", "role_label": "网格员", "language_code": "zh-hans"},
]


@pytest_asyncio.fixture
async def webchat(standin: BotApiStandIn, echo_bot) -> AsyncIterator[WebChat]:
    chat = WebChat(standin, PERSONAS, map_center=(32.7, 116.7),
                   map_points=[{"label": "3号楼", "latitude": 32.702, "longitude": 116.698}])
    await chat.start(port=0)
    yield chat
    await chat.stop()


async def test_chatting_in_the_browser(browser, webchat: WebChat, standin: BotApiStandIn,
                                       echo_bot, make_jpeg, tmp_path: Path):
    from playwright.async_api import expect

    page = await browser.new_page(viewport={"width": 1100, "height": 760})
    console_errors: list[str] = []
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    await page.goto(webchat.url)

    # Pick a persona: her (empty) chat opens.
    await page.click(".persona[data-user-id='1001']")
    await expect(page.locator("#chat-name")).to_have_text("王阿姨 · 居民")

    # Type a message; the bot's reply appears live, HTML stripped into bold text.
    await page.fill("#composer-input", "楼道灯坏了")
    await page.press("#composer-input", "Enter")
    await expect(page.locator(".msg.user .bubble").last).to_have_text("楼道灯坏了")
    reply = page.locator(".msg.bot").last
    await expect(reply.locator(".bubble")).to_have_text("您说：楼道灯坏了", timeout=5000)
    await expect(reply.locator(".bubble b")).to_have_text("您说")

    # Press the inline button: the answer comes as an alert, the message is edited in place.
    await reply.locator(".inline-btn", has_text="确认").click()
    await expect(page.locator("#alert-text")).to_have_text("已确认")
    await page.click("#alert-ok")
    await expect(reply.locator(".bubble")).to_have_text("您说：楼道灯坏了（已确认）")
    await expect(reply.locator(".meta")).to_contain_text("已编辑")
    await expect(reply.locator(".inline-btn")).to_have_count(0)

    # /start with a choice: a plain callback answer shows as a toast.
    await page.fill("#composer-input", "/start")
    await page.click("#send-button")
    greeting = page.locator(".msg.bot", has_text="欢迎！")
    await greeting.locator(".inline-btn", has_text="东城社区").click()
    await expect(page.locator("#toast")).to_have_text("您选择了东城社区")
    await expect(page.locator(".msg.bot", has_text="已选择：东城社区")).to_have_count(1)
    chosen = next(m for m in standin.bot_messages(1001) if m.text == "已选择：东城社区")
    await echo_bot.delete_message(1001, chosen.message_id)  # deleted messages vanish live
    await expect(page.locator(".msg.bot", has_text="已选择：东城社区")).to_have_count(0)

    # Two pictures become one album; the bot answers each with a photo.
    await page.set_input_files("#photo-input", [
        {"name": "a.jpg", "mimeType": "image/jpeg", "buffer": make_jpeg(640, 480, "orange")},
        {"name": "b.jpg", "mimeType": "image/jpeg", "buffer": make_jpeg(480, 640, "teal")},
    ])
    await expect(page.locator(".msg.user .album img.photo")).to_have_count(2)
    await expect(page.locator(".msg.bot img.photo")).to_have_count(2, timeout=5000)
    albums = {m["media_group_id"] for m in (s.data for s in standin.messages(1001))
              if "photo" in m and "media_group_id" in m}
    assert len(albums) == 1

    # A file that is not a picture goes as a document.
    await page.set_input_files("#file-input", [
        {"name": "坏文件.heic", "mimeType": "image/heic", "buffer": b"not really an image"}])
    await expect(page.locator(".msg.user .doc")).to_contain_text("坏文件.heic")
    await expect(page.locator(".msg.bot", has_text="收到文件 坏文件.heic")).to_have_count(1)

    # Share a location by clicking the picker.
    await page.click("#attach-button")
    await page.click("#pick-location")
    await page.click("#map-canvas", position={"x": 200, "y": 100})
    latitude = float(await page.input_value("#lat-input"))
    assert 32.69 < latitude < 32.71
    await page.click("#map-send")
    await expect(page.locator(".msg.bot", has_text="位置：32.7")).to_have_count(1)

    # A message for another persona marks them unread without disturbing this chat.
    await echo_bot.send_message(1002, "李网格员，您有新的工单")
    await expect(page.locator(".persona[data-user-id='1002'] .badge")).to_have_text("1")

    desktop = tmp_path / "webchat-desktop.png"
    await page.screenshot(path=str(desktop))
    assert desktop.stat().st_size > 20_000

    # Phone width: the chat fills the screen and "返回" leads back to the list.
    await page.set_viewport_size({"width": 390, "height": 844})
    await expect(page.locator("#people")).to_be_hidden()
    phone = tmp_path / "webchat-phone.png"
    await page.screenshot(path=str(phone))
    assert phone.stat().st_size > 10_000
    await page.click("#back-button")
    await expect(page.locator(".persona[data-user-id='1002']")).to_be_visible()

    assert console_errors == []
    await page.close()


# --------------------------------------------------------------------------- without a browser


async def _next_event(stream: aiohttp.ClientResponse, **expected: object) -> dict:
    """The next Server-Sent Event whose fields include `expected`."""
    while True:
        line = (await asyncio.wait_for(stream.content.readline(), 5)).decode().strip()
        if line.startswith("data: "):
            event = json.loads(line.removeprefix("data: "))
            if all(event.get(k) == v for k, v in expected.items()):
                return event


async def test_webchat_api_sends_as_the_persona_and_streams_events(
        webchat: WebChat, standin: BotApiStandIn, make_jpeg):
    base = webchat.url
    async with aiohttp.ClientSession() as http:
        personas = await (await http.get(f"{base}api/personas")).json()
        assert [p["name"] for p in personas] == ["王阿姨", "李网格员"]
        page = await (await http.get(base)).text()
        assert "红网格" in page and "static/app.js" in page

        async with http.get(f"{base}api/events") as stream:
            assert (await stream.content.readline()).startswith(b"retry:")
            await http.post(f"{base}api/chats/1001/text", json={"text": "你好"})
            mine = await _next_event(stream, kind="message")
            assert mine["message"]["from_bot"] is False and mine["message"]["text"] == "你好"
            reply = await _next_event(stream, kind="message")
            assert reply["message"]["from_bot"] and reply["message"]["text"] == "您说：你好"
            assert reply["message"]["inline_keyboard"][0][0]["callback_data"] == "confirm"

            pressed = await http.post(f"{base}api/chats/1001/press",
                                      json={"message_id": reply["message"]["message_id"],
                                            "data": "confirm"})
            assert "query_id" in await pressed.json()
            answer = await _next_event(stream, kind="callback_answer")
            assert answer["answer"] == {"text": "已确认", "show_alert": True, "url": None,
                                        "message_id": reply["message"]["message_id"]}

        # Pictures go as photos (two as one album), other files as documents.
        form = aiohttp.FormData()
        form.add_field("file", make_jpeg(color="red"), filename="a.jpg")
        form.add_field("file", b"plain text", filename="note.txt")
        form.add_field("file", make_jpeg(color="blue"), filename="b.jpg")
        form.add_field("caption", "楼道照片")
        sent = await (await http.post(f"{base}api/chats/1002/files", data=form)).json()
        kinds = [standin.message(1002, mid).kind for mid in sent["sent"]]
        assert kinds == ["photo", "photo", "document"]
        first, second, note = (standin.message(1002, mid).data for mid in sent["sent"])
        assert first["media_group_id"] == second["media_group_id"]
        assert first["caption"] == "楼道照片" and note["document"]["file_name"] == "note.txt"

        chat = await (await http.get(f"{base}api/chats/1002/messages")).json()
        photo_url = chat["messages"][0]["photo"]["url"]
        picture = await (await http.get(f"{base}{photo_url}")).read()
        assert picture == make_jpeg(color="red")

        bad = await http.post(f"{base}api/chats/1002/location", json={"latitude": "北"})
        assert bad.status == 400 and "纬度" in (await bad.json())["error"]
        stale = await http.post(f"{base}api/chats/1002/press", json={"message_id": 999,
                                                                     "data": "x"})
        assert stale.status == 409 and (await stale.json())["error"] == "这个按钮已失效，请使用最新消息里的按钮。"
        missing = await http.get(f"{base}api/chats/4242/messages")
        assert missing.status == 404


# --------------------------------------------------------------------------- pictures


async def _rendered_vs_natural(image) -> tuple[float, float]:
    """(rendered width/height, natural width/height) of a loaded <img>."""
    await image.evaluate("img => img.decode()")
    box = await image.evaluate(
        "img => [img.getBoundingClientRect().width, img.getBoundingClientRect().height,"
        " img.naturalWidth, img.naturalHeight]")
    return box[0] / box[1], box[2] / box[3]


@pytest.mark.parametrize("size", [(1600, 636), (480, 640), (300, 1200), (200, 150)],
                         ids=["wide card", "portrait", "very tall", "small"])
async def test_a_picture_keeps_its_shape_in_the_chat(browser, webchat: WebChat, echo_bot, make_jpeg, size):
    """The three-photo card is 1600×636: squeezed into 320×360 it was unreadable."""
    from aiogram.types import BufferedInputFile

    width, height = size
    await echo_bot.send_photo(1001, BufferedInputFile(make_jpeg(width, height, "navy"), "card.jpg"),
                              caption="请看事前、事中、事后照片")
    page = await browser.new_page(viewport={"width": 1100, "height": 760})
    await page.goto(webchat.url)
    await page.click(".persona[data-user-id='1001']")
    image = page.locator(".msg.bot img.photo").last
    rendered, natural = await _rendered_vs_natural(image)
    assert abs(rendered - natural) / natural < 0.02, (rendered, natural)
    assert natural == pytest.approx(width / height, rel=0.02)
    await page.close()


async def test_a_star_on_a_button_is_drawn_in_colour_not_as_an_empty_box(browser, webchat: WebChat, echo_bot):
    """A fresh Debian machine has no emoji font: the ⭐ rating row was five blank buttons.
    CI installs fonts-noto-color-emoji (.ci/run); elsewhere a missing font skips with the fix."""
    import subprocess

    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
    from PIL import Image

    from tests.conftest import service_missing

    fonts = subprocess.run(["fc-list"], capture_output=True, text=True).stdout
    if "Noto Color Emoji" not in fonts:
        service_missing("an emoji font", "fc-list has no Noto Color Emoji",
                        "apt-get install -y fonts-noto-color-emoji")
    await echo_bot.send_message(1001, "请为这次处理打分", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text="⭐", callback_data="rate:1")]]))
    page = await browser.new_page(viewport={"width": 1100, "height": 760})
    await page.goto(webchat.url)
    await page.click(".persona[data-user-id='1001']")
    button = page.locator(".msg.bot .inline-btn", has_text="⭐").last
    shot = Image.open(io.BytesIO(await button.screenshot())).convert("RGB")
    width, height = shot.size
    yellow = sum(1 for x in range(width) for y in range(height)
                 if (lambda r, g, b: r > 200 and g > 140 and b < 110)(*shot.getpixel((x, y))))
    assert yellow > 20, f"the star has {yellow} yellow pixels: drawn as an empty box?"
    await page.close()


# --------------------------------------------------------------------------- as Telegram would


async def test_the_file_button_sends_a_picture_as_a_document(browser, webchat: WebChat, standin: BotApiStandIn,
                                                             make_jpeg):
    """Telegram's "send as file": the picture arrives untouched, as a document, not as a photo."""
    from playwright.async_api import expect

    page = await browser.new_page(viewport={"width": 1100, "height": 760})
    await page.goto(webchat.url)
    await page.click(".persona[data-user-id='1001']")
    await page.click("#attach-button")
    async with page.expect_file_chooser() as chooser:
        await page.click("#pick-file")
    picture = make_jpeg(1200, 900, "green")
    await (await chooser.value).set_files([{"name": "楼道.jpg", "mimeType": "image/jpeg", "buffer": picture}])
    await expect(page.locator(".msg.user .doc")).to_contain_text("楼道.jpg")
    sent = [m for m in standin.messages(1001) if not m.from_bot]
    assert [m.kind for m in sent] == ["document"]
    assert standin.file_bytes(sent[0].data["document"]["file_id"]) == picture
    await expect(page.locator(".msg.bot", has_text="收到文件 楼道.jpg")).to_have_count(1, timeout=5000)
    await page.close()


async def test_a_button_that_is_gone_gets_a_polite_answer(browser, webchat: WebChat, echo_bot):
    """The page still shows a button the bot has removed (its live updates were cut): pressing it
    says in Chinese that the button no longer works, and the chat shows the message as it is now."""
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
    from playwright.async_api import expect

    sent = await echo_bot.send_message(1001, "请确认您的楼栋", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text="3号楼", callback_data="building:3")]]))
    page = await browser.new_page(viewport={"width": 1100, "height": 760})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.route("**/api/events", lambda route: route.abort())  # no live updates: the page goes stale
    await page.goto(webchat.url)
    await page.click(".persona[data-user-id='1001']")
    button = page.locator(".msg.bot .inline-btn", has_text="3号楼")
    await expect(button).to_have_count(1)
    await echo_bot.edit_message_text("请确认您的楼栋（已过期）", chat_id=1001, message_id=sent.message_id)
    await button.click()
    toast = page.locator("#toast")
    await expect(toast).to_contain_text("按钮已失效")
    assert "has no button" not in await toast.inner_text() and "message" not in await toast.inner_text()
    await expect(page.locator(".msg.bot", has_text="已过期")).to_have_count(1)
    await expect(button).to_have_count(0)
    assert errors == []
    await page.close()


async def test_the_label_and_the_menu_follow_the_bot_after_registering(browser, standin: BotApiStandIn, echo_bot):
    """A newcomer registers: the list and the chat header stop saying 未登记, ☰ shows the new commands."""
    from aiogram.types import BotCommand, BotCommandScopeChat
    from playwright.async_api import expect

    labels: dict[int, str] = {}

    async def role_labels(user_ids: list[int]) -> dict[int, str]:
        return {u: labels[u] for u in user_ids if u in labels}

    newcomer = {"user_id": 1399, "name": "新邻居", "role_label": "新用户（未登记）", "language_code": "zh-hans"}
    webchat = WebChat(standin, [newcomer], role_labels=role_labels)
    await webchat.start(port=0)
    try:
        await echo_bot.set_my_commands([BotCommand(command="start", description="开始")])
        page = await browser.new_page(viewport={"width": 1100, "height": 760})
        await page.goto(webchat.url)
        await page.click(".persona[data-user-id='1399']")
        await expect(page.locator("#chat-name")).to_have_text("新邻居 · 新用户（未登记）")
        await page.click("#menu-button")
        await expect(page.locator("#command-list")).not_to_contain_text("/report")
        await page.click("#menu-button")

        labels[1399] = "居民"  # the bot registered her ...
        await echo_bot.set_my_commands([BotCommand(command="start", description="开始"),
                                        BotCommand(command="report", description="随手拍")],
                                       scope=BotCommandScopeChat(chat_id=1399))
        await echo_bot.send_message(1399, "登记成功！")  # ... and said so
        await expect(page.locator("#chat-name")).to_have_text("新邻居 · 居民", timeout=5000)
        await expect(page.locator(".persona[data-user-id='1399'] .role")).to_have_text("居民")
        await page.click("#menu-button")
        await expect(page.locator("#command-list")).to_contain_text("/report")
        await page.close()
    finally:
        await webchat.stop()


async def test_times_are_beijing_time_whatever_the_browser_zone(browser, webchat: WebChat, standin: BotApiStandIn):
    """The bot speaks Beijing time ("截止 18:00"); a browser in New York must not show 05:00 beside it."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from playwright.async_api import expect

    context = await browser.new_context(timezone_id="America/New_York", viewport={"width": 1100, "height": 760})
    page = await context.new_page()
    await page.goto(webchat.url)
    await page.click(".persona[data-user-id='1001']")
    await page.fill("#composer-input", "几点了")
    await page.press("#composer-input", "Enter")
    mine = page.locator(".msg.user").last
    await expect(mine.locator(".bubble")).to_have_text("几点了")
    sent = [m for m in standin.messages(1001) if not m.from_bot][-1]
    beijing = datetime.fromtimestamp(sent.data["date"], ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
    await expect(mine.locator(".meta")).to_have_text(beijing)
    await context.close()


async def test_the_sample_voice_button_sends_a_voice_note_and_the_bots_voice_plays(
        browser, webchat: WebChat, standin: BotApiStandIn, tmp_path):
    """＋ → 🎤 示例语音 sends samples/voice_sample.ogg as a voice (3 s); the echo bot's voice comes back as
    a player with its length."""
    from playwright.async_api import expect

    page = await browser.new_page(viewport={"width": 1100, "height": 760})
    await page.goto(webchat.url)
    await page.click(".persona[data-user-id='1001']")
    await page.click("#attach-button")
    await page.click("#pick-voice")
    await expect(page.locator(".msg.bot", has_text="收到语音 3 秒")).to_have_count(1, timeout=5000)
    sent = [m for m in standin.messages(1001) if not m.from_bot]
    assert [m.kind for m in sent] == ["voice"]
    assert standin.file_bytes(sent[0].data["voice"]["file_id"]).startswith(b"OggS")
    await expect(page.locator(".msg.bot .voice audio")).to_have_count(1)
    await expect(page.locator(".msg.user .voice")).to_contain_text("🎤 0:03")
    duration = await page.locator(".msg.bot .voice audio").evaluate(
        "a => new Promise(r => { a.preload = 'metadata'; a.onloadedmetadata = () => r(a.duration);"
        " a.onerror = () => r(-1); a.load(); })")
    assert duration > 2.5  # Chromium decodes the shipped Ogg Opus and reads its length
    await page.screenshot(path=str(tmp_path / "voice.png"))
    await page.close()
