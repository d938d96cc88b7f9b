"""`redgrid run`, unchanged but slowed down, for tests/test_inbox_crash.py to kill mid-burst.

Every message handler takes CRASH_BOT_DELAY seconds and leaves one event "crash_test.handled"
naming its update, written in the handler's own unit of work — so counting those events counts
effects. Settings come from the environment (BOT_API_URL, DATABASE_URL, …) as for `redgrid run`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redgrid.bootstrap  # noqa: E402
from core.onboarding import record  # noqa: E402
from redgrid.commands import run  # noqa: E402
from redgrid.settings import load_settings  # noqa: E402

DELAY = float(os.environ.get("CRASH_BOT_DELAY", "0.05"))
_build_dispatcher = redgrid.bootstrap.build_dispatcher


async def slow_and_counted(handler, event, data):
    await asyncio.sleep(DELAY)
    result = await handler(event, data)
    update_id = data["event_update"].update_id
    await record(data["uow"], "update", update_id, "crash_test.handled", data["now"], data["person"].id)
    return result


async def say_ready() -> None:
    print("ready", flush=True)  # tests/proc.py: imported, migrated, about to poll


def build_dispatcher(*args, **kwargs):
    dp = _build_dispatcher(*args, **kwargs)
    dp.message.middleware(slow_and_counted)  # innermost: inside the unit of work and the inbox's seal
    dp.startup.register(say_ready)
    return dp


redgrid.bootstrap.build_dispatcher = build_dispatcher

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise SystemExit(asyncio.run(run(load_settings())))
