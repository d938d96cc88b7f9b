"""What keeping dialogs in the database costs per update, against aiogram's MemoryStorage.

    python bench/dialog_storage.py              # SQLite and PostgreSQL, ~30 s; writes bench/results/dialog_storage.json
    python bench/dialog_storage.py --updates 500 --database sqlite   # a quick look, prints only

An update of the report dialog makes about ten storage calls (counted through the real dialog,
tests/e2e/test_dialog_restart_e2e.py: 6 updates made 11 get_state, 29 get_data, 13 set_data and
6 set_state), so one "update" here is: aiogram's FSM middleware reads the state on a connection of
its own (before the unit of work opens); then, joined to the update's unit of work, the scene reads
the state once more, the data five times, writes the data twice and the state once. The unit of work
is there with or without dialogs in the database (it marks the inbox row handled and commits), so
the figure is the difference: the same transaction with a row update and a commit, with and without
the nine joined calls, plus the lone read. 200 residents take turns, so the table holds 200 dialogs.
Timings are process CPU and wall time per update, medians of `--rounds` rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiogram.fsm.storage.base import BaseStorage, StorageKey  # noqa: E402
from aiogram.fsm.storage.memory import MemoryStorage  # noqa: E402
from sqlalchemy import text  # noqa: E402

from storage.dialogs import SqlDialogStorage  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PG_PRIVATE = "redgrid_bench_dialogs"
RESIDENTS = 200
DATA = {"photos": [{"hash": "9f2c" * 16, "phash": "c3a1e07f0f1e3c78", "w": 1280, "h": 960}],
        "category": "lights", "building_id": 17, "answered": "💡 路灯/楼道灯", "words": "三号楼二单元楼道灯坏了一个星期"}


def key(n: int) -> StorageKey:
    return StorageKey(bot_id=700000001, chat_id=1000 + n % RESIDENTS, user_id=1000 + n % RESIDENTS)


async def scene_step(storage: BaseStorage, k: StorageKey, n: int) -> None:
    """What a scene does inside the update, after the FSM middleware's first read."""
    await storage.get_state(k)
    for _ in range(5):
        await storage.get_data(k)
    await storage.set_data(k, {**DATA, "step": n})
    await storage.set_data(k, {**DATA, "step": n, "answered": None})
    await storage.set_state(k, f"report.step{n % 6}")


async def memory_round(updates: int) -> tuple[float, float]:
    storage = MemoryStorage()
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(updates):
        k = key(n)
        await storage.get_state(k)
        await scene_step(storage, k, n)
    return time.process_time() - cpu, time.perf_counter() - wall


async def database_round(engine, storage: SqlDialogStorage | None, updates: int) -> tuple[float, float]:
    """`storage` None: the unit of work alone (a row update and a commit, as the inbox's mark)."""
    mark = text("UPDATE bench_marks SET n = :n WHERE id = :id")
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(updates):
        k = key(n)
        if storage is not None:
            await storage.get_state(k)  # the FSM middleware, on its own connection
        async with engine.connect() as conn:
            await conn.begin()
            if storage is not None:
                with storage.joined(conn):
                    await scene_step(storage, k, n)
            await conn.execute(mark, {"n": n, "id": n % RESIDENTS})
            await conn.commit()
    return time.process_time() - cpu, time.perf_counter() - wall


@contextlib.asynccontextmanager
async def database(kind: str, folder: Path):
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'dialogs.sqlite3'}"
        return
    engine = make_engine(PG_ADMIN)
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_PRIVATE}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{PG_PRIVATE}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_PRIVATE
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_PRIVATE}" WITH (FORCE)'))
        await engine.dispose()


async def bench_database(kind: str, updates: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        async with database(kind, Path(folder)) as url:
            engine = make_engine(url)
            try:
                await upgrade(engine)
                async with engine.begin() as conn:
                    await conn.execute(text("CREATE TABLE bench_marks (id INTEGER PRIMARY KEY, n INTEGER)"))
                    await conn.execute(text("INSERT INTO bench_marks (id, n) VALUES (:id, 0)"),
                                       [{"id": i} for i in range(RESIDENTS)])
                storage = SqlDialogStorage(engine)
                await database_round(engine, storage, RESIDENTS)  # warm up: every dialog has its row
                await database_round(engine, None, RESIDENTS)
                await memory_round(RESIDENTS)
                runs: dict[str, list[tuple[float, float]]] = {"memory": [], "uow": [], "uow+dialogs": []}
                for _ in range(rounds):  # alternating, so a slow moment of the machine hits all three
                    runs["memory"].append(await memory_round(updates))
                    runs["uow"].append(await database_round(engine, None, updates))
                    runs["uow+dialogs"].append(await database_round(engine, storage, updates))
            finally:
                await engine.dispose()
    per = {name: {"cpu_us": statistics.median(c for c, _ in r) / updates * 1e6,
                  "wall_us": statistics.median(w for _, w in r) / updates * 1e6} for name, r in runs.items()}
    return {
        "database": kind, "updates_per_round": updates, "rounds": rounds, "storage_calls_per_update": 10,
        "memory_cpu_us": round(per["memory"]["cpu_us"], 1), "memory_wall_us": round(per["memory"]["wall_us"], 1),
        "uow_alone_cpu_us": round(per["uow"]["cpu_us"], 1), "uow_alone_wall_us": round(per["uow"]["wall_us"], 1),
        "database_cpu_us": round(per["uow+dialogs"]["cpu_us"] - per["uow"]["cpu_us"], 1),
        "database_wall_us": round(per["uow+dialogs"]["wall_us"] - per["uow"]["wall_us"], 1),
    }


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results = [await bench_database(kind, args.updates, args.rounds) for kind in kinds]
    print(f"{'database':<11} {'memory µs/update':>17} {'database µs/update (CPU / wall)':>33} "
          f"{'the unit of work alone':>24}")
    for r in results:
        print(f"{r['database']:<11} {r['memory_cpu_us']:>17.1f} "
              f"{r['database_cpu_us']:>20.1f} / {r['database_wall_us']:<10.1f} "
              f"{r['uow_alone_cpu_us']:>12.1f} / {r['uow_alone_wall_us']:.1f}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--updates", type=int, default=2000, help="updates per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = asyncio.run(main(args))
    if args.database == "both" and args.updates >= 2000:
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "python": platform.python_version(),
               "results": results}
        (RESULTS / "dialog_storage.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"written: {RESULTS / 'dialog_storage.json'}")
