"""The inbox: every update from Telegram, recorded before it is handled.

`admit` records a batch and says which updates are new; `mark_handled` / `mark_failed` close
them; `retry_later` gives a transient failure back for another try; `take` hands over what nobody holds.

Leases: a `received` row belongs to the process that admitted (or took) it until `lease_until`,
and that process renews the lease of the updates it is still working on. `take` hands a live
process the rows whose owner is gone: the lease ran out, or the owner is a process of this host
that no longer exists (a kill -9 and a restart need not wait for the lease). So a second process
never replays the first one's updates while the first one is alive. A second delivery of the same update (same id,
same content) is not new. Telegram may reuse an id after a week of silence (and a restarted Bot
API stand-in starts again at 1): the same id with other content replaces the old row and is new.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import bindparam, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t
from storage.outbox import dialect_insert

RECEIVED, HANDLED, FAILED = "received", "handled", "failed"
ERROR_MAX = 500


# built once: it runs for every update, and building it cost more than running it
_MARK_HANDLED = (update(t.inbox).where(t.inbox.c.update_id == bindparam("id"), t.inbox.c.state == RECEIVED)
                 .values(state=HANDLED, handled_at=bindparam("handled_at")))


def owner_token() -> str:
    """Who holds a lease: this host, this process, and a random part for each Inbox in it."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_is_gone(owner: str | None, me: str) -> bool:
    """True for an owner known to be dead: a process of this host that no longer exists, or an
    earlier inbox of this very process. Other hosts' owners are judged by their lease alone."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text, _, token = rest.partition(":")
    my_host, _, my_rest = me.partition(":")
    if host != my_host or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return owner != me
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


@dataclass(frozen=True)
class Taken:
    """An update a process took to handle (again): its id, its JSON and how often it was tried."""
    update_id: int
    raw: dict[str, Any]
    attempts: int


def digest(raw: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(raw, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class SqlInbox:
    """Inbox rows on one connection (the caller commits)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def admit(self, bot_id: int, updates: Sequence[tuple[int, dict[str, Any]]], now: datetime,
                    owner: str | None = None, lease_until: datetime | None = None) -> set[int]:
        """Record (update_id, raw) pairs, held by `owner` until `lease_until`; returns the ids that
        are new (to be handled)."""
        if not updates:
            return set()
        rows = {update_id: {"update_id": update_id, "bot_id": bot_id, "digest": digest(raw), "raw": raw,
                            "received_at": now, "state": RECEIVED, "handled_at": None, "error": None,
                            "owner": owner, "lease_until": lease_until, "attempts": 0}
                for update_id, raw in updates}
        stmt = dialect_insert(self.conn, t.inbox).values(list(rows.values()))
        stmt = stmt.on_conflict_do_update(
            index_elements=["update_id"],
            set_={name: stmt.excluded[name] for name in
                  ("bot_id", "digest", "raw", "received_at", "state", "handled_at", "error", "owner",
                   "lease_until", "attempts")},
            where=t.inbox.c.digest != stmt.excluded.digest,
        ).returning(t.inbox.c.update_id)
        return {row[0] for row in await self.conn.execute(stmt)}

    async def mark_handled(self, update_id: int, now: datetime) -> bool:
        result = await self.conn.execute(_MARK_HANDLED, {"id": update_id, "handled_at": now})
        return bool(result.rowcount)

    async def mark_handled_forgetting(self, update_id: int, now: datetime) -> bool:
        """Handled, and its content dropped: the update of someone who has not agreed to the privacy
        notice (core.consent), of whom nothing is kept. The id and digest stay, so a second delivery is
        still known for one."""
        result = await self.conn.execute(update(t.inbox).where(
            t.inbox.c.update_id == update_id, t.inbox.c.state == RECEIVED).values(
            state=HANDLED, handled_at=now, raw={"update_id": update_id}))
        return bool(result.rowcount)

    async def mark_failed(self, update_id: int, now: datetime, error: str) -> None:
        error = error if len(error) <= ERROR_MAX else error[: ERROR_MAX - 1] + "…"
        await self.conn.execute(update(t.inbox).where(
            t.inbox.c.update_id == update_id, t.inbox.c.state == RECEIVED).values(
            state=FAILED, handled_at=now, error=error))

    async def retry_later(self, update_id: int, at: datetime, error: str) -> None:
        """A transient failure (the network, Telegram's 5xx or 429, a lost database connection): the
        update waits, owned by nobody, until `at`; then any live process takes it again."""
        error = error if len(error) <= ERROR_MAX else error[: ERROR_MAX - 1] + "…"
        await self.conn.execute(update(t.inbox).where(t.inbox.c.update_id == update_id, t.inbox.c.state == RECEIVED)
                                .values(owner=None, lease_until=at, error=error, attempts=t.inbox.c.attempts + 1))

    async def renew(self, owner: str, update_ids: Sequence[int], until: datetime) -> None:
        """`owner` is still working on these updates."""
        if update_ids:
            await self.conn.execute(update(t.inbox).where(
                t.inbox.c.update_id.in_(list(update_ids)), t.inbox.c.owner == owner, t.inbox.c.state == RECEIVED)
                .values(lease_until=until))

    async def take(self, bot_id: int, owner: str, now: datetime, lease_until: datetime,
                   limit: int = 100) -> list[Taken]:
        """Received updates nobody alive holds, oldest first, now held by `owner`."""
        i = t.inbox
        holders = [row[0] for row in await self.conn.execute(
            select(i.c.owner).where(i.c.state == RECEIVED, i.c.bot_id == bot_id, i.c.lease_until >= now,
                                    i.c.owner.is_not(None)).distinct())]
        gone = [h for h in holders if owner_is_gone(h, owner)]
        free = or_(i.c.lease_until.is_(None), i.c.lease_until < now, i.c.owner.in_(gone) if gone else false())
        pick = (select(i.c.update_id).where(i.c.state == RECEIVED, i.c.bot_id == bot_id, free)
                .order_by(i.c.update_id).limit(limit).with_for_update(skip_locked=True))
        rows = await self.conn.execute(
            update(i).where(i.c.update_id.in_(pick.scalar_subquery()), i.c.state == RECEIVED, free)
            .values(owner=owner, lease_until=lease_until)
            .returning(i.c.update_id, i.c.raw, i.c.attempts))
        return sorted((Taken(u, raw, attempts) for u, raw, attempts in rows), key=lambda r: r.update_id)
