"""The dashboard's overview over 1,000,000 cases on PostgreSQL (target: ≤ 1 s).

    python bench/dashboard.py                    # 1,000,000 cases; writes bench/results/dashboard.json
    python bench/dashboard.py --cases 100000     # a quick check (prints only)

A private database (created, then dropped) holds 10 communities × 2 compounds × 4 grids × 5
buildings and two years of cases (written by one INSERT … SELECT from generate_series: 85% closed
as fixed with ratings, 4% rejected, the rest open), with their events — a "submitted" and a
closing one each, plus fix rejections (5%) and escalations (3%) — about 2.1 million rows. After
ANALYZE, it times the overview exactly as the dashboard asks it (core.statistics_services.overview_of,
one unit of work: the case figures, volunteering, points), the charts' queries, and the grids'
league, for one community and for all ten (an administrator), for one month and for three. Each
figure is the median of `--repeat` runs after one warm-up run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from core.statistics import Area, Period, month  # noqa: E402
from core.statistics_services import charts, overview_of  # noqa: E402
from benchkit import fresh_pg_database  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.uow import Database  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PG_PRIVATE = "redgrid_bench_dashboard"
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
FIRST = datetime(2024, 12, 1, 0, 0, tzinfo=timezone.utc)

PLACES = """
INSERT INTO districts (id, name) VALUES (1, '凤台县');
INSERT INTO streets (id, district_id, name) VALUES (1, 1, '城关镇');
INSERT INTO communities (id, street_id, name, code)
  SELECT c, 1, '社区' || c, 'C' || chr(64 + c) FROM generate_series(1, 10) c;
INSERT INTO compounds (id, community_id, name, property_company)
  SELECT p, (p - 1) / 2 + 1, '小区' || p, '物业' || (p % 3) FROM generate_series(1, 20) p;
INSERT INTO grids (id, compound_id, name) SELECT g, (g - 1) / 4 + 1, '网格' || g FROM generate_series(1, 80) g;
INSERT INTO buildings (id, grid_id, name, lat, lon)
  SELECT b, (b - 1) / 5 + 1, b || '号楼', 32.7 + b * 0.0001, 116.7 + b * 0.0001 FROM generate_series(1, 400) b;
INSERT INTO persons (id, display_name) VALUES (1, '居民');
"""

CASES = """
INSERT INTO cases (id, number, community_id, reporter_id, building_id, grid_id, category, description, state,
                   deadline, created_at, updated_at, resolved_at, closed_at, closure_reason, rating, rework_count,
                   handler_kind)
SELECT i, 'B-' || i, ((b - 1) / 40) + 1, 1, b, ((b - 1) / 5) + 1,
       (ARRAY['garbage','lights','parking','drains_pipes','greenery','flyers','noise','fire_lane',
              'building_damage','other'])[1 + i % 10],
       '', CASE WHEN r < 0.85 THEN 'closed' WHEN r < 0.89 THEN 'rejected'
                WHEN r < 0.95 THEN 'in_progress' ELSE 'assigned' END,
       created + interval '56 hours', created, created + interval '3 days',
       CASE WHEN r < 0.85 THEN created + (interval '1 hour' * (1 + (i * 7919) % 90)) END,
       CASE WHEN r < 0.85 THEN created + (interval '1 hour' * (2 + (i * 7919) % 90 + (i * 104729) % 40))
            WHEN r < 0.89 THEN created + interval '3 hours' END,
       CASE WHEN r < 0.85 THEN 'fixed' WHEN r < 0.89 THEN 'not_a_problem' END,
       CASE WHEN r < 0.85 AND i % 5 <> 0 THEN 1 + (i * 31) % 5 END,
       CASE WHEN i % 20 = 0 THEN 1 ELSE 0 END, 'grid_member'
FROM (SELECT i, 1 + (i * 2654435761) % 400 AS b, ((i * 40503) % 1000) / 1000.0 AS r,
             CAST(:first AS timestamptz) + (interval '1 second' * ((i::float8 / CAST(:n AS bigint))
                 * extract(epoch from CAST(:now AS timestamptz) - CAST(:first AS timestamptz)))) AS created
      FROM generate_series(1, CAST(:n AS bigint)) i) s;
"""

EVENTS = """
INSERT INTO events (subject_type, subject_id, kind, at, actor_id)
  SELECT 'case', number, 'submitted', created_at, 1 FROM cases;
