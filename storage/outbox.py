"""The outbox: what the bot says on its own, written in the caller's transaction.

`SqlOutbox` implements `core.notifications.Outbox` on the unit of work's connection, so a
notification is kept exactly when the change that caused it is. `DeliveryQueue` holds the
delivery worker's queries (scheduler/delivery.py): one claim per batch, one short transaction
per outcome.

A row's life: pending → sending (claimed, committed before the Bot API is called) → sent |
failed | skipped; a retry puts it back to pending with a later `not_before`. Rows found in
`sending` when a worker starts were claimed by a worker that died: they go back to pending.
Each row names the channel whose worker sends it (`channel`): written at add time as the channel of
the person's newest reachable identity (a WeChat account bound after the Telegram one wins; none:
telegram, whose worker skips it as today), or given by the caller (a late reply to a WeChat message
goes back to WeChat). A `DeliveryQueue` claims, recovers and waits for its own channel's rows only.
A claim holds a row for `LEASE` (the worker renews it while it works through the batch); a row
still `sending` past its lease was left by a batch that failed half-way, and the next claim of any
live worker puts it back to pending, so nothing waits for a restart.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, bindparam, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.clock import Clock, SystemClock
from core.notifications import Notification
from core.people import Identity, Person
from storage import tables as t
from storage.engine import database_away

PENDING, SENDING, SENT, FAILED, SKIPPED = "pending", "sending", "sent", "failed", "skipped"
PERSONAL, BROADCAST = 0, 1  # priority: a reminder to one person goes before the 8,000th theme-day note
ERROR_MAX = 500
LEASE = timedelta(seconds=45)


def dialect_insert(conn: AsyncConnection, table: t.Table):
    """INSERT with ON CONFLICT support on both databases."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def outbox_row(notification: Notification, now: datetime, not_before: datetime | None = None) -> dict[str, Any]:
    return {
        "person_id": notification.person_id, "kind": notification.kind, "payload": dict(notification.payload),
        "dedupe_key": notification.dedupe_key, "broadcast_id": notification.broadcast_id,
        "priority": BROADCAST if notification.broadcast_id is not None else PERSONAL,
        "state": PENDING, "attempts": 0, "not_before": notification.not_before or not_before or now,
        "created_at": now,
    }


DEFAULT_CHANNEL = "telegram"


def preferred_channel(person_id):
    """The channel a person is reached on: their newest reachable identity's (newest of all when none
    is reachable), telegram when they have none. A SQL expression, so the row is routed in its INSERT."""
    i = t.identities
    newest = (select(i.c.channel).where(i.c.person_id == person_id)
              .order_by(i.c.reachable.desc(), i.c.id.desc()).limit(1).scalar_subquery())
    return func.coalesce(newest, literal(DEFAULT_CHANNEL))


class SqlOutbox:
    """`uow.outbox`: a row in the caller's transaction; a `dedupe_key` seen before is ignored."""

    def __init__(self, conn: AsyncConnection, clock: Clock | None = None) -> None:
        self.conn = conn
        self.clock = clock or SystemClock()

    async def add(self, notification: Notification) -> None:
        await self.add_many([notification])

    async def add_many(self, notifications: Iterable[Notification], *, now: datetime | None = None,
                       not_before: datetime | None = None, channel: str | None = None) -> None:
        """`channel`: send on this channel whatever the person's newest identity is (None: route)."""
        now = now or self.clock.now()
        rows = [outbox_row(n, now, not_before) for n in notifications]
        if not rows:
            return
        stmt = dialect_insert(self.conn, t.outbox)
        if channel is None:
            for row in rows:
                row["route_person"] = row["person_id"]
            stmt = stmt.values(channel=preferred_channel(bindparam("route_person")))
        else:
            for row in rows:
                row["channel"] = channel
        await self.conn.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]), rows)


@dataclass
class Claimed:
    """A row the worker took, with whom it is for (identity None: they have no Telegram account)."""

    id: int
    notification: Notification
    attempts: int
    person: Person
    identity: Identity | None
    created_at: datetime | None = None


