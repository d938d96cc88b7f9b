"""An album whose photos two bot processes handle at the same instant, sharing dialog state in Redis
(REDIS_URL): both photos are kept, one count is shown. Each process's per-chat lock cannot see the
other, so the processes share aiogram's Redis lock, taken before the dialog state is read."""

from __future__ import annotations

import asyncio
import io
import random
from datetime import datetime, timezone

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import GetFile
from aiogram.types import Chat, File, Message, PhotoSize, Update, User
from PIL import Image

from redgrid.bootstrap import build_dispatcher, dialog_storage
from core.clock import ManualClock
from core.people import Identity, Person, Role, RoleGrant
from core.consent import NOTICE_VERSION
from redgrid.settings import Settings
from tests.botkit import RecordingSession
from tests.factories import seed_world
from tests.redis_kit import REDIS_URL, redis_prefix


def jpeg(color: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), color).save(buffer, "JPEG")
    return buffer.getvalue()


class PhotoSession(RecordingSession):
    """The recording session, plus the two calls a photo download makes."""

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__()
        self.files = files

    async def make_request(self, bot, method, timeout=None):
        if isinstance(method, GetFile):
            return File(file_id=method.file_id, file_unique_id=method.file_id, file_path=method.file_id,
                        file_size=len(self.files[method.file_id]))
        return await super().make_request(bot, method, timeout)

    async def stream_content(self, url, headers=None, timeout=30, chunk_size=65536, raise_for_status=True):
        yield self.files[url.rsplit("/", 1)[-1]]


@pytest.fixture
async def two_processes(db, now, tmp_path):
    async with redis_prefix() as prefix:
        async with db.uow() as uow:
            world = await seed_world(uow)
            user_id = random.randrange(10**8, 10**9)
            person = Person(None, "王阿姨", created_at=now, notice_version=NOTICE_VERSION)
            await uow.people.add(person)
            await uow.people.add_identity(Identity(None, person.id, "telegram", str(user_id), str(user_id)))
            await uow.people.add_grant(RoleGrant(None, person.id, Role.RESIDENT,
                                                 community_id=world.communities["东城社区"].id,
                                                 building_id=world.buildings["3号楼"].id, created_at=now))
            await uow.commit()
        settings = Settings(_env_file=None, bot_token="4242:TEST", redis_url=REDIS_URL, data_dir=tmp_path / "data")
        clock = ManualClock(now)
        # two processes: each its own dispatcher and Redis storage (with the scenes' keys), one Redis
        first, second = (build_dispatcher(db, settings, clock, storage=dialog_storage(settings, db, redis_prefix=prefix))
                         for _ in range(2))
        yield first, second, user_id
        for dp in (first, second):
            await dp.storage.close()


async def test_two_processes_take_an_albums_photos_one_after_the_other(two_processes):
    from aiogram import Bot

    first, second, user_id = two_processes
    files = {"red": jpeg("red"), "blue": jpeg("blue")}
    session = PhotoSession(files)
    bot = Bot("4242:TEST", session=session)
    user = User(id=user_id, is_bot=False, first_name="王阿姨", language_code="zh-hans")
    chat = Chat(id=user_id, type="private")

    def album_photo(update_id: int, file_id: str) -> Update:
        photo = [PhotoSize(file_id=file_id, file_unique_id=file_id, width=400, height=300,
                           file_size=len(files[file_id]))]
        return Update(update_id=update_id, message=Message(
            message_id=update_id, date=datetime.now(timezone.utc), chat=chat, from_user=user, photo=photo,
            media_group_id="album-1"))

    await asyncio.gather(first.feed_update(bot, album_photo(1, "red")),
                         second.feed_update(bot, album_photo(2, "blue")))

    data = await first.storage.get_data(StorageKey(bot_id=4242, chat_id=user_id, user_id=user_id))
    assert len(data["photos"]) == 2
    said = [m.text for m in session.chats[user_id].values()]
    assert len(said) == 1 and "已收到 2 张照片" in said[0], said
