"""The delivery worker alone in a process, for tests/test_delivery_crash.py to kill mid-broadcast.

The environment names the database (DATABASE_URL), the stand-in (BOT_API_URL) and the pace
(DELIVERY_RATE messages a second overall, no per-chat spacing: every chat gets one message).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from demo.harness import standin_bot  # noqa: E402
from scheduler.delivery import DeliveryWorker  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.uow import Database  # noqa: E402
from tests.delivery_kit import plain_render  # noqa: E402


async def main() -> None:
    db = Database(make_engine(os.environ["DATABASE_URL"]))
    bot = standin_bot(os.environ["BOT_API_URL"])
    worker = DeliveryWorker(db, bot, plain_render, global_rate=float(os.environ.get("DELIVERY_RATE", "2000")),
                            per_chat_rate=0, batch=int(os.environ.get("DELIVERY_BATCH", "500")), idle_poll=0.05)
    print("ready", flush=True)  # tests/proc.py: the test's timing starts here, after the imports
    try:
        await worker.run()
    finally:
        await bot.session.close()
        await db.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(main())
