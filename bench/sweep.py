"""The minute sweep with 10,000 open cases, half of them overdue and already reminded.

    python bench/sweep.py                            # SQLite; writes bench/results/sweep.json
    python bench/sweep.py --database postgresql      # a private PostgreSQL database (created, dropped);
                                                     # writes bench/results/sweep_postgresql.json
    python bench/sweep.py --cases 2000               # a quick check (prints only)

Before migration 0007, `due()` had no lower bound: every overdue open case (and every resolved
one) was loaded and looked at every minute, forever. "before" replays that: the old query and
the reminders for every case it returns (the outbox's dedupe keys keep them from being sent
again). "first sweep" is the run right after the upgrade, which looks at every watched case once
to set its next moment; "after" is every later minute, which loads only the cases whose moment
has come (here: none). Times are the median of `--repeat` runs of one sweep, each in its own
transaction, rolled back.
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

from sqlalchemy import or_, select, text  # noqa: E402

from core import cases as rules  # noqa: E402
from core import cases_services  # noqa: E402
from core.cases import Actor, Category, PhotoKind, PhotoRef  # noqa: E402
from core.people import Role, RoleGrant, Roles  # noqa: E402
from core.workdays import WorkCalendar  # noqa: E402
from benchkit import fresh_pg_database, write_result  # noqa: E402
from storage.case_tables import cases  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.uow import Database  # noqa: E402
from tests.factories import add_person, seed_world, staff_of  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PG_PRIVATE = "redgrid_bench_sweep"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 in Shanghai
POLICY = cases_services.ReportPolicy(calendar=WorkCalendar())
BATCH = 500


async def _database(which: str, folder: Path) -> tuple[Database, str]:
    if which == "postgresql":
        await fresh_pg_database(PG_PRIVATE)
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_PRIVATE
    else:
        url = f"sqlite+aiosqlite:///{folder / 'sweep.sqlite3'}"
    engine = make_engine(url)
    await upgrade(engine)
    return Database(engine), url


async def _drop(which: str) -> None:
    if which == "postgresql":
        admin = make_engine(PG_ADMIN)
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_PRIVATE}" WITH (FORCE)'))
        await admin.dispose()


async def _seed(db: Database, count: int) -> None:
    """`count` assigned cases in one grid: the first half reported a week ago (overdue), the rest an hour ago."""
    async with db.uow() as uow:
        world = await seed_world(uow)
        dc = world.communities["东城社区"]
        building, grid = world.buildings["3号楼"], world.grids["粮食局第一网格"]
        wang = await add_person(uow, world, "wang", "王阿姨", RoleGrant(None, 0, Role.RESIDENT, community_id=dc.id,
                                                                      building_id=building.id))
        li = await add_person(uow, world, "li", "李网格", RoleGrant(None, 0, Role.GRID_MEMBER, grid_id=grid.id))
        await add_person(uow, world, "chen", "陈书记", staff_of(dc))
        await uow.commit()
    reporter = Actor(wang.id, Roles([RoleGrant(wang.id, 0, Role.RESIDENT, community_id=dc.id,
                                               building_id=building.id)]))
    for start in range(0, count, BATCH):
        async with db.uow() as uow:
            for seq in range(start + 1, min(start + BATCH, count) + 1):
                at = NOW - (timedelta(days=7) if seq <= count // 2 else timedelta(hours=1))
                deadline = POLICY.deadline(at)
                case = rules.submit(reporter, building, grid, dc, Category.LIGHTS,
                                    [PhotoRef(f"{seq:064x}", PhotoKind.BEFORE)], "楼道灯坏了", at, deadline,
                                    seq=seq, year=2026)
                rules.assign(case, li.id, None, at)
                await uow.cases.add(case, half_time_at=POLICY.half_time(at, deadline))
            await uow.commit()


async def _old_sweep(uow, now: datetime) -> int:
    """The sweep as it ran before 0007: every watched case with a moment before now + 2 h, every minute."""
    c, horizon = cases.c, now + timedelta(hours=2)
    rows = list(await uow.conn.execute(
        select(cases).where(c.state.in_([*(s.value for s in rules.OPEN_STATES), "resolved"]),
                            or_(c.half_time_at <= horizon, c.deadline <= horizon,
                                c.escalation_deadline <= horizon, c.resolved_at <= horizon))
        .order_by(c.deadline)))
    half = {r.id: r.half_time_at for r in rows}
    counts = dict.fromkeys(("half_time", "due_soon", "overdue", "claim_overdue", "auto_closed"), 0)
    loaded = await uow.cases._load(rows)
    for case in loaded:
        await cases_services._remind(uow, POLICY, case, half[case.id], now, counts)
    return len(loaded)


async def _timed(db: Database, run, repeat: int) -> tuple[float, int]:
    times, loaded = [], 0
    for _ in range(repeat):
        async with db.uow() as uow:
            started = time.perf_counter()
            loaded = await run(uow)
            times.append(time.perf_counter() - started)
            await uow.rollback()
    return statistics.median(times), loaded


async def bench(which: str, count: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        db, _ = await _database(which, Path(folder))
        try:
            seeded = time.perf_counter()
            await _seed(db, count)
            seed_s = time.perf_counter() - seeded
            # the first sweep after the upgrade: every case looked at once, the overdue half reminded
            async with db.uow() as uow:
                started = time.perf_counter()
                first = await cases_services.sweep(uow, POLICY, NOW + timedelta(minutes=1))
                first_s = time.perf_counter() - started
                await uow.commit()
            later = NOW + timedelta(minutes=2)
            before_s, before_loaded = await _timed(db, lambda uow: _old_sweep(uow, later), repeat)
            after_s, _ = await _timed(db, lambda uow: cases_services.sweep(uow, POLICY, later), repeat)
            async with db.uow() as uow:
                after_loaded = len(await uow.cases.due(later))
        finally:
            await db.engine.dispose()
            await _drop(which)
    return {
        "database": which, "cases": count, "overdue": count // 2, "repeat": repeat, "seed_s": round(seed_s, 2),
        "first_sweep_s": round(first_s, 4), "first_sweep_counts": first,
        "before_sweep_s": round(before_s, 4), "before_cases_loaded": before_loaded,
        "after_sweep_s": round(after_s, 6), "after_cases_loaded": after_loaded,
        "speedup": round(before_s / after_s, 1) if after_s else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(bench(args.database, args.cases, args.repeat))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if args.cases == 10_000:
        write_result("sweep", args.database, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
