"""A theme-day broadcast to Zichuan's 8,200 registered party members, through the Bot API stand-in
with Telegram's flood limits on (30 messages a second overall, 1 a second per chat).

    python bench/broadcast.py                      # the full run, ~5 minutes; writes bench/results/broadcast.json
    python bench/broadcast.py --recipients 300     # a quick check (prints only)
    python bench/broadcast.py --database postgresql+asyncpg://postgres@127.0.0.1:5432/bench

The limits make 8,200 / 30 = 273 s the floor; the target is 290 s, no message lost, none twice,
and no 429 after the first. The real delivery worker runs with its production defaults; a staff
member watches the progress message, which the worker edits every 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo.harness import running_standin, standin_bot  # noqa: E402
from scheduler.broadcasts import ProgressReporter, plain_progress_text  # noqa: E402
from scheduler.delivery import DeliveryWorker  # noqa: E402
from storage.broadcasts import start_broadcast  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.outbox import DeliveryQueue  # noqa: E402
from storage.uow import Database  # noqa: E402
from tests.delivery_kit import add_recipients, plain_render, user_id_of  # noqa: E402

ZICHUAN_PARTY_MEMBERS = 8200
RESULTS = ROOT / "bench" / "results" / "broadcast.json"


async def _fresh_database(url: str | None, folder: Path) -> tuple[Database, str]:
    url = url or f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}"
    engine = make_engine(url)
    if url.startswith("postgresql"):
        from sqlalchemy import text

        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await upgrade(engine)
    return Database(engine), url


async def bench(recipients: int, database: str | None, rate: float, per_chat: float, batch: int,
                in_flight: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        db, url = await _fresh_database(database, Path(folder))
        now = datetime.now(timezone.utc)
        staff, *people = await add_recipients(db, recipients + 1, now)
        async with running_standin(flood_limits=True, max_per_second=30, max_per_chat_per_second=1) as standin:
            for n in range(recipients + 1):
                standin.add_user(user_id_of(n), f"党员{n}")
            bot = standin_bot(standin.base_url)
            worker = DeliveryWorker(db, bot, plain_render, global_rate=rate, per_chat_rate=per_chat, batch=batch,
                                    in_flight=in_flight)
            worker.progress = ProgressReporter(db, bot, plain_progress_text, pacer=worker.pacer, every=5.0)
            running = asyncio.create_task(worker.run())
            await asyncio.sleep(0.2)  # the worker is polling an empty outbox, as in production

            started = time.monotonic()
            await start_broadcast(db, "28日主题党日", people, "theme_day", {"day": 28, "place": "社区党群服务中心"},
                                  staff, now=datetime.now(timezone.utc))
            queued = time.monotonic() - started
            queue = DeliveryQueue(db.engine)
            last_report = started
            while True:
                counts = await queue.counts()
                if not counts.get("pending") and not counts.get("sending") and \
                        len(standin.deliveries(user_id_of(0))) >= 1 and standin.bot_messages(user_id_of(0))[-1].text \
                        .startswith("broadcast.finished"):
                    break
                if time.monotonic() - last_report >= 30:
                    last_report = time.monotonic()
                    print(f"  {time.monotonic() - started:5.0f} s  {counts}", flush=True)
                await asyncio.sleep(0.5)
            worker.stop()
            await running
            await bot.session.close()

            deliveries = [d for n in range(1, recipients + 1) for d in standin.deliveries(user_id_of(n))]
            first, last = min(d.at for d in deliveries), max(d.at for d in deliveries)
            per_chat_counts = [len(standin.deliveries(user_id_of(n))) for n in range(1, recipients + 1)]
            staff_messages = standin.bot_messages(user_id_of(0))
            elapsed = last - started
            floor = recipients / 30
        await db.dispose()
    return {
        "recipients": recipients,
        "database": url.split(":")[0].split("+")[0],
        "elapsed_s": round(elapsed, 1),
        "first_to_last_s": round(last - first, 1),
        "messages_per_s": round(recipients / elapsed, 2),
        "floor_s": round(floor, 1),
        "target_s": round(290 * recipients / ZICHUAN_PARTY_MEMBERS, 1),
        "queue_broadcast_s": round(queued, 3),
        "too_many_requests": standin.too_many_requests_count,
        "flood_errors_after_first": max(0, standin.too_many_requests_count - 1),
        "duplicates": sum(n - 1 for n in per_chat_counts if n > 1),
        "lost": sum(1 for n in per_chat_counts if n == 0),
        "progress_edits": staff_messages[0].edits if staff_messages else 0,
        "summary_sent": int(bool(staff_messages) and staff_messages[-1].text.startswith("broadcast.finished")),
        "global_rate": rate,
        "per_chat_rate": per_chat,
        "batch": batch,
        "in_flight": in_flight,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=ZICHUAN_PARTY_MEMBERS)
    parser.add_argument("--database", help="SQLAlchemy async URL (default: a fresh SQLite file); "
                                           "a PostgreSQL database is emptied first")
    parser.add_argument("--rate", type=float, default=30.0, help="the worker's global pace (messages a second)")
    parser.add_argument("--per-chat", type=float, default=1.0, help="the worker's per-chat pace")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=1)
    parser.add_argument("--out", type=Path, help=f"where to write the figures (default: {RESULTS.relative_to(ROOT)} "
                                                 "for the full run, nowhere otherwise)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    print(f"broadcast to {args.recipients} recipients through the stand-in (30/s, 1/s per chat)…", flush=True)
    result = asyncio.run(bench(args.recipients, args.database, args.rate, args.per_chat, args.batch, args.in_flight))
    for key, value in result.items():
        print(f"  {key:26} {value}")
    out = args.out or (RESULTS if args.recipients == ZICHUAN_PARTY_MEMBERS and not args.database else None)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"written to {out}")
    ok = result["lost"] == 0 and result["duplicates"] == 0 and result["flood_errors_after_first"] == 0 \
        and result["elapsed_s"] <= result["target_s"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
