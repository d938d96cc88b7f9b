"""Updates of one chat are handled in the order they came, whatever the reads before the handler cost.

Found on PostgreSQL under load: a grid member pressed "✅ 已处理", sent the after-photo and the note
at once; the note was sometimes handled before the photo ("请发送处理后的照片" twice, no resolution),
because the per-chat lock was taken after the inbox and the dialog-state reads, whose awaits finish
in any order.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from aiogram.types import Chat, Message, Update, User

from redgrid.bootstrap import build_dispatcher
from core.clock import ManualClock
from redgrid.settings import Settings
from storage.dialogs import SqlDialogStorage
from core.onboarding import meet
from tests.botkit import ChatHarness


class SlowFirstRead(SqlDialogStorage):
    """The first dialog-state read of the test is slow (a busy database), the others are quick."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.reads = 0

    async def get_state(self, key):
        self.reads += 1
        if self.reads == 1:
            await asyncio.sleep(0.3)
        return await super().get_state(key)


async def test_two_messages_of_one_chat_are_handled_in_the_order_they_came(db, now, tmp_path):
    storage = SlowFirstRead(db.engine)
    dp = build_dispatcher(db, Settings(_env_file=None, data_dir=tmp_path), ManualClock(now), storage=storage)
    handled: list[str] = []

    @dp.message.middleware()
    async def note(handler, message: Message, data):  # inside the chat's turn, before any handler
        handled.append(message.text)
        return await handler(message, data)

    harness = ChatHarness(dp)
    user = User(id=9001, is_bot=False, first_name="李秀英", language_code="zh-hans")
    async with db.uow() as uow:  # she agreed to the privacy notice before (else the notice answers her)
        await meet(uow, "telegram", "9001", "9001", "李秀英", now)
        await uow.commit()

    def text(update_id: int, words: str) -> Update:
        return Update(update_id=update_id, message=Message(
            message_id=update_id, date=datetime.now(timezone.utc), chat=Chat(id=9001, type="private"),
            from_user=user, text=words))

    await asyncio.gather(*(harness.feed(text(n, f"第{n}条")) for n in (1, 2, 3)))
    await harness.bot.session.close()
    assert handled == ["第1条", "第2条", "第3条"]
