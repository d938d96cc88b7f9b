"""Shared by the delivery tests, the crash test's worker process and the benchmark: many people
with a Telegram account each, quickly, and a plain renderer in place of the bot's catalog."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select

from core.notifications import Notification
from core.people import Identity, Person
from scheduler.delivery import Outgoing
from storage import tables as t
from storage.uow import Database

FIRST_USER_ID = 100_000


async def add_recipients(db: Database, count: int, now: datetime, first_user_id: int = FIRST_USER_ID) -> list[int]:
    """`count` people with Telegram accounts (user id = chat id = first_user_id + n); returns their ids."""
    async with db.engine.begin() as conn:
        start = (await conn.execute(select(func.coalesce(func.max(t.persons.c.id), 0)))).scalar()
        people = [{"id": start + 1 + n, "display_name": f"居民{n}", "created_at": now} for n in range(count)]
        await conn.execute(insert(t.persons), people)
        await conn.execute(insert(t.identities), [
            {"person_id": p["id"], "channel": "telegram", "external_id": str(first_user_id + n),
             "chat_id": str(first_user_id + n), "reachable": True} for n, p in enumerate(people)])
        if conn.dialect.name == "postgresql":  # explicit ids: move the sequence past them
            await conn.execute(select(func.setval("persons_id_seq", start + count)))
    return [p["id"] for p in people]


def user_id_of(n: int, first_user_id: int = FIRST_USER_ID) -> int:
    return first_user_id + n


async def plain_render(uow, notification: Notification, person: Person, identity: Identity) -> Outgoing | None:
    """What the bot's catalog would say, in plain words: the kind, the payload, the person."""
    if notification.kind == "nothing":
        return None
    words = " ".join(f"{k}={v}" for k, v in sorted(notification.payload.items()))
    return Outgoing(f"{notification.kind} {words} → {person.display_name}".strip())
