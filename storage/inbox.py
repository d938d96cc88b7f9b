"""The inbox: every update from Telegram, recorded before it is handled.

`admit` records a batch and says which updates are new; `mark_handled` / `mark_failed` close
them; `unhandled` lists what a crash left behind. A second delivery of the same update (same id,
same content) is not new. Telegram may reuse an id after a week of silence (and a restarted Bot
API stand-in starts again at 1): the same id with other content replaces the old row and is new.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t
from storage.outbox import dialect_insert

RECEIVED, HANDLED, FAILED = "received", "handled", "failed"
ERROR_MAX = 500


# built once: it runs for every update, and building it cost more than running it
_MARK_HANDLED = (update(t.inbox).where(t.inbox.c.update_id == bindparam("id"), t.inbox.c.state == RECEIVED)
                 .values(state=HANDLED, handled_at=bindparam("handled_at")))


def digest(raw: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(raw, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class SqlInbox:
    """Inbox rows on one connection (the caller commits)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def admit(self, bot_id: int, updates: Sequence[tuple[int, dict[str, Any]]], now: datetime) -> set[int]:
        """Record (update_id, raw) pairs; returns the ids that are new (to be handled)."""
        if not updates:
            return set()
        rows = {update_id: {"update_id": update_id, "bot_id": bot_id, "digest": digest(raw), "raw": raw,
                            "received_at": now, "state": RECEIVED, "handled_at": None, "error": None}
                for update_id, raw in updates}
        stmt = dialect_insert(self.conn, t.inbox).values(list(rows.values()))
        stmt = stmt.on_conflict_do_update(
            index_elements=["update_id"],
            set_={name: stmt.excluded[name] for name in
                  ("bot_id", "digest", "raw", "received_at", "state", "handled_at", "error")},
            where=t.inbox.c.digest != stmt.excluded.digest,
        ).returning(t.inbox.c.update_id)
        return {row[0] for row in await self.conn.execute(stmt)}

    async def mark_handled(self, update_id: int, now: datetime) -> bool:
        result = await self.conn.execute(_MARK_HANDLED, {"id": update_id, "handled_at": now})
        return bool(result.rowcount)

    async def mark_failed(self, update_id: int, now: datetime, error: str) -> None:
        error = error if len(error) <= ERROR_MAX else error[: ERROR_MAX - 1] + "…"
        await self.conn.execute(update(t.inbox).where(
            t.inbox.c.update_id == update_id, t.inbox.c.state == RECEIVED).values(
            state=FAILED, handled_at=now, error=error))

    async def unhandled(self, bot_id: int | None = None, limit: int = 1000) -> list[tuple[int, dict[str, Any]]]:
        """Updates recorded but never handled (a crash), oldest first."""
        stmt = select(t.inbox.c.update_id, t.inbox.c.raw).where(t.inbox.c.state == RECEIVED)
        if bot_id is not None:
            stmt = stmt.where(t.inbox.c.bot_id == bot_id)
        rows = await self.conn.execute(stmt.order_by(t.inbox.c.update_id).limit(limit))
        return [(update_id, raw) for update_id, raw in rows]
