"""The WeChat channel's dialogs: one row of `wechat_dialogs` per account (channel + user id).

WeChat has no buttons, so a dialog is "what the numbers in my last reply mean" plus the data of an
unfinished step (a report's photos, category, building). It is read and written on the connection of
the message's unit of work (wechat/conversation.py), so it commits with the message's effects or not at
all: a message handled again finds the dialog where the effects left it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import tables as t

_table = t.wechat_dialogs


@dataclass
class DialogRow:
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None


class SqlWeChatDialogs:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, channel: str, user_id: str) -> DialogRow:
        row = (await self.conn.execute(select(_table.c.state, _table.c.data, _table.c.updated_at).where(
            _table.c.channel == channel, _table.c.user_id == user_id))).first()
        if row is None:
            return DialogRow()
        return DialogRow(row.state, dict(row.data or {}), row.updated_at)

    async def lock(self, channel: str, user_id: str, now: datetime) -> None:
        """Hold this account's row until the unit of work ends (PostgreSQL: SELECT … FOR UPDATE), so two
        processes never run one account's dialog at once: the second waits, then reads what the first
        committed. A first message's row is made first, empty (as `get` reads a missing one). SQLite:
        nothing to do — one process per database file (scheduler/leader.py), writers serialised."""
        if self.conn.dialect.name != "postgresql":
            return
        from sqlalchemy.dialects.postgresql import insert

        await self.conn.execute(insert(_table).values(channel=channel, user_id=user_id, state=None, data={},
                                                      updated_at=now).on_conflict_do_nothing())
        await self.conn.execute(select(_table.c.channel).where(
            _table.c.channel == channel, _table.c.user_id == user_id).with_for_update())

    async def put(self, channel: str, user_id: str, state: str | None, data: dict[str, Any], now: datetime) -> None:
        if self.conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(_table).values(channel=channel, user_id=user_id, state=state, data=data, updated_at=now)
        await self.conn.execute(stmt.on_conflict_do_update(
            index_elements=["channel", "user_id"], set_={"state": state, "data": data, "updated_at": now}))

    async def forget(self, channel: str, user_id: str) -> None:
        await self.conn.execute(delete(_table).where(_table.c.channel == channel, _table.c.user_id == user_id))
