"""Fault injection, the long version: kill -9 the real bot at random moments while residents run the
report dialog, many times, and count what was lost or done twice (tests/test_faults.py is the short one).

    python bench/faults.py                       # ≥ 50 kills over SQLite, PostgreSQL, PostgreSQL + Redis
    python bench/faults.py --kills 12 --minutes 5   # a shorter run
    python bench/faults.py --configs sqlite,postgresql --residents 24

Each round: a fresh database with the demo community and `--residents` extra residents, a Bot API
stand-in in this process, `redgrid run` as a process of its own (tests/fault_bot.py). The residents
start their dialogs spread over 10 seconds (photo → 下一步 → 💡 路灯/楼道灯 → 我的楼栋 → 跳过 →
✅ 确认提交) while the bot is killed with SIGKILL after a random 0.3–2 s of work and started again, up
to `--kills-per-round` times; then the last process runs until the dialogs are done. Dialog state:
the database (default), or Redis (REDIS_URL, a private redis-server with an append-only file,
started here on its own port). State in memory is no longer a mode of `redgrid run`, so it is not run.

Counted per configuration: confirms, lost (a resident confirmed, no case), duplicated (more than one
case), notifications missing / repeated (the grid member's "🆕 新问题 <number>"; a kill may repeat the
one in flight), inbox rows left `received` and outbox rows left `sending`/`pending` a minute after
the last kill, updates that ended `failed`. Prints lost / duplicated per 1,000 confirms (target 0 / 0)
and writes bench/results/faults.json. Rounds go on until each configuration has its share of `--kills`, bounded by `--minutes` (for\nall configurations together): no round starts after that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import proc  # noqa: E402
from tests.fault_kit import Outcome, PrivateRedis, World, drop_database, new_database  # noqa: E402

CONFIGS = {"sqlite": ("sqlite", False), "postgresql": ("postgresql", False), "postgresql+redis": ("postgresql", True)}


async def one_round(backend: str, redis: PrivateRedis | None, residents: int, kills: int, directory: Path,
                    rng: random.Random) -> tuple[Outcome, int, int]:
    """Returns what the round left, the kills made and how many of them found updates in flight."""
    url = await new_database(backend, directory)
    try:
        async with World(url, directory, residents, redis_url=redis.url if redis else "") as world:
            bot = await world.start_bot()

            async def dialog(resident):
                await asyncio.sleep(rng.uniform(0, 10.0))
                try:
                    await world.to_summary(resident, seed=rng.randrange(10**6))
                    await world.confirm(resident)
                except AssertionError as stuck:  # counted by the verdict (a confirm with no case: lost)
                    print(f"  a dialog did not finish: {str(stuck)[:300]}", flush=True)

            dialogs = asyncio.ensure_future(asyncio.gather(*(dialog(r) for r in world.residents)))
            made = in_flight = 0
            while made < kills and not dialogs.done():
                await asyncio.wait([dialogs], timeout=rng.uniform(0.3, 2.0))
                if dialogs.done():
                    break
                await world.kill(bot)
                made += 1
                received, _ = await world.open_rows()
                in_flight += received > 0
                bot = await world.start_bot()
            await asyncio.wait_for(dialogs, 240)
            await world.quiet(60)
            return await world.verdict(), made, in_flight
    finally:
        await drop_database(url)


def summary(name: str, outcome: Outcome, kills: int, in_flight: int, seconds: float) -> dict:
    per_k = 1000 / outcome.confirms if outcome.confirms else 0
    repeats = sum(n - 1 for n in outcome.notices_repeated.values())
    return {"config": name, "kills": kills, "kills_with_updates_in_flight": in_flight,
            "confirms": outcome.confirms, "lost": len(outcome.lost), "duplicated": len(outcome.duplicated),
            "lost_per_1000": round(len(outcome.lost) * per_k, 2),
            "duplicated_per_1000": round(len(outcome.duplicated) * per_k, 2),
            "notifications_missing": len(outcome.notices_missing), "notifications_repeated": repeats,
            "left_received": outcome.received, "left_sending_or_pending": outcome.sending,
            "failed_updates": len(outcome.failed_updates), "seconds": round(seconds, 1),
            "examples": {"lost": outcome.lost[:5], "duplicated": outcome.duplicated[:5],
                         "failed": outcome.failed_updates[:3]}}


async def main(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    names = [c.strip() for c in args.configs.split(",") if c.strip()]
    deadline = time.monotonic() + args.minutes * 60
    results = []
    quota = -(-args.kills // len(names))  # kills per configuration
    tmp = tempfile.mkdtemp(prefix="redgrid-faults-")  # kept: the bots' logs (bot.log per round)
    print(f"work directory: {tmp}", flush=True)
    if True:
        for name in names:
            backend, with_redis = CONFIGS[name]
            total, kills, in_flight, started = Outcome(confirms=0), 0, 0, time.monotonic()
            redis = None
            if with_redis:
                redis = PrivateRedis(Path(tmp))
                await redis.start()
            try:
                n = 0
                while kills < quota:
                    if time.monotonic() > deadline:
                        print(f"  {name}: time is up after {n} rounds", flush=True)
                        break
                    directory = Path(tmp) / f"{name}-{n}"
                    directory.mkdir()
                    outcome, made, hit = await one_round(backend, redis, args.residents, args.kills_per_round,
                                                         directory, rng)
                    total.merge(outcome)
                    kills += made
                    in_flight += hit
                    n += 1
                    print(f"  {name} round {n}: {made} kills ({hit} with updates in flight), "
                          f"{outcome.confirms} confirms, lost {len(outcome.lost)}, "
                          f"duplicated {len(outcome.duplicated)}, notices repeated "
                          f"{sum(v - 1 for v in outcome.notices_repeated.values())}", flush=True)
            finally:
                if redis is not None:
                    await redis.stop()
            results.append(summary(name, total, kills, in_flight, time.monotonic() - started))
    await asyncio.sleep(0)
    print()
    print(f"{'config':<18}{'kills':>6}{'confirms':>9}{'lost/1000':>10}{'dup/1000':>9}{'notice rep':>11}"
          f"{'stuck':>6}{'failed':>7}")
    for r in results:
        print(f"{r['config']:<18}{r['kills']:>6}{r['confirms']:>9}{r['lost_per_1000']:>10}"
              f"{r['duplicated_per_1000']:>9}{r['notifications_repeated']:>11}"
              f"{r['left_received'] + r['left_sending_or_pending']:>6}{r['failed_updates']:>7}")
    confirms = sum(r["confirms"] for r in results)
    lost = sum(r["lost"] for r in results)
    duplicated = sum(r["duplicated"] for r in results)
    kills = sum(r["kills"] for r in results)
    print(f"\nall: {kills} kills, {confirms} confirms: lost {1000 * lost / max(confirms, 1):.2f} / "
          f"duplicated {1000 * duplicated / max(confirms, 1):.2f} per 1,000 confirms (target 0 / 0)")
    if args.write:
        out = ROOT / "bench" / "results" / "faults.json"
        out.write_text(json.dumps({"args": vars(args), "kills": kills, "confirms": confirms, "lost": lost,
                                   "duplicated": duplicated, "configs": results}, ensure_ascii=False, indent=2) + "\n")
        print(f"wrote {out.relative_to(ROOT)}")
    return 0 if lost == duplicated == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="sqlite,postgresql,postgresql+redis")
    parser.add_argument("--kills", type=int, default=54, help="kills in all (spread over the configurations)")
    parser.add_argument("--kills-per-round", type=int, default=6)
    parser.add_argument("--residents", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=20, help="no round starts after this")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--no-write", dest="write", action="store_false")
    logging.basicConfig(level=logging.ERROR)
    raise SystemExit(asyncio.run(main(parser.parse_args())))
