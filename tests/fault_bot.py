"""`redgrid run`, unchanged, for the fault-injection suite (tests/fault_kit.py) to kill, starve and
double: it only says "ready" (tests/proc.py) once it has started polling. Settings come from the
environment (BOT_API_URL, DATABASE_URL, REDIS_URL, …) as for `redgrid run`."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redgrid.bootstrap  # noqa: E402
from redgrid.commands import run  # noqa: E402
from redgrid.settings import load_settings  # noqa: E402

_build_dispatcher = redgrid.bootstrap.build_dispatcher


async def say_ready() -> None:
    print("ready", flush=True)


def build_dispatcher(*args, **kwargs):
    dp = _build_dispatcher(*args, **kwargs)
    dp.startup.register(say_ready)  # after the inbox's own start-up: what a crash left is being handled
    return dp


redgrid.bootstrap.build_dispatcher = build_dispatcher

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    raise SystemExit(asyncio.run(run(load_settings())))
