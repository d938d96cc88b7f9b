"""`redgrid webhook`'s web server, in process: Telegram's webhook beside /healthz and /metrics on one
aiohttp server; a request without the right secret gets 401 and nothing is recorded; LOG_FORMAT=json
writes one JSON object per line with ids and never a name, a phone number or what someone wrote."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from datetime import datetime, timezone

import aiohttp
from aiogram import Bot
from sqlalchemy import func, select

from core.clock import ManualClock
from redgrid.bootstrap import build_dispatcher, serving_web, webhook_server
from redgrid.settings import Settings
from redgrid.webhook import JsonLogFormatter, LOG_CONTEXT
from storage.tables import inbox
from tests.botkit import RecordingSession

SECRET = "s3cret-Token_1"


def settings_for(tmp_path, **more) -> Settings:
    return Settings(_env_file=None, bot_token="4242:TEST", data_dir=tmp_path / "data", dashboard_enabled=False,
                    open311_enabled=False, webhook_url="https://bot.example.org/tg/hook", webhook_secret=SECRET,
                    **more)


def start_update(update_id: int, user_id: int = 7001, text: str = "/start") -> dict:
    user = {"id": user_id, "is_bot": False, "first_name": "王秀兰", "language_code": "zh-hans"}
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(datetime.now(timezone.utc).timestamp()), "text": text,
        "chat": {"id": user_id, "type": "private", "first_name": "王秀兰"}, "from": user}}


@contextlib.asynccontextmanager
async def served(db, settings: Settings, now):
    session = RecordingSession()
    bot = Bot(settings.bot_token, session=session)
    dp = build_dispatcher(db, settings, ManualClock(now))
    app, metrics = webhook_server(db, bot, dp, settings, ManualClock(now))
    async with serving_web(app, "127.0.0.1", 0) as base:
        async with aiohttp.ClientSession() as client:
            yield base, client, session


async def inbox_rows(db) -> int:
    async with db.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(inbox))).scalar_one()


async def test_a_wrong_or_missing_secret_gets_401_and_nothing_is_recorded(db, now, tmp_path):
    async with served(db, settings_for(tmp_path), now) as (base, client, session):
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                        {"X-Telegram-Bot-Api-Secret-Token": SECRET + "x"}):
            async with client.post(f"{base}/tg/hook", json=start_update(1), headers=headers) as response:
                assert response.status == 401
        assert await inbox_rows(db) == 0
        assert not session.chats  # nobody was answered

        async with client.post(f"{base}/tg/hook", json=start_update(2),
                               headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
            assert response.status == 200
        # answered only once handled: the row is there, handled, and the person got the privacy notice
        async with db.engine.connect() as conn:
            state = (await conn.execute(select(inbox.c.state).where(inbox.c.update_id == 2))).scalar_one()
        assert state == "handled"
        assert session.chats.get(7001)


async def test_healthz_and_metrics_on_the_same_server(db, now, tmp_path):
    async with served(db, settings_for(tmp_path), now) as (base, client, _):
        async with client.get(f"{base}/healthz") as response:
            assert response.status == 200
            assert await response.json() == {"database": "ok"}
        async with client.post(f"{base}/tg/hook", json=start_update(5),
                               headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
            assert response.status == 200
        async with client.get(f"{base}/metrics") as response:
            assert response.status == 200
            body = await response.text()
    assert 'redgrid_updates_handled_total{outcome="handled"} 1.0' in body
    assert "redgrid_handler_seconds_count 1.0" in body
    for name in ("redgrid_outbox_backlog", "redgrid_cases", "redgrid_deliveries", "redgrid_flood_waits_total"):
        assert name in body


async def test_healthz_names_what_is_unreachable(db, now, tmp_path):
    settings = settings_for(tmp_path, redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    async with served(db, settings, now) as (base, client, _):
        async with client.get(f"{base}/healthz") as response:
            assert response.status == 503
            checks = await response.json()
    assert checks["database"] == "ok"
    assert checks["redis"].startswith("unreachable")


def test_json_lines_carry_ids_and_mask_a_phone():
    record = logging.LogRecord("redgrid", logging.WARNING, __file__, 1, "person %s called from %s", (12, "13812345678"),
                               None)
    token = LOG_CONTEXT.set({"update": 99, "case": "DC-2026-000003"})
    try:
        line = JsonLogFormatter().format(record)
    finally:
        LOG_CONTEXT.reset(token)
    entry = json.loads(line)
    assert entry["update"] == 99 and entry["case"] == "DC-2026-000003"
    assert "13812345678" not in line and entry["msg"] == "person 12 called from [phone]"
    try:
        raise ValueError("王秀兰 13812345678 楼道灯坏了")
    except ValueError:
        import sys

        record = logging.LogRecord("redgrid", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonLogFormatter().format(record)
    assert json.loads(line)["error"] == "ValueError"
    assert "王秀兰" not in line and "楼道灯" not in line


async def test_json_logs_hold_no_names_phones_or_words(db, now, tmp_path):
    """Updates through the webhook, every logger at DEBUG, as JSON lines: a name, a phone number and
    words a resident typed never reach the log."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    words = "我的电话13812345678，3号楼楼道灯坏了好几天"
    try:
        async with served(db, settings_for(tmp_path), now) as (base, client, session):
            for n, text in enumerate(["/start", words, "/help", words], start=20):
                async with client.post(f"{base}/tg/hook", json=start_update(n, text=text),
                                       headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as response:
                    assert response.status == 200
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert session.chats.get(7001)  # the bot did answer
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(e.get("update") == 21 for e in entries)
    text = stream.getvalue()
    for secret in ("王秀兰", "13812345678", "楼道灯", "3号楼"):
        assert secret not in text, f"{secret!r} leaked into the logs"


async def test_webhook_without_its_url_or_secret_says_which(tmp_path):
    import pytest

    from redgrid import commands

    for missing, words in (({"webhook_url": ""}, "WEBHOOK_URL"), ({"webhook_secret": ""}, "WEBHOOK_SECRET")):
        settings = settings_for(tmp_path).model_copy(update=missing)
        with pytest.raises(commands.CommandFailed, match=words):
            await commands.webhook(settings)
