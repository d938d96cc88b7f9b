"""One bot process's clock (scheduler.runner.Runner) with a job that says "tick" while it leads,
for tests/test_leader.py. DATABASE_URL names the shared PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scheduler.leader import Leadership  # noqa: E402
from scheduler.runner import Runner  # noqa: E402
from storage.engine import make_engine  # noqa: E402


async def tick(name: str) -> None:
    print(f"tick {name}", flush=True)


async def main() -> None:
    engine = make_engine(os.environ["DATABASE_URL"])
    leadership = Leadership(engine, retry_every=float(os.environ.get("LEADER_RETRY", "10")), check_every=1.0)
    asked = leadership.try_acquire

    async def try_acquire() -> bool:  # says each refused try, so the test can count them
        got = await asked()
        if not got:
            print(f"standby {os.environ['NAME']}", flush=True)
        return got

    leadership.try_acquire = try_acquire  # type: ignore[method-assign]
    runner = Runner(leadership)
    runner.add_job(tick, "interval", seconds=0.1, args=[os.environ["NAME"]])
    print("ready", flush=True)  # tests/proc.py: imported and set up; the test's timing starts here
    try:
        await runner.run()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
