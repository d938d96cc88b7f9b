"""Dialog state in Redis survives a process: what one bot process stored, another one reads.

This is what lets several bot processes share the work (REDIS_URL); without it dialogs live in memory.
"""

from __future__ import annotations

import os
import uuid

from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

from bot.app import dialog_storage
from redgrid.settings import Settings
from tests.conftest import service_missing

REDIS_URL = os.environ.get("REDGRID_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def _redis_or_skip():
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        service_missing(f"Redis at {REDIS_URL}", exc)
    finally:
        await client.aclose()


def test_memory_storage_without_redis_url():
    assert isinstance(dialog_storage(Settings(_env_file=None, redis_url="")), MemoryStorage)


async def test_two_processes_share_dialog_state_through_redis():
    await _redis_or_skip()
    settings = Settings(_env_file=None, redis_url=REDIS_URL)
    first, second = dialog_storage(settings), dialog_storage(settings)
    key = StorageKey(bot_id=4242, chat_id=int(uuid.uuid4().int % 10**9), user_id=1)
    try:
        await first.set_state(key, "ReportScene:category")
        await first.set_data(key, {"photos": ["abc"], "building": 3})
        assert await second.get_state(key) == "ReportScene:category"
        assert await second.get_data(key) == {"photos": ["abc"], "building": 3}
        await second.set_state(key, None)
        assert await first.get_state(key) is None
    finally:
        await first.close()
        await second.close()