INSERT INTO events (subject_type, subject_id, kind, at, actor_id)
  SELECT 'case', number, CASE WHEN state = 'closed' THEN 'confirmed' ELSE 'report_rejected' END, closed_at, 1
  FROM cases WHERE closed_at IS NOT NULL;
INSERT INTO events (subject_type, subject_id, kind, at, actor_id)
  SELECT 'case', number, 'fix_rejected', created_at + interval '30 hours', 1 FROM cases WHERE rework_count > 0;
INSERT INTO events (subject_type, subject_id, kind, at, actor_id)
  SELECT 'case', number, 'escalated', created_at + interval '5 hours', 1 FROM cases WHERE id % 33 = 0;
"""


async def _database() -> Database:
    await fresh_pg_database(PG_PRIVATE)
    engine = make_engine(PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_PRIVATE)
    await upgrade(engine)
    return Database(engine)


async def _drop() -> None:
    admin = make_engine(PG_ADMIN)
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_PRIVATE}" WITH (FORCE)'))
    await admin.dispose()


async def _seed(db: Database, n: int) -> dict[str, float]:
    took = {}
    async with db.engine.begin() as conn:
        for statement in filter(str.strip, PLACES.split(";")):
            await conn.execute(text(statement))
        started = time.perf_counter()
        await conn.execute(text(CASES), {"n": n, "first": FIRST, "now": NOW})
        took["cases_s"] = time.perf_counter() - started
        started = time.perf_counter()
        for statement in filter(str.strip, EVENTS.split(";")):
            await conn.execute(text(statement))
        took["events_s"] = time.perf_counter() - started
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
        took["events"] = (await conn.execute(text("SELECT count(*) FROM events"))).scalar_one()
    return took


async def _time(action, repeat: int) -> float:
    await action()  # warm-up: the first run reads the pages from disk
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        await action()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    db = await _database()
    try:
        print(f"seeding {args.cases:,} cases …", flush=True)
        seeded = await _seed(db, args.cases)
        print(f"  cases in {seeded['cases_s']:.1f} s, {seeded['events']:,} events in {seeded['events_s']:.1f} s")
        november = month(2026, 11, TZ)
        quarter = Period(month(2026, 9, TZ).start, november.end, "2026-09 – 2026-11")
        one, everything = Area((1,), name="社区1"), Area(tuple(range(1, 11)), name="全部")
        rows = []
        for area_name, area in (("one community", one), ("all 10 communities", everything)):
            for period_name, period in (("one month", november), ("three months", quarter)):
                async def overview() -> None:
                    async with db.uow() as uow:
                        await overview_of(uow, area, period, NOW)

                async def with_charts() -> None:
                    async with db.uow() as uow:
                        await overview_of(uow, area, period, NOW)
                        await charts(uow, area, period, NOW, TZ)

                async with db.uow() as uow:
                    figures = (await overview_of(uow, area, period, NOW)).cases
                row = {"area": area_name, "period": period_name, "received": figures.received,
                       "closed": figures.closed, "open_now": figures.open_now,
                       "overview_s": round(await _time(overview, args.repeat), 4),
                       "overview_and_charts_s": round(await _time(with_charts, args.repeat), 4)}
                rows.append(row)
                print(f"  {area_name:20} {period_name:13} received {row['received']:>7,}  closed {row['closed']:>7,}  "
                      f"overview {row['overview_s'] * 1000:7.1f} ms   with charts {row['overview_and_charts_s'] * 1000:7.1f} ms",
                      flush=True)
        worst = max(r["overview_s"] for r in rows)
        print(f"slowest overview: {worst * 1000:.0f} ms (target ≤ 1000 ms) — {'met' if worst <= 1 else 'MISSED'}")
        if args.cases == 1_000_000:
            RESULTS.mkdir(parents=True, exist_ok=True)
            (RESULTS / "dashboard.json").write_text(json.dumps({
                "benchmark": "dashboard overview", "database": "postgresql", "cases": args.cases,
                "events": seeded["events"], "repeat": args.repeat, "measured_at": datetime.now(timezone.utc).isoformat(),
                "rows": rows, "slowest_overview_s": worst, "target_s": 1.0}, indent=2, ensure_ascii=False) + "\n")
    finally:
        await db.dispose()
        await _drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
