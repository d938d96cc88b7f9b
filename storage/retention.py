"""Storage's side of retention: forgetting old technical rows, and which photo files something names.

Each prune is one DELETE by an indexed moment; the counts go to the log (ids and counts only).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, union
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t
from storage.case_tables import case_photos, voice_notes
from storage.volunteer_tables import volunteer_claims

FINISHED_OUTBOX = ("sent", "failed", "skipped")


async def prune_dialogs(conn: AsyncConnection, before: datetime) -> int:
    """Unfinished dialogs last written before `before` (a report never confirmed, its photos' names)."""
    d = t.dialog_state.c
    return (await conn.execute(delete(t.dialog_state).where(d.updated_at < before))).rowcount or 0


async def prune_inbox(conn: AsyncConnection, before: datetime) -> int:
    """Handled and failed updates received before `before` (their raw text is what people wrote);
    one still `received` is kept, as the inbox will handle it."""
    i = t.inbox.c
    return (await conn.execute(delete(t.inbox).where(
        i.state.in_(("handled", "failed")), i.received_at < before))).rowcount or 0


async def prune_outbox(conn: AsyncConnection, before: datetime) -> int:
    """Notifications sent, failed or skipped, written before `before`; those of a broadcast still
    going are kept, as its progress counts them."""
    o, b = t.outbox.c, t.broadcasts.c
    going = select(b.id).where(b.finished_at.is_(None))
    return (await conn.execute(delete(t.outbox).where(
        o.state.in_(FINISHED_OUTBOX), o.created_at < before,
        or_(o.broadcast_id.is_(None), o.broadcast_id.not_in(going))))).rowcount or 0


async def photo_names_in_use(conn: AsyncConnection) -> set[str]:
    """Every photo a case or an attendance (check-in, check-out) names."""
    c = volunteer_claims.c
    names = union(select(case_photos.c.sha256.label("name")),
                  select(c.check_in_photo.label("name")).where(c.check_in_photo.is_not(None)),
                  select(c.check_out_photo.label("name")).where(c.check_out_photo.is_not(None)))
    return {row[0] for row in await conn.execute(names)}


async def voice_names_in_use(conn: AsyncConnection) -> set[str]:
    """Every voice note file a row names (core.voice)."""
    return {row[0] for row in await conn.execute(select(voice_notes.c.file).distinct())}
