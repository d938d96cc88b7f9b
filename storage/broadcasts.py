"""Broadcasts: one message to many people (theme day, announcements), as ordinary outbox rows.

`start_broadcast` writes the broadcast and one outbox row per recipient in one transaction (in
chunks, so 10,000 recipients take well under a second); the delivery worker sends them like any
other notification, after personal ones, and `scheduler.broadcasts.ProgressReporter` keeps the
staff's progress message up to date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import func, select, update

from core.clock import SystemClock
from core.notifications import Notification, declared
from storage import tables as t
from storage.outbox import CHUNK, FAILED, PENDING, SENDING, SENT, SKIPPED, SqlOutbox, add_broadcast
from storage.uow import Database

FINISHED_KIND = declared("broadcast.finished")  # the summary to the staff member who started it


async def start_broadcast(db: Database, title: str, person_ids: Iterable[int], kind: str, payload: dict[str, Any],
                          created_by: int | None, *, now: datetime | None = None,
                          progress_chat_id: str | None = None, progress_message_id: int | None = None,
                          chunk: int = CHUNK) -> int:
    """Queue `kind` + `payload` for every person once; returns the broadcast's id.

    The staff's progress message is `progress_chat_id`/`progress_message_id` when the bot already
    sent one; otherwise the worker sends it to `created_by`. `now` defaults to the system clock.
    """
    now = now or SystemClock().now()
    async with db.uow() as uow:
        assert uow.conn is not None
        broadcast_id = await add_broadcast(uow.conn, title, person_ids, kind, payload, created_by, now=now,
                                           progress_chat_id=progress_chat_id,
                                           progress_message_id=progress_message_id, chunk=chunk)
        await uow.commit()
    return broadcast_id


@dataclass(frozen=True)
class BroadcastCounts:
    id: int
    title: str
    kind: str
    created_by: int | None
    created_at: datetime
    total: int
    progress_chat_id: str | None
    progress_message_id: int | None
    sent: int
    failed: int
    skipped: int
    left: int  # pending or sending


class SqlBroadcasts:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def unfinished(self) -> list[BroadcastCounts]:
        """Every broadcast still going, with its rows counted by state (one query)."""
        b, o = t.broadcasts, t.outbox
        async with self.db.engine.connect() as conn:
            heads = (await conn.execute(select(b).where(b.c.finished_at.is_(None)).order_by(b.c.id))).all()
            if not heads:
                return []
            counts: dict[int, dict[str, int]] = {}
            rows = await conn.execute(select(o.c.broadcast_id, o.c.state, func.count())
                                      .where(o.c.broadcast_id.in_([h.id for h in heads]))
                                      .group_by(o.c.broadcast_id, o.c.state))
            for broadcast_id, state, n in rows:
                counts.setdefault(broadcast_id, {})[state] = n
        result = []
        for h in heads:
            c = counts.get(h.id, {})
            result.append(BroadcastCounts(
                h.id, h.title, h.kind, h.created_by, h.created_at, h.total, h.progress_chat_id,
                h.progress_message_id, c.get(SENT, 0), c.get(FAILED, 0), c.get(SKIPPED, 0),
                c.get(PENDING, 0) + c.get(SENDING, 0)))
        return result

    async def set_progress_message(self, broadcast_id: int, chat_id: str, message_id: int) -> None:
        async with self.db.engine.begin() as conn:
            await conn.execute(update(t.broadcasts).where(t.broadcasts.c.id == broadcast_id)
                               .values(progress_chat_id=chat_id, progress_message_id=message_id))

    async def finish(self, counts: BroadcastCounts, now: datetime) -> bool:
        """Mark it finished and queue the summary for whoever started it, in one transaction.

        Returns False when another process finished it first (the summary is then theirs).
        """
        async with self.db.uow() as uow:
            conn = uow.conn
            assert conn is not None
            done = await conn.execute(update(t.broadcasts).where(
                t.broadcasts.c.id == counts.id, t.broadcasts.c.finished_at.is_(None)).values(finished_at=now))
            if not done.rowcount:
                return False
            if counts.created_by is not None:
                seconds = max(0.0, (now - counts.created_at).total_seconds())
                await SqlOutbox(conn).add_many([Notification(
                    counts.created_by, FINISHED_KIND,
                    {"broadcast_id": counts.id, "title": counts.title, "total": counts.total, "sent": counts.sent,
                     "failed": counts.failed, "skipped": counts.skipped, "seconds": round(seconds)},
                    dedupe_key=f"broadcast:{counts.id}:finished")], now=now)
            await uow.commit()
            return True
