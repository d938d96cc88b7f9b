"""Two workers (processes, each with its own connections) never run one WeChat account's dialog at the
same time: on PostgreSQL the conversation locks the account's `wechat_dialogs` row (SELECT … FOR UPDATE)
before it reads the dialog, so the second waits for the first to commit and reads what it left.

Without it, two photos of one report handled by two workers at once both read "no photos yet" and
the later commit keeps one photo: the other is lost."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from core.volunteering.common_services import VolunteerPolicy
from core.workdays import WorkCalendar
from storage.engine import make_engine
from storage.uow import Database
from storage.wechat_dialogs import SqlWeChatDialogs
from tests.factories import seed_world
from tests.test_wechat_conversation import register
from tests.wechat_kit import WeChatKit, jpeg
from wechat.conversation import Conversation
from wechat.messages import Incoming

MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)


class GatedMedia:
    """media/get that holds the photos in `held` until `gate` opens (the first worker is mid-message)."""

    def __init__(self, files: dict[str, bytes], held: set[str]) -> None:
        self.files, self.held = files, held
        self.started, self.gate = asyncio.Event(), asyncio.Event()

    async def download(self, app: str, media_id: str) -> bytes:
        if media_id in self.held:
            self.started.set()
            await self.gate.wait()
        return self.files[media_id]


async def someone_waits_for_a_lock(db: Database, done: asyncio.Task, timeout: float = 20.0) -> bool:
    """True once a backend of this database waits for a lock; False if `done` finished first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline and not done.done():
        async with db.engine.connect() as conn:
            waiting = (await conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"))).scalar_one()
        if waiting:
            return True
        await asyncio.sleep(0.02)
    return False


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # SQLite: one process per database file
async def test_two_workers_take_one_accounts_messages_one_after_the_other(db, tmp_path):
    async with db.uow() as uow:
        await seed_world(uow)
    kit = WeChatKit(db, tmp_path, MONDAY)
    wang = kit.resident("o-wang")
    await register(kit, wang)
    await wang.clicks("REPORT")
    wang.sees("请拍照或发送问题的照片")

    media = GatedMedia({"photo-a": jpeg(1), "photo-b": jpeg(2)}, held={"photo-a"})
    other_engine = make_engine(db.engine.url.render_as_string(hide_password=False))
    calendar = WorkCalendar()

    def worker(database: Database) -> Conversation:  # each its own Conversation: no lock in common in memory
        return Conversation(database, kit.photos, media, kit.policy, VolunteerPolicy(calendar=calendar), kit.clock,
                            tz=calendar.tz)

    first, second = worker(db), worker(Database(other_engine))
    photo = lambda media_id, n: Incoming(app="mp", user="o-wang", kind="image", create_time=1_900_000_000 + n,
                                         msg_id=f"m-{media_id}", media_id=media_id)
    try:
        a = asyncio.create_task(first.handle(photo("photo-a", 1)))
        await media.started.wait()  # the first worker is inside photo A's message
        b = asyncio.create_task(second.handle(photo("photo-b", 2)))
        assert await someone_waits_for_a_lock(db, b), "the second worker ran the account's dialog meanwhile"
        media.gate.set()
        replies_a, replies_b = await asyncio.gather(a, b)
    finally:
        await other_engine.dispose()
    assert "已收到 1 张照片" in replies_a[0].text
    assert "已收到 2 张照片" in replies_b[0].text  # it read what the first left
    async with db.uow() as uow:
        row = await SqlWeChatDialogs(uow.conn).get("wechat", "o-wang")
    assert len(row.data["photos"]) == 2
