"""Handler tests without a network: the real Dispatcher, a Bot whose session answers in-process.

Like aiogram's own tests/mocked_bot.py, but it also keeps each chat's messages (edits applied)
so a test reads like a chat: `await wang.sends("/start")`, `await wang.presses("3号楼")`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.methods import (
    AnswerCallbackQuery, EditMessageReplyMarkup, EditMessageText, GetMe, SendMessage, SendPhoto, TelegramMethod,
)
from aiogram.types import (
    CallbackQuery, Chat, InlineKeyboardMarkup, Location, Message, MessageEntity, Update, User,
)

BOT_USER = User(id=4242, is_bot=True, first_name="红色网格", username="redgrid_test_bot")


@dataclass
class Sent:
    """A bot message as the person sees it now."""

    message_id: int
    chat_id: int
    text: str
    markup: Any = None
    photo: bool = False

    @property
    def buttons(self) -> list[str]:
        if isinstance(self.markup, InlineKeyboardMarkup):
            return [b.text for row in self.markup.inline_keyboard for b in row]
        return []

    def data_of(self, label: str) -> str | None:
        if isinstance(self.markup, InlineKeyboardMarkup):
            for row in self.markup.inline_keyboard:
                for b in row:
                    if b.text == label:
                        return b.callback_data
        return None


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TelegramMethod] = []
        self.chats: dict[int, dict[int, Sent]] = {}
        self.alerts: dict[int, list[str]] = {}
        self._ids = itertools.count(1)

    async def make_request(self, bot: Bot, method: TelegramMethod, timeout: int | None = None) -> Any:
        self.requests.append(method)
        now = datetime.now(timezone.utc)
        if isinstance(method, GetMe):
            return BOT_USER
        if isinstance(method, (SendMessage, SendPhoto)):
            chat_id = int(method.chat_id)
            text = method.text if isinstance(method, SendMessage) else (method.caption or "")
            sent = Sent(next(self._ids), chat_id, text, method.reply_markup, isinstance(method, SendPhoto))
            self.chats.setdefault(chat_id, {})[sent.message_id] = sent
            return Message(message_id=sent.message_id, date=now, chat=Chat(id=chat_id, type="private"),
                           from_user=BOT_USER, text=text if not sent.photo else None)
        if isinstance(method, (EditMessageText, EditMessageReplyMarkup)):
            sent = self.chats[int(method.chat_id)][method.message_id]
            if isinstance(method, EditMessageText):
                sent.text = method.text
            sent.markup = method.reply_markup
            return Message(message_id=sent.message_id, date=now, chat=Chat(id=sent.chat_id, type="private"),
                           from_user=BOT_USER, text=sent.text)
        if isinstance(method, AnswerCallbackQuery):
            if method.text:
                self.alerts.setdefault(int(method.callback_query_id.split(":")[0]), []).append(method.text)
            return True
        return True  # setMyCommands, deleteWebhook, sendChatAction …

    async def close(self) -> None:
        pass

    async def stream_content(self, *args, **kwargs):  # pragma: no cover - no downloads in these tests
        raise NotImplementedError
        yield b""


@dataclass
class Tester:
    """One person in a private chat with the bot."""

    harness: "ChatHarness"
    user: User
    seen_upto: int = 0
    _updates: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def messages(self) -> list[Sent]:
        return list(self.harness.session.chats.get(self.user.id, {}).values())

    def last(self) -> Sent:
        assert self.messages, f"the bot has sent nothing to {self.user.first_name}"
        return self.messages[-1]

    def new_messages(self) -> list[Sent]:
        fresh = [m for m in self.messages if m.message_id > self.seen_upto]
        if self.messages:
            self.seen_upto = self.messages[-1].message_id
        return fresh

    @property
    def alerts(self) -> list[str]:
        return self.harness.session.alerts.get(self.user.id, [])

    def sees(self, fragment: str) -> Sent:
        for message in reversed(self.messages):
            if fragment in message.text:
                return message
        raise AssertionError(f"{self.user.first_name} never saw {fragment!r}; saw {[m.text for m in self.messages]}")

    async def sends(self, text: str) -> None:
        entities = None
        if text.startswith("/"):
            entities = [MessageEntity(type="bot_command", offset=0, length=len(text.split()[0]))]
        await self._feed_message(text=text, entities=entities)

    async def sends_location(self, lat: float, lon: float) -> None:
        await self._feed_message(location=Location(latitude=lat, longitude=lon))

    async def presses(self, label: str) -> None:
        for message in reversed(self.messages):
            data = message.data_of(label)
            if data is not None:
                await self.presses_data(data, message.message_id)
                return
        raise AssertionError(f"no button {label!r}; buttons: {[m.buttons for m in self.messages]}")

    async def presses_data(self, data: str, message_id: int | None = None) -> None:
        """Any callback data, as a forged or stale client could send it."""
        message_id = message_id or self.last().message_id
        text = self.harness.session.chats[self.user.id][message_id].text
        query = CallbackQuery(
            id=f"{self.user.id}:{next(self._updates)}", from_user=self.user, chat_instance="ci", data=data,
            message=Message(message_id=message_id, date=datetime.now(timezone.utc),
                            chat=Chat(id=self.user.id, type="private"), from_user=BOT_USER, text=text))
        await self.harness.feed(Update(update_id=self.harness.next_update_id(), callback_query=query))

    async def _feed_message(self, **content: Any) -> None:
        message = Message(message_id=10_000 + next(self._updates), date=datetime.now(timezone.utc),
                          chat=Chat(id=self.user.id, type="private", first_name=self.user.first_name),
                          from_user=self.user, **content)
        await self.harness.feed(Update(update_id=self.harness.next_update_id(), message=message))


class ChatHarness:
    def __init__(self, dp: Dispatcher) -> None:
        self.dp = dp
        self.session = RecordingSession()
        self.bot = Bot("4242:TEST", session=self.session)
        self._update_ids = itertools.count(1)
        self._user_ids = itertools.count(9001)

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def person(self, first_name: str, language_code: str = "zh-hans") -> Tester:
        user = User(id=next(self._user_ids), is_bot=False, first_name=first_name, language_code=language_code)
        return Tester(self, user)

    async def feed(self, update: Update) -> None:
        await self.dp.feed_update(self.bot, update)

    def commands_for_chat(self, chat_id: int) -> list[str]:
        from aiogram.methods import SetMyCommands

        calls = [r for r in self.session.requests if isinstance(r, SetMyCommands)
                 and getattr(r.scope, "chat_id", None) == chat_id]
        return [c.command for c in calls[-1].commands] if calls else []
