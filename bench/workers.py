"""Several workers: 1 vs 2 `redgrid webhook` processes on one PostgreSQL and Redis, CPU per update.

    python bench/workers.py                 # 3 repetitions of 100 dialogs per worker count; writes
                                            # bench/results/workers.json
    python bench/workers.py --quick         # 1 repetition of 40 dialogs; prints only
    python bench/workers.py --reps 3 --dialogs 100

This process is Telegram: the Bot API stand-in pushes updates to its webhook as Telegram does (one
update per chat in flight, different chats at once, up to max_connections), through a round-robin
front (demo/spread.py, nginx's `upstream` here) to the workers, so one chat's updates alternate
between them. The workers are `redgrid webhook` exactly as the README starts them (the venv's console
script), each on a port of its own, sharing a private PostgreSQL database (`redgrid_bench_workers`)
and Redis (dialog state, the per-chat lock, the message rate). The simulated residents and their
report dialogs (photo → 下一步 → category → my building → words or 跳过 → ✅ 确认提交) are
bench/updates.py's; so is the measure: the bot processes' own CPU time (utime + stime from /proc,
summed over the workers) per update handled, over a closed loop of `--dialogs` residents at once,
until the grid members' notifications have reached the stand-in.

Checked on every repetition: every update the stand-in queued has an inbox row `handled` (0 lost),
every confirmed dialog made exactly one case (0 handled twice), nothing left undelivered.

Target (issue #18): total bot CPU per update with 2 workers ≤ 1.15 × with 1. The machine is shared
(2 cores, other engineers' work): the figures are what this run got, throughputs included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.benchkit import fresh_pg_database, write_result  # noqa: E402
from bench.updates import (  # noqa: E402
    FIRST_RESIDENT_ID, PHOTO_POOL, READY_TIMEOUT_S, BotProcess, Chat, Side, StampedEvents, closed_figures,
    closed_loop, count_cases, demo_community, photo_pool, redgrid_dialog, redgrid_env, warm_up,
)
from demo.harness import running_standin  # noqa: E402
from demo.spread import RoundRobin  # noqa: E402

TOKEN = "700000003:WORKERS-BENCH"
SECRET = "bench-workers-secret"
DATABASE = "redgrid_bench_workers"
REDIS_URL = os.environ.get("REDGRID_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
TARGET_RATIO = 1.15


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Workers:
    """Several bot processes seen as one: their CPU summed (what Side.bot needs)."""

    def __init__(self, processes: list[BotProcess]) -> None:
        self.processes = processes

    def cpu_split(self) -> tuple[float, float]:
        splits = [p.cpu_split() for p in self.processes]
        return sum(u for u, _ in splits), sum(s for _, s in splits)

    def cpu_seconds(self) -> float:
        return sum(self.cpu_split())

    def tail(self, lines: int = 30) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail(lines)}" for p in self.processes)

    async def stop(self) -> None:
        await asyncio.gather(*(p.stop() for p in self.processes))


def webhook_command() -> list[str]:
    script = Path(sys.executable).parent / "redgrid"
    if not script.exists():
        raise SystemExit("no `redgrid` command next to this Python: pip install -e . first")
    return [str(script), "webhook"]


async def start_workers(count: int, env: dict[str, str], standin, folder: Path) -> tuple[Workers, RoundRobin]:
    import aiohttp

    ports = [free_port() for _ in range(count)]
    front = RoundRobin([f"http://127.0.0.1:{port}" for port in ports])
    url = await front.start()
    set_before = standin.requests.get("setwebhook", 0)
    processes = []
    for n, port in enumerate(ports):
        worker_env = {**env, "WEB_HOST": "127.0.0.1", "WEB_PORT": str(port), "WEBHOOK_URL": f"{url}/telegram",
                      "WEBHOOK_SECRET": SECRET}
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_", "REDIS_"))}
        full_env.update(worker_env)
        log = folder / f"worker{count}-{n}.log"
        with open(log, "ab") as out:
            process = await asyncio.create_subprocess_exec(*webhook_command(), env=full_env, cwd=folder, stdout=out,
                                                           stderr=asyncio.subprocess.STDOUT)
        processes.append(BotProcess(f"worker{count}-{n}", process, log))
    workers = Workers(processes)
    started = time.monotonic()
    async with aiohttp.ClientSession() as client:
        for port, process in zip(ports, processes):
            while True:
                if process.process.returncode is not None:
                    raise RuntimeError(f"{process.name} exited before it served:\n{process.tail()}")
                if time.monotonic() - started > READY_TIMEOUT_S:
                    await workers.stop()
                    raise RuntimeError(f"{process.name} did not serve within {READY_TIMEOUT_S:g} s")
                with contextlib.suppress(aiohttp.ClientError):
                    async with client.get(f"http://127.0.0.1:{port}/healthz") as answer:
                        if answer.status == 200:
                            break
                await asyncio.sleep(0.2)
    while standin.requests.get("setwebhook", 0) < set_before + count:  # every worker has set the webhook
        await asyncio.sleep(0.1)
    return workers, front


async def inbox_counts(url: str) -> dict[str, int]:
    from sqlalchemy import text

    from storage.engine import make_engine

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT state, count(*) FROM inbox GROUP BY state"))).all()
    finally:
        await engine.dispose()
    return {str(state): int(n) for state, n in rows}


async def forget_redis() -> None:
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match="*700000003*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def handled_between(url: str, first: int, last: int) -> int:
    """Inbox rows of update ids first..last that are `handled`."""
    from sqlalchemy import text

    from storage.engine import make_engine

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(
                "SELECT count(*) FROM inbox WHERE state = 'handled' AND update_id BETWEEN :a AND :b"),
                {"a": first, "b": last})).scalar_one()
    finally:
        await engine.dispose()


async def measure(count: int, args: argparse.Namespace, url: str, standin, chats: list[Chat], events,
                  folder: Path) -> dict[str, Any]:
    env = {**redgrid_env(url, folder), "REDIS_URL": REDIS_URL, "DASHBOARD_ENABLED": "false",
           "OPEN311_ENABLED": "false", "BOT_TOKEN": TOKEN, "BOT_API_URL": standin.base_url}
    workers, front = await start_workers(count, env, standin, folder)
    try:
        side = Side(f"{count} worker(s)", standin, chats, workers, events)  # type: ignore[arg-type]
        await warm_up(side)
        reps = []
        for rep in range(args.reps):
            cases_before = await count_cases(url)
            queued_before = standin._last_update_id
            forwarded_before = list(front.forwarded)
            run = await closed_loop(side)
            await standin.wait_until(lambda: not standin.pending_updates, timeout=60)
            figures = closed_figures(run)
            queued = standin._last_update_id - queued_before
            handled = await handled_between(url, queued_before + 1, standin._last_update_id)
            confirmed = len(chats) - run.failed
            cases = await count_cases(url) - cases_before
            figures.update(queued=queued, handled=handled, lost=queued - handled, dialogs_confirmed=confirmed,
                           cases=cases, handled_twice=max(0, cases - confirmed),
                           per_worker_requests=[a - b for a, b in zip(front.forwarded, forwarded_before)])
            reps.append(figures)
            print(f"  {count} worker(s) rep {rep + 1}: {figures['updates']} updates, "
                  f"{figures['updates_per_s']}/s, CPU {figures['cpu_per_update_s'] * 1000:.2f} ms/update, "
                  f"lost {figures['lost']}, twice {figures['handled_twice']}, cases {cases}/{confirmed}, "
                  f"per worker {figures['per_worker_requests']}", flush=True)
        return {"workers": count, "reps": reps,
                "cpu_per_update_s_median": statistics.median(r["cpu_per_update_s"] for r in reps),
                "updates_per_s_median": statistics.median(r["updates_per_s"] for r in reps),
                "lost": sum(r["lost"] for r in reps), "handled_twice": sum(r["handled_twice"] for r in reps)}
    finally:
        await workers.stop()
        await front.stop()


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    url = await fresh_pg_database(DATABASE)
    await forget_redis()
    photos = photo_pool(PHOTO_POOL)
    personas = await demo_community(url, args.dialogs)
    with tempfile.TemporaryDirectory(prefix="redgrid-workers-") as tmp:
        folder = Path(tmp)
        # one stand-in for both: its update ids go on rising (the inbox knows an update by its id)
        async with running_standin(token=TOKEN) as standin:
            for persona in personas:
                standin.add_user(persona.user_id, persona.name, language_code=persona.language_code)
            chats = []
            for n in range(args.dialogs):
                standin.add_user(FIRST_RESIDENT_ID + n, f"居民{n:03d}", language_code="zh-hans")
                chats.append(Chat(standin, FIRST_RESIDENT_ID + n, n, redgrid_dialog(photos)))
            events = StampedEvents(standin, {c.user_id: c for c in chats})
            try:
                one = await measure(1, args, url, standin, chats, events, folder)
                two = await measure(2, args, url, standin, chats, events, folder)
            finally:
                events.close()
    await forget_redis()
    ratio = two["cpu_per_update_s_median"] / one["cpu_per_update_s_median"]
    return {
        "what": "total bot CPU per update, 2 webhook workers vs 1 (PostgreSQL + Redis), report dialogs",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared (loaded by other work)",
        "dialogs": args.dialogs, "reps": args.reps,
        "one_worker": one, "two_workers": two,
        "cpu_ratio_2_vs_1": round(ratio, 3), "target_ratio": TARGET_RATIO, "met": ratio <= TARGET_RATIO,
        "throughput_updates_per_s": {"1": one["updates_per_s_median"], "2": two["updates_per_s_median"]},
        "lost": one["lost"] + two["lost"], "handled_twice": one["handled_twice"] + two["handled_twice"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--dialogs", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="1 repetition of 40 dialogs; prints only")
    args = parser.parse_args()
    if args.quick:
        args.reps, args.dialogs = 1, 40
    args.dialogs = max(args.dialogs, 20)  # the warm-up drives 20 at once
    result = asyncio.run(bench(args))
    print(f"1 worker: {result['throughput_updates_per_s']['1']} updates/s, "
          f"{result['one_worker']['cpu_per_update_s_median'] * 1000:.2f} ms CPU/update")
    print(f"2 workers: {result['throughput_updates_per_s']['2']} updates/s, "
          f"{result['two_workers']['cpu_per_update_s_median'] * 1000:.2f} ms CPU/update (all workers)")
    print(f"ratio {result['cpu_ratio_2_vs_1']} (target ≤ {TARGET_RATIO}); lost {result['lost']}, "
          f"handled twice {result['handled_twice']}")
    if not args.quick:
        print(f"wrote {write_result('workers', 'sqlite', result)}")  # bench/results/workers.json
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
