"""Telegram's limits kept in Redis, for several bot processes (`redgrid webhook` workers) at once.

The in-process `Pacer` (scheduler/delivery.py) sees only its own process's sends. With several
workers, each one's replies count against one bot's budget (30 messages a second for the bot, one a
second per chat), so the buckets live in Redis (REDIS_URL) and every process takes its slots there:

* global: a sorted set of slots. Taking one adds a member scored "in flight" (counted until it is
  released, or until `in_flight_ttl` if its process died mid-send); releasing re-scores it with the
  moment the answer came, and it counts for one period after that, as the local pacer counts.
  A slot is granted while fewer than `capacity` members are younger than a period.
* per chat: "busy" while a send to it is in flight, then "next allowed at" one interval after.
* pause: the moment every send may go again (a 429's retry_after), set by whoever met it.

Every decision is one Lua script on Redis's own clock (TIME), so the processes' clocks never meet.
When Redis cannot be reached, the process falls back to its own `Pacer` (with a warning): a Redis
outage slows nobody down to zero, and the leader alone — which sends the outbox — still keeps the
limits locally.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from scheduler.delivery import Pacer

log = logging.getLogger(__name__)

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local capacity, period, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local member, has_chat = ARGV[4], ARGV[5] == '1'
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return paused - now end
if has_chat then
  if redis.call('EXISTS', KEYS[4]) == 1 then return 20 end
  local ready = tonumber(redis.call('GET', KEYS[3]) or '0')
  if ready > now then return ready - now end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
if redis.call('ZCARD', KEYS[1]) >= capacity then
  local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local wait = tonumber(head[2]) + period - now
  if wait > 50 then wait = 50 end
  if wait < 1 then wait = 1 end
  return wait
end
redis.call('ZADD', KEYS[1], now + ttl, member)
redis.call('PEXPIRE', KEYS[1], ttl + period * 2)
if has_chat then redis.call('SET', KEYS[4], member, 'PX', ttl) end
return 0
"""

_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
if ARGV[2] == '1' then
  local interval = tonumber(ARGV[3])
  redis.call('SET', KEYS[2], now + interval, 'PX', interval + 1000)
  if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
end
return now
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > paused then redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]) + 1000) end
return until_ms
"""


class _SharedSlot:
    __slots__ = ("member", "chat", "local")

    def __init__(self, member: str, chat: str | None, local: Any = None) -> None:
        self.member, self.chat, self.local = member, chat, local


class RedisPacer:
    """The `Pacer` interface (acquire, release, pause, chat_ready_at, chat_interval) over Redis."""

    def __init__(self, redis_url: str, rate: float = 30.0, per_chat_rate: float | None = 1.0, *,
                 prefix: str = "pace", in_flight_ttl: float = 30.0, client: Any = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        import redis.asyncio as redis

        self.capacity = max(1, int(rate))
        self.period = self.capacity / rate
        self.chat_interval = 1.0 / per_chat_rate if per_chat_rate else 0.0
        self.redis = client or redis.from_url(redis_url)
        self.prefix = prefix
        self.ttl_ms = int(in_flight_ttl * 1000)
        self.local = Pacer(rate, per_chat_rate)  # when Redis is away
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._release = self.redis.register_script(_RELEASE)
        self._pause = self.redis.register_script(_PAUSE)
        self._chat_next: dict[str, float] = {}  # what this process knows (the delivery worker plans with it)
        self._pauses: set[asyncio.Task[Any]] = set()
        self.granted = 0

    @property
    def paused_until(self) -> float:
        return self.local.paused_until

    def _keys(self, chat: str | None) -> list[str]:
        chat_key = chat or "-"
        return [f"{self.prefix}:window", f"{self.prefix}:paused", f"{self.prefix}:next:{chat_key}",
                f"{self.prefix}:busy:{chat_key}"]

    def chat_ready_at(self, chat: str) -> float:
        return self._chat_next.get(chat, 0.0)

    def pause(self, seconds: float) -> None:
        """Every process pauses (a 429 is the bot's, not the process's); this one at once."""
        self.local.pause(seconds)
        try:
            task = asyncio.get_running_loop().create_task(self._share_pause(seconds))
        except RuntimeError:
            return
        self._pauses.add(task)
        task.add_done_callback(self._pauses.discard)

    async def _share_pause(self, seconds: float) -> None:
        try:
            await self._pause(keys=[f"{self.prefix}:paused"], args=[int(seconds * 1000)])
        except Exception as exc:
            log.warning("could not share a pause of %.1f s through Redis: %s", seconds, exc)

    async def acquire(self, chat: str | None = None) -> _SharedSlot:
        if chat is not None and not self.chat_interval:
            chat = None
        member = uuid.uuid4().hex
        keys = self._keys(chat)
        while True:
            wait_local = self.local.paused_until - time.monotonic()
            if wait_local > 0:
                await asyncio.sleep(wait_local)
                continue
            try:
                wait_ms = await self._acquire(keys=keys, args=[self.capacity, int(self.period * 1000), self.ttl_ms,
                                                              member, "1" if chat is not None else "0"])
            except Exception as exc:  # Redis away: this process keeps the limits on its own
                if not _redis_error(exc):
                    raise
                log.warning("Redis is away (%s); pacing in this process only", exc)
                return _SharedSlot(member, chat, await self.local.acquire(chat))
            if not wait_ms:
                self.granted += 1
                return _SharedSlot(member, chat)
            await asyncio.sleep(int(wait_ms) / 1000)

    def release(self, slot: _SharedSlot) -> None:
        if slot.local is not None:
            self.local.release(slot.local)
            return
        if slot.chat is not None:
            self._chat_next[slot.chat] = time.monotonic() + self.chat_interval
            if len(self._chat_next) > 50_000:
                now = time.monotonic()
                self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
        keys = self._keys(slot.chat)
        task = asyncio.get_running_loop().create_task(self._release(
            keys=[keys[0], keys[2], keys[3]],
            args=[slot.member, "1" if slot.chat is not None else "0", int(self.chat_interval * 1000)]))
        # release is synchronous in the Pacer interface; the script runs at once, its answer is not awaited
        self._pauses.add(task)
        task.add_done_callback(self._released)

    def _released(self, task: asyncio.Task[Any]) -> None:
        self._pauses.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("could not release a send slot in Redis (it lapses by itself): %s", task.exception())

    async def close(self) -> None:
        if self._pauses:
            await asyncio.gather(*self._pauses, return_exceptions=True)
        await self.redis.aclose()


def _redis_error(exc: BaseException) -> bool:
    try:
        from redis.exceptions import ConnectionError as RedisDown, TimeoutError as RedisSlow
    except ImportError:
        return False
    return isinstance(exc, (RedisDown, RedisSlow, OSError))
