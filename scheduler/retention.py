"""The daily retention job (core/retention.py says what is kept how long).

Run by the leader every half hour; the first run of each day (in the community's time zone) does the
work and inserts `retention:<day>` in `done_jobs` in the same transaction, so a restart, a second
process or a missed night does it once a day. In that transaction: photos of cases finished more
than PHOTO_RETENTION_DAYS ago are dropped from their cases (each case's history says so), and old
dialog, inbox and outbox rows are deleted. After the commit, photo files that nothing names any more
are deleted, unless saved or sent again within DIALOG_KEEP_DAYS (a dialog may be holding them); a
crash between the two leaves files that the next day's run removes. The log says counts only.

Two clocks: `clock` is the domain's (cases were closed by it, and the demo moves it), `real` the
wall clock that stamps dialog rows, the inbox, the outbox and files.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, tzinfo

from core.clock import Clock
from core.retention import RetentionPolicy
from core.retention_services import expire_case_photos
from media.photos import PhotoStore
from media.voice import VoiceStore
from storage.retention import photo_names_in_use, voice_names_in_use, prune_dialogs, prune_inbox, prune_outbox
from storage.uow import Database

log = logging.getLogger(__name__)


async def retention_run(db: Database, photos: PhotoStore, policy: RetentionPolicy, clock: Clock, tz: tzinfo,
                        real: Clock | None = None) -> dict[str, int] | None:
    """Today's retention work, once a day; what it removed (None: done today already)."""
    now = clock.now()
    wall = (real or clock).now()
    day = now.astimezone(tz).date()
    async with db.uow() as uow:
        if not await uow.volunteering.mark_done(f"retention:{day.isoformat()}", now):
            return None
        expired: list[str] = []
        while batch := await expire_case_photos(uow, policy, now):
            expired += batch
        assert uow.conn is not None
        counts = {"cases_photos_expired": len(expired),
                  "dialogs": await prune_dialogs(uow.conn, wall - timedelta(days=policy.dialog_days)),
                  "inbox": await prune_inbox(uow.conn, wall - timedelta(days=policy.inbox_days)),
                  "outbox": await prune_outbox(uow.conn, wall - timedelta(days=policy.outbox_days))}
        await uow.commit()
    counts["photo_files"] = await remove_unnamed_photos(db, photos, wall - timedelta(days=policy.dialog_days))
    counts["voice_files"] = await remove_unnamed_voices(db, VoiceStore(photos.root),
                                                        wall - timedelta(days=policy.dialog_days))
    log.info("retention %s: %s; cases %s", day.isoformat(), counts, ",".join(expired) or "-")
    return counts


async def remove_unnamed_photos(db: Database, photos: PhotoStore, saved_before: datetime) -> int:
    """Delete the photo files no case or attendance names that were not saved since `saved_before`."""
    async with db.engine.connect() as conn:
        in_use = await photo_names_in_use(conn)
    return await asyncio.to_thread(photos.remove_unnamed, in_use, saved_before.timestamp())


async def remove_unnamed_voices(db: Database, voices: VoiceStore, saved_before: datetime) -> int:
    """Delete the voice note files no row names (an expired case's, a dialog never sent) that were not
    saved since `saved_before`."""
    async with db.engine.connect() as conn:
        in_use = await voice_names_in_use(conn)
    return await asyncio.to_thread(voices.remove_unnamed, in_use, saved_before.timestamp())
