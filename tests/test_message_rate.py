"""Messages per minute counted without the database: in memory, or in Redis shared by processes; and
unfinished dialogs that expire on their own (Redis) or carry the moment of their last write (SQL)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from aiogram.fsm.storage.base import StorageKey

from bot.limits import MemoryCounter, RedisCounter
from core.clock import ManualClock
from redgrid.bootstrap import dialog_storage
from redgrid.settings import Settings
from storage import tables as t
from storage.dialogs import SqlDialogStorage
from tests.redis_kit import REDIS_URL, redis_prefix


async def test_the_memory_counter_counts_per_person_and_forgets_the_last_minute():
    counter = MemoryCounter()
    assert [await counter.hit(1, 100) for _ in range(3)] == [1, 2, 3]
    assert await counter.hit(2, 100) == 1
    assert await counter.hit(1, 101) == 1 and counter.counts == {1: 1}  # memory stays flat


async def test_two_processes_count_one_persons_messages_together_in_redis():
    async with redis_prefix() as prefix:
        first, second = RedisCounter(REDIS_URL, prefix), RedisCounter(REDIS_URL, prefix)
        try:
            assert [await first.hit(7, 500), await second.hit(7, 500), await first.hit(7, 500)] == [1, 2, 3]
            assert await second.hit(7, 501) == 1 and await first.hit(8, 500) == 1
            assert 0 < await first.redis.ttl(f"{prefix}:7:500") <= 120  # gone on its own
        finally:
            await first.close()
            await second.close()


async def test_unfinished_dialogs_in_redis_expire_after_dialog_keep_days():
    async with redis_prefix() as prefix:
        storage = dialog_storage(Settings(_env_file=None, redis_url=REDIS_URL, dialog_keep_days=2), None,
                                 redis_prefix=prefix)
        key = StorageKey(bot_id=4242, chat_id=int(uuid.uuid4().int % 10**9), user_id=1)
        try:
            await storage.set_state(key, "report.words")
            await storage.set_data(key, {"description": "楼道灯坏了"})
            redis = storage.inner.redis
            for part in ("state", "data"):
                ttl = await redis.ttl(storage.inner.key_builder.build(key, part))
                assert timedelta(days=2) - timedelta(minutes=1) < timedelta(seconds=ttl) <= timedelta(days=2)
        finally:
            await storage.close()


async def test_a_dialog_row_carries_the_moment_of_its_last_write(db, now):
    clock = ManualClock(now)
    storage = SqlDialogStorage(db.engine, clock)
    key = StorageKey(bot_id=1, chat_id=2, user_id=3)
    await storage.set_state(key, "report.words")
    clock.advance(hours=2)
    await storage.set_data(key, {"description": "楼道灯坏了"})
    async with db.engine.connect() as conn:
        (written,) = (await conn.execute(t.dialog_state.select())).all()
    assert written.updated_at == now + timedelta(hours=2) and written.state == "report.words"


async def test_with_redis_away_a_message_is_let_through_and_counted_in_this_process():
    """The limiter sits before the inbox: a Redis outage there must not lose a resident's message
    (tests/test_faults.py's Redis stop found it); the count goes on in memory until Redis is back."""
    from aiogram.types import Chat, Message, Update, User
    from datetime import datetime, timezone

    from bot.limits import MessageRate

    class Away:
        async def hit(self, user_id: int, minute: int) -> int:
            raise ConnectionError("redis is down")

    rate = MessageRate(2, "zh", Away(), minute=lambda: 1)
    handled = []

    async def handler(event, data):
        handled.append(event.update_id)

    user = User(id=7, is_bot=False, first_name="王")
    for n in range(3):
        message = Message(message_id=n, date=datetime.now(timezone.utc), chat=Chat(id=7, type="private"),
                          from_user=user, text="灯坏了")
        await rate(handler, Update(update_id=n, message=message), {"event_from_user": user, "bot": None})
    assert handled == [0, 1]  # let through while Redis is away, and still limited (in this process)
