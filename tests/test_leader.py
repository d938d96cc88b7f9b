"""Only one process runs the scheduled jobs; when it dies, another takes over."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from scheduler.leader import Leadership
from scheduler.runner import Runner
from storage.engine import make_engine
from tests.conftest import POSTGRES_URL, service_missing
from tests.proc import kill, start, stop, wait_for


def ticks(log_file, word: str = "tick") -> int:
    return log_file.read_text().count(word) if log_file.exists() else 0


async def test_when_the_leader_is_killed_a_standby_takes_over(tmp_path):
    engine = make_engine(POSTGRES_URL)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        service_missing(f"PostgreSQL at {POSTGRES_URL}", exc)
    finally:
        await engine.dispose()
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    env = {"DATABASE_URL": POSTGRES_URL, "LEADER_RETRY": "0.5"}
    first = await start("leader_proc.py", {**env, "NAME": "first"}, first_log, tmp_path)
    second = None
    try:
        await wait_for(lambda: _true(ticks(first_log) > 0), 15, "the first process to lead", first_log)
        second = await start("leader_proc.py", {**env, "NAME": "second"}, second_log, tmp_path)  # returns when ready
        await wait_for(lambda: _true(ticks(second_log, "standby") >= 3), 10, "three refused tries", second_log)
        assert ticks(second_log) == 0, "two leaders at once"
        await kill(first)
        await wait_for(lambda: _true(ticks(second_log) > 0), 10, "the second process to take over", second_log)
    finally:
        await kill(first)
        if second is not None:
            await stop(second)


async def _true(value: bool) -> bool:
    return value


async def test_on_sqlite_the_single_process_leads(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/one.sqlite3")
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    runner = Runner(Leadership(engine))
    runner.add_job(job, "interval", seconds=0.05)
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(ran.wait(), 5)
    assert runner.leading.is_set() and runner.leadership.is_leader
    await runner.stop()
    assert task.done() and not runner.leadership.is_leader
    await engine.dispose()
