"""A chat's Redis lock that lapsed while its update was handled (a starved machine) does not fail the
update after its commit (bot/serial.py): under two webhook workers that failure was a 500 and a second
delivery of an update already handled."""

from __future__ import annotations

from aiogram.fsm.storage.base import StorageKey

from bot.serial import dialog_isolation
from tests.redis_kit import REDIS_URL, redis_or_skip


async def test_a_lapsed_lock_is_released_without_an_error():
    await redis_or_skip()
    isolation = dialog_isolation(REDIS_URL)
    key = StorageKey(bot_id=1, chat_id=987654321, user_id=987654321)
    try:
        async with isolation.lock(key):
            await isolation.redis.delete(*[k async for k in isolation.redis.scan_iter(match="*987654321*lock*")])
        # and an error inside still comes out as itself
        try:
            async with isolation.lock(key):
                await isolation.redis.delete(*[k async for k in isolation.redis.scan_iter(match="*987654321*lock*")])
                raise KeyError("inside")
        except KeyError as exc:
            assert exc.args == ("inside",)
        else:
            raise AssertionError("the error inside was swallowed")
    finally:
        await isolation.close()
