"""Two `redgrid webhook` workers, processes of their own, on the real PostgreSQL and Redis, behind a
round-robin front (nginx's role; demo/spread.py) that the Bot API stand-in posts its updates to:

* a resident's report dialog whose updates alternate between the workers completes, step by step,
  with one case and every update handled once;
* a theme-day broadcast reaches each member once (one leader sends the outbox);
* the leader killed with SIGKILL, the other worker takes over and delivers what comes next.
"""

from __future__ import annotations

import asyncio
import random
import socket
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from bench.updates import FIRST_RESIDENT_ID, Chat, StampedEvents, photo_pool, redgrid_dialog
from core.clock import SystemClock
from demo.app import prepare_demo_world
from demo.harness import running_standin
from demo.spread import RoundRobin
from storage.broadcasts import start_broadcast
from tests import proc
from tests.redis_kit import REDIS_URL, redis_or_skip

SECRET = "two-workers-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def leads(port: int) -> bool:
    async with aiohttp.ClientSession() as client:
        async with client.get(f"http://127.0.0.1:{port}/metrics") as answer:
            return "redgrid_leader 1.0" in await answer.text()


async def outbox_states(db, broadcast_id: int) -> dict[str, int]:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT state, count(*) FROM outbox WHERE broadcast_id = :b GROUP BY state"),
                                   {"b": broadcast_id})).all()
    return {state: n for state, n in rows}


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # several workers share PostgreSQL (SQLite: one process)
async def test_two_webhook_workers_share_the_work(db, tmp_path: Path):
    await redis_or_skip()
    from bench.updates import register_residents

    clock = SystemClock()
    personas = await prepare_demo_world(db, clock, tmp_path / "data")
    await register_residents(db, 1, clock.now())
    bot_id = random.randrange(10**8, 10**9)  # its own keys in Redis (dialogs, rates)
    token = f"{bot_id}:TWO-WORKERS"
    url = db.engine.url.render_as_string(hide_password=False)
    log = tmp_path / "workers.log"
    async with running_standin(token=token) as standin:
        for persona in personas:
            standin.add_user(persona.user_id, persona.name, language_code=persona.language_code)
        standin.add_user(FIRST_RESIDENT_ID, "居民000", language_code="zh-hans")
        resident = Chat(standin, FIRST_RESIDENT_ID, 0, redgrid_dialog(photo_pool(2)))
        events = StampedEvents(standin, {resident.user_id: resident})
        ports = [free_port(), free_port()]
        front = RoundRobin([f"http://127.0.0.1:{p}" for p in ports])
        front_url = await front.start()
        workers = []
        try:
            for port in ports:
                env = {"DATABASE_URL": url, "REDIS_URL": REDIS_URL, "BOT_TOKEN": token, "BOT_API_URL": standin.base_url,
                       "WEBHOOK_URL": f"{front_url}/telegram", "WEBHOOK_SECRET": SECRET, "WEB_HOST": "127.0.0.1",
                       "WEB_PORT": str(port), "DASHBOARD_ENABLED": "false", "OPEN311_ENABLED": "false",
                       "DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "INFO", "DELIVERY_PER_CHAT_PER_SECOND": "50"}
                workers.append(await proc.start("webhook_worker.py", env, log, tmp_path))

            # 1. a resident's report, its six updates alternating between the two workers
            cases_before = await count(db, "SELECT count(*) FROM cases")
            for step in resident.dialog(0, 0):
                await resident.run(step)
            assert all(front.forwarded), front.forwarded  # both workers took part
            # the confirmation is sent from inside the handler, before its commit: wait for the commit
            await proc.wait_for(lambda: _count_is(db, "SELECT count(*) FROM inbox WHERE state = 'handled'",
                                                  standin._last_update_id), 30, "every update handled", log)
            async with db.engine.connect() as conn:
                states = dict((await conn.execute(text("SELECT state, count(*) FROM inbox GROUP BY state"))).all())
            assert await count(db, "SELECT count(*) FROM cases") == cases_before + 1  # one case, not two
            assert states == {"handled": standin._last_update_id}, states  # each once, none failed

            # 2. a theme-day broadcast: each member gets it once, whichever worker leads
            async with db.uow() as uow:
                people = [i.person_id for p in personas
                          if (i := await uow.people.identity("telegram", str(p.user_id))) is not None]
            payload = {"community": "东城社区", "month": 12, "day": 28, "posts": "· 清理楼道 09:00–11:00 (DC-GW-1)"}
            first = await start_broadcast(db, "东城社区 12月28日主题党日", people, "theme.announce", payload, None)
            await proc.wait_for(lambda: _all_done(db, first, len(people)), 60, "the broadcast sent", log)
            await asyncio.sleep(1.0)  # a second sender, were there one, would show now
            async with db.engine.connect() as conn:
                rows = (await conn.execute(text(
                    "SELECT i.chat_id, o.sent_message_id FROM outbox o JOIN identities i ON i.person_id = o.person_id"
                    " AND i.channel = 'telegram' WHERE o.broadcast_id = :b AND o.state = 'sent'"), {"b": first})).all()
            assert len(rows) >= 3
            for chat_id, message_id in rows:  # each member's message is there, and only once
                message = standin.message(int(chat_id), message_id)
                assert message is not None
                same = [m for m in standin.bot_messages(int(chat_id)) if m.text == message.text]
                assert len(same) == 1, (chat_id, message.text)

            # 3. the leader killed: the other takes over the clock and the outbox
            leader = [n for n, port in enumerate(ports) if await leads(port)]
            assert len(leader) == 1, leader
            await proc.kill(workers[leader[0]])
            survivor = ports[1 - leader[0]]
            second = await start_broadcast(db, "东城社区 1月28日主题党日", people, "theme.announce",
                                           {**payload, "month": 1}, None)
            await proc.wait_for(lambda: _all_done(db, second, len(people)), 90, "the survivor to send", log)
            assert await leads(survivor)
        finally:
            events.close()
            for worker in workers:
                await proc.stop(worker)
            await front.stop()


async def count(db, query: str) -> int:
    async with db.engine.connect() as conn:
        return (await conn.execute(text(query))).scalar_one()


async def _count_is(db, query: str, expected: int) -> bool:
    return await count(db, query) == expected


async def _all_done(db, broadcast_id: int, count: int) -> bool:
    states = await outbox_states(db, broadcast_id)
    return sum(states.get(s, 0) for s in ("sent", "skipped", "failed")) == count
