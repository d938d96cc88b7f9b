"""What the WeChat channel keeps: callbacks already taken, each user's message budget, and the
messages WeChat was asked to deliver. Each method is its own short transaction on the engine,
like the delivery queue's: the endpoint and the delivery worker call them between API calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import tables as t
from storage.outbox import PENDING, dialect_insert
from storage.wechat_tables import wechat_contacts, wechat_inbox, wechat_sends

RECEIVED, HANDLED, FAILED = "received", "handled", "failed"


@dataclass(frozen=True)
class Seen:
    """A callback met before: how far it got and the passive reply it was given."""
    state: str
    reply: str | None


@dataclass(frozen=True)
class Contact:
    """A user's budget as recorded: their last message (opens the 48-hour window), how many
    customer-service messages went out since, the one-time subscriptions left, the last notice."""
    last_message_at: datetime | None = None
    window_used: int = 0
    subscribe_credits: int = 0
    noticed_at: datetime | None = None


class SqlWeChat:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ callbacks (de-duplication)

    async def admit(self, dedupe_key: str, app: str, user: str, now: datetime) -> bool:
        """Record a callback before it is handled; False: it was met before (a retry or a replay)."""
        async with self.engine.begin() as conn:
            stmt = (dialect_insert(conn, wechat_inbox)
                    .values(dedupe_key=dedupe_key[:128], app=app, user_id=user[:64], received_at=now, state=RECEIVED)
                    .on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(wechat_inbox.c.dedupe_key))
            return (await conn.execute(stmt)).first() is not None

    async def seen(self, dedupe_key: str) -> Seen | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(wechat_inbox.c.state, wechat_inbox.c.reply)
                                      .where(wechat_inbox.c.dedupe_key == dedupe_key[:128]))).first()
            return Seen(row.state, row.reply) if row else None

    async def finish(self, dedupe_key: str, now: datetime, *, reply: str | None = None, failed: bool = False) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(wechat_inbox).where(wechat_inbox.c.dedupe_key == dedupe_key[:128])
                               .values(state=FAILED if failed else HANDLED, handled_at=now, reply=reply))

    async def prune(self, before: datetime) -> int:
        """Forget callbacks and sends older than `before` (WeChat retries within 15 s; WeCom counts an hour)."""
        async with self.engine.begin() as conn:
            gone = await conn.execute(delete(wechat_inbox).where(wechat_inbox.c.received_at < before))
            sends = await conn.execute(delete(wechat_sends).where(wechat_sends.c.at < before))
            return (gone.rowcount or 0) + (sends.rowcount or 0)

    # ------------------------------------------------------------------ budgets

    async def user_wrote(self, channel: str, user: str, now: datetime) -> int:
        """The user wrote: a fresh 48-hour window, and their rows held for want of one are due now.
        Returns how many held rows woke up."""
        async with self.engine.begin() as conn:
            stmt = dialect_insert(conn, wechat_contacts).values(channel=channel, user_id=user[:64],
                                                                last_message_at=now, window_used=0)
            await conn.execute(stmt.on_conflict_do_update(index_elements=["channel", "user_id"],
                                                          set_={"last_message_at": now, "window_used": 0}))
            persons = select(t.identities.c.person_id).where(t.identities.c.channel == channel,
                                                             t.identities.c.external_id == user)
            o = t.outbox.c
            woke = await conn.execute(update(t.outbox).where(
                o.channel == channel, o.state == PENDING, o.person_id.in_(persons.scalar_subquery()),
                o.not_before > now).values(not_before=now))
            return woke.rowcount or 0

    async def grant(self, channel: str, user: str, credits: int) -> None:
        """The user accepted `credits` one-time subscriptions of our notice template."""
        async with self.engine.begin() as conn:
            stmt = dialect_insert(conn, wechat_contacts).values(channel=channel, user_id=user[:64],
                                                                subscribe_credits=credits)
            await conn.execute(stmt.on_conflict_do_update(
                index_elements=["channel", "user_id"],
                set_={"subscribe_credits": wechat_contacts.c.subscribe_credits + credits}))

    async def contacts(self, channel: str, users: Iterable[str]) -> dict[str, Contact]:
        users = list(dict.fromkeys(users))
        if not users:
            return {}
        c = wechat_contacts.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(wechat_contacts).where(c.channel == channel, c.user_id.in_(users)))
            found = {r.user_id: Contact(r.last_message_at, r.window_used, r.subscribe_credits, r.noticed_at)
                     for r in rows}
        return {user: found.get(user, Contact()) for user in users}

    async def recent_sends(self, channel: str, users: Iterable[str], since: datetime) -> dict[str, list[datetime]]:
        users = list(dict.fromkeys(users))
        result: dict[str, list[datetime]] = {user: [] for user in users}
        if not users:
            return result
        s = wechat_sends.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(s.user_id, s.at).where(s.channel == channel, s.user_id.in_(users),
                                                                    s.at >= since).order_by(s.at))
            for user, at in rows:
                result[user].append(at)
        return result

    async def reserve(self, channel: str, user: str, via: str, now: datetime, *, in_window: bool = False,
                      credit: bool = False) -> int | None:
        """Count a message before the API is asked to deliver it (a crash then never undercounts).
        `in_window`: one of the 48-hour window's messages; `credit`: spends a one-time subscription
        (None, and nothing counted, when none is left). Returns the send's id."""
        c = wechat_contacts.c
        async with self.engine.begin() as conn:
            if credit:
                spent = await conn.execute(update(wechat_contacts).where(
                    c.channel == channel, c.user_id == user, c.subscribe_credits > 0).values(
                    subscribe_credits=c.subscribe_credits - 1, noticed_at=now))
                if not spent.rowcount:
                    return None
            if in_window:
                await conn.execute(update(wechat_contacts).where(c.channel == channel, c.user_id == user)
                                   .values(window_used=c.window_used + 1))
            result = await conn.execute(wechat_sends.insert().values(channel=channel, user_id=user[:64], at=now,
                                                                     via=via))
            return result.inserted_primary_key[0]

    async def delivered_at(self, send_id: int, at: datetime) -> None:
        """The API answered at `at`: WeChat counted the message somewhere before that, so counting it
        from then on is safe against WeCom's sliding minute and hour."""
        async with self.engine.begin() as conn:
            await conn.execute(update(wechat_sends).where(wechat_sends.c.id == send_id).values(at=at))

    async def window_closed(self, channel: str, user: str, window_messages: int) -> None:
        """WeChat says the window is closed or used up (45015 / 45047): believe it until they write."""
        c = wechat_contacts.c
        async with self.engine.begin() as conn:
            await conn.execute(update(wechat_contacts).where(c.channel == channel, c.user_id == user)
                               .values(window_used=window_messages))

    async def noticed(self, channel: str, user: str, now: datetime) -> None:
        c = wechat_contacts.c
        async with self.engine.begin() as conn:
            await conn.execute(update(wechat_contacts).where(c.channel == channel, c.user_id == user)
                               .values(noticed_at=now))