def _error(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


class DeliveryQueue:
    """The delivery worker's side of the outbox. Each method is its own short transaction."""

    def __init__(self, engine: AsyncEngine, channel: str = "telegram") -> None:
        self.engine = engine
        self.channel = channel
        self._conn: AsyncConnection | None = None  # kept open for the one-row outcomes: one commit each
        self._lock = asyncio.Lock()  # several lanes (in_flight > 1) take turns on it

    async def _write(self, *statements) -> list:
        """Run statements in one short transaction on the worker's own connection."""
        async def run(conn: AsyncConnection) -> list:
            return [await conn.execute(stmt) for stmt in statements]
        return await self._transaction(run)

    async def _transaction(self, work):
        """`work` in one transaction on the kept connection. A connection the database dropped (a
        failover, pg_terminate_backend, a restart) is replaced and the work done once more: every
        outcome write is idempotent, and giving up would leave a row that *was* sent in `sending`,
        to be sent again when its lease runs out."""
        async with self._lock:
            for attempt in (1, 2):
                if self._conn is None:
                    self._conn = await self.engine.connect()
                try:
                    result = await work(self._conn)
                    await self._conn.commit()
                    return result
                except BaseException as exc:
                    conn, self._conn = self._conn, None
                    try:
                        await conn.rollback()
                        await conn.close()
                    except BaseException:
                        await conn.invalidate()
                    if attempt == 1 and database_away(exc):
                        continue
                    raise

    async def close(self) -> None:
        async with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                await conn.close()

    async def recover(self) -> int:
        """Rows a dead worker left in `sending` go back to pending; returns how many."""
        async with self.engine.begin() as conn:
            result = await conn.execute(update(t.outbox).where(t.outbox.c.channel == self.channel,
                                                               t.outbox.c.state == SENDING).values(state=PENDING))
            return result.rowcount or 0

    async def claim(self, now: datetime, limit: int, lease: timedelta = LEASE) -> list[Claimed]:
        """Up to `limit` due rows, marked `sending` until `now + lease` and committed.

        Rows whose lease ran out go back to pending first (a batch that failed half-way). On
        PostgreSQL the rows are picked FOR UPDATE SKIP LOCKED, so two workers never take the
        same row; SQLite has one writer at a time anyway.
        """
        o, p, i = t.outbox, t.persons, t.identities
        due = (select(o.c.id).where(o.c.channel == self.channel, o.c.state == PENDING, o.c.not_before <= now)
               .order_by(o.c.priority, o.c.not_before, o.c.id).limit(limit)
               .with_for_update(skip_locked=True))
        async with self.engine.begin() as conn:
            await conn.execute(update(o).where(o.c.channel == self.channel, o.c.state == SENDING,
                                               (o.c.lease_until < now) | o.c.lease_until.is_(None))
                               .values(state=PENDING, lease_until=None))
            claimed = await conn.execute(update(o).where(o.c.id.in_(due.scalar_subquery()))
                                         .values(state=SENDING, lease_until=now + lease).returning(o.c.id))
            ids = [row[0] for row in claimed]
            if not ids:
                return []
            rows = await conn.execute(
                select(o.c.id, o.c.person_id, o.c.kind, o.c.payload, o.c.dedupe_key, o.c.broadcast_id,
                       o.c.attempts, o.c.created_at.label("row_created_at"), p.c.display_name, p.c.language,
                       p.c.phone, p.c.created_at,
                       i.c.id.label("identity_id"), i.c.external_id, i.c.chat_id, i.c.reachable)
                .select_from(o.join(p, p.c.id == o.c.person_id)
                             .outerjoin(i, and_(i.c.person_id == o.c.person_id, i.c.channel == self.channel)))
                .where(o.c.id.in_(ids))
                .order_by(o.c.priority, o.c.not_before, o.c.id, i.c.reachable.desc(), i.c.id.desc()))
            result: dict[int, Claimed] = {}
            for r in rows:
                if r.id in result:  # several accounts on the channel: the reachable, newest one is kept
                    continue
                identity = None
                if r.identity_id is not None:
                    identity = Identity(r.identity_id, r.person_id, self.channel, r.external_id, r.chat_id,
                                        bool(r.reachable))
                result[r.id] = Claimed(
                    r.id, Notification(r.person_id, r.kind, r.payload or {}, r.dedupe_key, r.broadcast_id),
                    r.attempts, Person(r.person_id, r.display_name, r.language, r.phone, r.created_at), identity,
                    r.row_created_at)
            return list(result.values())

    async def renew(self, row_ids: Sequence[int], until: datetime) -> None:
        """The worker is still on these rows: keep them `sending` until `until`."""
        if row_ids:
            await self._write(update(t.outbox).where(t.outbox.c.id.in_(list(row_ids)), t.outbox.c.state == SENDING)
                              .values(lease_until=until))

    async def sent(self, row_id: int, now: datetime, message_id: int | None) -> None:
        await self._write(update(t.outbox).where(t.outbox.c.id == row_id).values(
            state=SENT, sent_at=now, sent_message_id=message_id, attempts=t.outbox.c.attempts + 1))

    async def retry(self, row_id: int, not_before: datetime, error: str) -> None:
        """A send that may work later (network, Telegram's 5xx): pending again, one attempt more."""
        await self._write(update(t.outbox).where(t.outbox.c.id == row_id).values(
            state=PENDING, not_before=not_before, last_error=_error(error), attempts=t.outbox.c.attempts + 1))

    async def failed(self, row_id: int, error: str, *, attempted: bool = True) -> None:
        values: dict[str, Any] = {"state": FAILED, "last_error": _error(error)}
        if attempted:
            values["attempts"] = t.outbox.c.attempts + 1
        await self._write(update(t.outbox).where(t.outbox.c.id == row_id).values(**values))

    async def skip(self, row_ids: Sequence[int], reason: str) -> None:
        if row_ids:
            await self._write(update(t.outbox).where(t.outbox.c.id.in_(list(row_ids)))
                              .values(state=SKIPPED, last_error=_error(reason)))

    async def hold(self, row_ids: Sequence[int], until: datetime, reason: str) -> None:
        """Rows that may not go out yet for a reason of the channel's (WeChat: outside the user's
        48-hour window): pending again from `until`, the reason kept in `last_error`."""
        if row_ids:
            await self._write(update(t.outbox).where(t.outbox.c.id.in_(list(row_ids)))
                              .values(state=PENDING, not_before=until, last_error=_error(reason)))

    async def release(self, not_before: dict[int, datetime]) -> None:
        """Claimed rows given back untried (their chat must wait): pending again from `not_before`."""
        by_time: dict[datetime, list[int]] = {}
        for row_id, moment in not_before.items():
            by_time.setdefault(moment, []).append(row_id)
        if by_time:
            await self._write(*(update(t.outbox).where(t.outbox.c.id.in_(ids)).values(state=PENDING, not_before=moment)
                                for moment, ids in by_time.items()))

    async def unreachable(self, row_id: int, identity_id: int, person_id: int, now: datetime, error: str) -> None:
        """The person blocked the bot: their identity is marked so, the row skipped, an event kept."""
        async def mark(conn: AsyncConnection) -> None:
            marked = await conn.execute(update(t.identities).where(
                t.identities.c.id == identity_id, t.identities.c.reachable.is_(True)).values(reachable=False))
            if marked.rowcount:
                await conn.execute(t.events.insert().values(
                    subject_type="person", subject_id=str(person_id), kind="unreachable", at=now, actor_id=None,
                    after={"channel": self.channel, "reason": _error(error)}))
            await conn.execute(update(t.outbox).where(t.outbox.c.id == row_id).values(
                state=SKIPPED, last_error=_error(f"unreachable: {error}"), attempts=t.outbox.c.attempts + 1))
        await self._transaction(mark)

    async def next_due(self) -> datetime | None:
        """When the earliest pending row becomes due (None: nothing is pending)."""
        async with self.engine.connect() as conn:
            return (await conn.execute(select(func.min(t.outbox.c.not_before))
                                       .where(t.outbox.c.channel == self.channel,
                                              t.outbox.c.state == PENDING))).scalar()

    async def counts(self) -> dict[str, int]:
        """Rows by state (for tests, the benchmark and a health check)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(t.outbox.c.state, func.count()).group_by(t.outbox.c.state))
            return {state: n for state, n in rows}


# ------------------------------------------------------------ broadcasts: one kind, many outbox rows

CHUNK = 2000  # outbox rows written per statement


async def add_broadcast(conn: AsyncConnection, title: str, person_ids: Iterable[int], kind: str,
                        payload: dict[str, Any], created_by: int | None, *, now: datetime,
                        not_before: datetime | None = None, progress_chat_id: str | None = None,
                        progress_message_id: int | None = None, chunk: int = CHUNK) -> int:
    """`start_broadcast` in the caller's transaction (a scheduler job commits it with its done key).

    `not_before`: no row is sent earlier (quiet hours).
    """
    recipients = list(dict.fromkeys(person_ids))
    result = await conn.execute(insert(t.broadcasts).values(
        title=title[:200], kind=kind, created_by=created_by, created_at=now, total=len(recipients),
        progress_chat_id=progress_chat_id, progress_message_id=progress_message_id))
    broadcast_id = result.inserted_primary_key[0]
    outbox = SqlOutbox(conn)
    for start in range(0, len(recipients), chunk):
        await outbox.add_many((Notification(person_id, kind, payload, None, broadcast_id)
                               for person_id in recipients[start:start + chunk]), now=now, not_before=not_before)
    return broadcast_id


class SqlBroadcastWriter:
    """`uow.broadcasts`: start a broadcast inside the unit of work (see add_broadcast)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def start(self, title: str, person_ids: Iterable[int], kind: str, payload: dict[str, Any],
                    created_by: int | None, *, now: datetime, not_before: datetime | None = None,
                    progress_chat_id: str | None = None, progress_message_id: int | None = None) -> int:
        return await add_broadcast(self.conn, title, person_ids, kind, payload, created_by, now=now,
                                   not_before=not_before, progress_chat_id=progress_chat_id,
                                   progress_message_id=progress_message_id)
