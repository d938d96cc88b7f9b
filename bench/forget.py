"""What /forget and /mydata cost in a database that has been in use for a while.

    python bench/forget.py                            # SQLite; writes bench/results/forget.json
    python bench/forget.py --database postgresql      # a private PostgreSQL database (created, dropped);
                                                      # writes bench/results/forget_postgresql.json
    python bench/forget.py --events 20000             # a quick check (prints only)

/forget searches every text and JSON column of every table for the person's name, phone and photo
names (storage/personal_data.py `redact`), so its cost grows with the whole database, not with the
person. The database holds one person with one of every kind of record (tests/test_personal_data.py)
and `--events` events of other people (with `--events // 4` outbox rows and inbox updates beside
them), a few of which name her. Times are the median of `--repeat` runs, each in its own
transaction, rolled back (nothing is deleted between runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from core.cases import Actor  # noqa: E402
from core.onboarding import roles_of  # noqa: E402
from core.personal_data_services import forget, my_data  # noqa: E402
from storage import tables as t  # noqa: E402
from benchkit import fresh_pg_database, write_result  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.uow import Database  # noqa: E402
from tests.test_personal_data import NAME, seed_everything  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PG_PRIVATE = "redgrid_bench_forget"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
BATCH = 5000


async def _database(which: str, folder: Path) -> Database:
    if which == "postgresql":
        await fresh_pg_database(PG_PRIVATE)
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_PRIVATE
    else:
        url = f"sqlite+aiosqlite:///{folder / 'forget.sqlite3'}"
    engine = make_engine(url)
    await upgrade(engine)
    return Database(engine)


async def _drop(which: str) -> None:
    if which == "postgresql":
        admin = make_engine(PG_ADMIN)
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_PRIVATE}" WITH (FORCE)'))
        await admin.dispose()


async def _filler(db: Database, person_id: int, events: int) -> None:
    """Other people's events, notifications and updates; one in a thousand names her."""
    for start in range(0, events, BATCH):
        rows = [{"subject_type": "case", "subject_id": f"DC-2026-{n:06d}", "kind": "supporter_feedback",
                 "at": NOW - timedelta(minutes=n), "actor_id": person_id if n % 1000 == 0 else None,
                 "before": {"state": "resolved"},
                 "after": {"state": "resolved", "comment": f"{NAME}也说没修好" if n % 1000 == 0 else "灯还是不亮"}}
                for n in range(start, min(start + BATCH, events))]
        async with db.engine.begin() as conn:
            await conn.execute(insert(t.events), rows)
            quarter = rows[: len(rows) // 4]
            await conn.execute(insert(t.outbox), [
                {"person_id": person_id, "kind": "case.accepted", "payload": {"case": r["subject_id"]},
                 "state": "sent", "attempts": 1, "not_before": NOW, "created_at": NOW, "priority": 0}
                for r in quarter[:1]] + [
                {"person_id": 1, "kind": "case.accepted", "payload": {"case": r["subject_id"], "note": r["after"]["comment"]},
                 "state": "sent", "attempts": 1, "not_before": NOW, "created_at": NOW, "priority": 0}
                for r in quarter[1:]])
            await conn.execute(insert(t.inbox), [
                {"update_id": 10_000_000 + start + i, "bot_id": 1, "digest": "0" * 64, "received_at": NOW,
                 "state": "handled", "raw": {"update_id": 10_000_000 + start + i, "message": {
                     "text": r["after"]["comment"], "from": {"id": 5000 + i, "first_name": "邻居"}}}, "attempts": 0}
                for i, r in enumerate(quarter)])


async def _timed(db: Database, run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        async with db.uow() as uow:
            started = time.perf_counter()
            await run(uow)
            times.append(time.perf_counter() - started)
            await uow.rollback()
    return statistics.median(times)


async def bench(which: str, events: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        db = await _database(which, Path(folder))
        try:
            everything = await seed_everything(db, NOW, Path(folder) / "data")
            me = everything.me
            seeded = time.perf_counter()
            await _filler(db, me.id, events)
            seed_s = time.perf_counter() - seeded
            async with db.uow() as uow:
                by = Actor(me.id, await roles_of(uow, me))

            async def export(uow):
                await my_data(uow, by, me.id, NOW)

            async def erase(uow):
                await forget(uow, by, me.id, NOW, everything.photos)

            export_s = await _timed(db, export, repeat)
            forget_s = await _timed(db, erase, repeat)
        finally:
            await db.engine.dispose()
            await _drop(which)
    return {"database": which, "events": events, "outbox_rows": events // 4, "inbox_rows": events // 4,
            "repeat": repeat, "seed_s": round(seed_s, 1), "mydata_s": round(export_s, 3),
            "forget_s": round(forget_s, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(bench(args.database, args.events, args.repeat))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if args.events == 200_000:
        write_result("forget", args.database, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
