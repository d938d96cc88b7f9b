"""A bot talking to a Bot API server of our own over plain HTTP (the demo's stand-in) closes its
session without aiogram's 250 ms wait for TLS connections; over HTTPS the wait stays."""

from __future__ import annotations

import asyncio

import pytest

from bot.api_session import BotApiSession
from demo.harness import running_standin, standin_bot


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Every asyncio.sleep awaited while the test runs (aiogram's close awaits `asyncio.sleep`)."""
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded(delay, *args, **kwargs):
        slept.append(delay)
        return await real_sleep(0 if delay == 0.25 else delay, *args, **kwargs)

    monkeypatch.setattr(asyncio, "sleep", recorded)
    return slept


async def test_a_plain_http_session_closes_at_once_and_is_closed(sleeps):
    async with running_standin() as standin:
        bot = standin_bot(standin.base_url)
        assert (await bot.get_me()).is_bot
        client = await bot.session.create_session()
        sleeps.clear()
        await bot.session.close()
    assert client.closed
    assert 0.25 not in sleeps, sleeps


async def test_an_https_session_keeps_the_tls_grace(sleeps):
    session = BotApiSession("https://bot-api.example.org")
    client = await session.create_session()
    await session.close()
    assert client.closed and 0.25 in sleeps
