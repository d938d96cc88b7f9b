"""Telegram's limits kept in Redis for several processes (scheduler/shared_pacer.py): two pacers, as two
workers would hold, share one budget, one chat's spacing and one pause."""

from __future__ import annotations

import asyncio

import pytest

from scheduler.shared_pacer import RedisPacer
from tests.redis_kit import REDIS_URL, redis_prefix


async def blocked(awaitable, within: float = 0.4) -> bool:
    """The call is still waiting after `within` seconds (it is cancelled then)."""
    task = asyncio.ensure_future(awaitable)
    try:
        await asyncio.wait_for(asyncio.shield(task), within)
    except TimeoutError:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return True
    return False


@pytest.fixture
async def two():
    async with redis_prefix() as prefix:
        first, second = (RedisPacer(REDIS_URL, rate=3, per_chat_rate=1, prefix=f"{prefix}:pace") for _ in range(2))
        yield first, second
        for pacer in (first, second):
            await pacer.close()


async def test_two_processes_share_one_budget(two):
    first, second = two
    slots = [await first.acquire() for _ in range(3)]  # the whole budget, in flight in the first process
    assert await blocked(second.acquire())  # the second process sees it spent
    first.release(slots[0])
    slot = await asyncio.wait_for(second.acquire(), 10)  # a second after that send, it may go
    second.release(slot)
    for s in slots[1:]:
        first.release(s)


async def test_one_chat_gets_one_send_at_a_time_across_processes(two):
    first, second = two
    slot = await first.acquire("42")
    assert await blocked(second.acquire("42"))
    other = await asyncio.wait_for(second.acquire("43"), 5)  # another chat is not held up
    second.release(other)
    first.release(slot)
    slot = await asyncio.wait_for(second.acquire("42"), 10)  # one interval after the first send
    second.release(slot)


async def test_a_429_in_one_process_pauses_the_other(two):
    first, second = two
    first.pause(30)
    await asyncio.sleep(0.1)  # the pause reaches Redis (it is shared in the background)
    assert await blocked(second.acquire())


async def test_redis_away_the_process_paces_alone():
    pacer = RedisPacer("redis://127.0.0.1:1/0", rate=30)  # nothing listens on port 1
    slot = await asyncio.wait_for(pacer.acquire("7"), 10)
    assert slot.local is not None
    pacer.release(slot)
    await pacer.redis.aclose()
