"""kill -9 in the middle of a 2,000-message broadcast, twice: everyone gets it, at most one twice per kill.

The delivery worker runs alone in a process (tests/delivery_worker.py) against a Bot API
stand-in in this test, with the flood limits on at a fast test pace (2,000 a second). Each kill
lands while rows are still queued (checked), which is what the test is about; the broadcast was
10,000 messages, which only made it longer (how fast is bench/broadcast.py's question).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from sqlalchemy import func, select

from demo.harness import running_standin
from storage import tables as t
from storage.broadcasts import start_broadcast
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.uow import Database
from tests.delivery_kit import add_recipients, user_id_of
from tests.proc import kill, start, stop, wait_for

RECIPIENTS = 2_000
RATE = 2000


async def test_a_broadcast_survives_kill_9_with_at_most_one_duplicate_per_kill(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/delivery.sqlite3"
    db = Database(make_engine(url))
    await upgrade(db.engine)
    now = datetime.now(timezone.utc)
    people = await add_recipients(db, RECIPIENTS, now)
    await start_broadcast(db, "28日主题党日", people, "theme_day", {"day": 28}, None, now=now)

    async def sent() -> int:
        async with db.engine.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(t.outbox)
                                       .where(t.outbox.c.state == "sent"))).scalar()

    async def at_least(n: int) -> bool:
        return await sent() >= n

    log_file = tmp_path / "worker.log"
    kills = 0
    async with running_standin(flood_limits=True, max_per_second=RATE, max_per_chat_per_second=1) as standin:
        for n in range(RECIPIENTS):
            standin.add_user(user_id_of(n), f"党员{n}")
        env = {"DATABASE_URL": url, "BOT_API_URL": standin.base_url, "DELIVERY_RATE": str(RATE)}
        for milestone in (RECIPIENTS * 3 // 10, RECIPIENTS * 6 // 10):
            worker = await start("delivery_worker.py", env, log_file, tmp_path)
            try:
                # generous bounds: how fast is bench/broadcast.py's question, this test's is what gets lost
                await wait_for(lambda: at_least(milestone), 180, f"{milestone} sent", log_file)
            finally:
                await kill(worker)
            kills += 1
            assert await sent() < RECIPIENTS, "the kill came after the end: nothing was in the middle"
            # A new process knows nothing of the killed one's sends in the last second (neither would
            # a restarted bot's): Telegram's per-second limit sees both. A real restart takes longer
            # than that; the forked start here takes ~0.1 s, so wait out the second.
            await asyncio.sleep(1.1)
        worker = await start("delivery_worker.py", env, log_file, tmp_path)
        try:
            await wait_for(lambda: at_least(RECIPIENTS), 240, "every message sent", log_file, every=0.1)
        finally:
            await stop(worker)
        received = [len(standin.deliveries(user_id_of(n))) for n in range(RECIPIENTS)]
        too_many = standin.too_many_requests_count
    await db.dispose()
    assert min(received) == 1  # nobody was left out
    assert sum(received) - RECIPIENTS <= kills  # the one that may have been in flight at each kill
    assert too_many == 0
