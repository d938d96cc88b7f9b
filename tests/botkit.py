"""Handler tests without a network: the real Dispatcher, a Bot whose session answers in-process.

Like aiogram's own tests/mocked_bot.py, but it also keeps each chat's messages (edits applied)
so a test reads like a chat: `await wang.sends_text("/start")`, `await wang.presses("3号楼")`.
A `Tester` speaks the same vocabulary as the end-to-end `demo.harness.ChatUser` (see its docstring).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.methods import (
    AnswerCallbackQuery, EditMessageReplyMarkup, EditMessageText, GetFile, GetMe, SendDocument, SendMessage,
    SendPhoto, SendVoice, TelegramMethod,
)
from aiogram.types import (
    CallbackQuery, Chat, File, InlineKeyboardMarkup, Location, Message, MessageEntity, PhotoSize, Update, User,
    Voice,
)

from demo.standin import CallbackAnswer

BOT_USER = User(id=4242, is_bot=True, first_name="红色网格", username="redgrid_test_bot")


@dataclass
class Sent:
    """A bot message as the person sees it now (demo.harness.BotMessage's counterpart)."""

    message_id: int
    chat_id: int
    text: str
    markup: Any = None
    photo: bool = False
    seq: int = 0  # when it was sent or last edited (RecordingSession.seq)
    document: tuple[str, bytes] | None = None  # (file name, bytes) of a document the bot sent
    voice: bytes | None = None  # the voice note the bot sent (sendVoice), its caption in `text`
    photo_data: bytes | None = None  # the bytes of a photo the bot uploaded

    @property
    def buttons(self) -> list[str]:
        if isinstance(self.markup, InlineKeyboardMarkup):
            return [b.text for row in self.markup.inline_keyboard for b in row]
        return []

    def button_data(self, label: str) -> str | None:
        if isinstance(self.markup, InlineKeyboardMarkup):
            for row in self.markup.inline_keyboard:
                for b in row:
                    if b.text == label:
                        return b.callback_data
        return None

    def contains(self, text: str) -> bool:
        return text in self.text


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TelegramMethod] = []
        self.chats: dict[int, dict[int, Sent]] = {}
        self.answers: dict[str, AnswerCallbackQuery] = {}
        self.seq = 0
        self._ids = itertools.count(1)
        self.files: dict[str, bytes] = {}  # what getFile and a download hand over, by file_id

    async def make_request(self, bot: Bot, method: TelegramMethod, timeout: int | None = None) -> Any:
        self.requests.append(method)
        now = datetime.now(timezone.utc)
        if isinstance(method, GetMe):
            return BOT_USER
        if isinstance(method, GetFile):
            data = self.files[method.file_id]
            return File(file_id=method.file_id, file_unique_id=method.file_id, file_path=method.file_id,
                        file_size=len(data))
        if isinstance(method, SendVoice):
            chat_id = int(method.chat_id)
            upload = method.voice
            data = getattr(upload, "data", None)
            if data is None and getattr(upload, "path", None) is not None:
                data = upload.path.read_bytes()
            self.seq += 1
            sent = Sent(next(self._ids), chat_id, method.caption or "", method.reply_markup, False, self.seq,
                        voice=data or b"")
            self.chats.setdefault(chat_id, {})[sent.message_id] = sent
            return Message(message_id=sent.message_id, date=now, chat=Chat(id=chat_id, type="private"),
                           from_user=BOT_USER, caption=sent.text)
        if isinstance(method, SendDocument):
            chat_id = int(method.chat_id)
            upload = method.document
            self.seq += 1
            sent = Sent(next(self._ids), chat_id, method.caption or "", method.reply_markup, False, self.seq,
                        document=(getattr(upload, "filename", None) or "", getattr(upload, "data", b"")))
            self.chats.setdefault(chat_id, {})[sent.message_id] = sent
            return Message(message_id=sent.message_id, date=now, chat=Chat(id=chat_id, type="private"),
                           from_user=BOT_USER, caption=sent.text)
        if isinstance(method, (SendMessage, SendPhoto)):
            chat_id = int(method.chat_id)
            text = method.text if isinstance(method, SendMessage) else (method.caption or "")
            self.seq += 1
            sent = Sent(next(self._ids), chat_id, text, method.reply_markup, isinstance(method, SendPhoto), self.seq,
                        photo_data=getattr(getattr(method, "photo", None), "data", None))
            self.chats.setdefault(chat_id, {})[sent.message_id] = sent
            return Message(message_id=sent.message_id, date=now, chat=Chat(id=chat_id, type="private"),
                           from_user=BOT_USER, text=text if not sent.photo else None)
        if isinstance(method, (EditMessageText, EditMessageReplyMarkup)):
            sent = self.chats[int(method.chat_id)][method.message_id]
            if isinstance(method, EditMessageText):
                sent.text = method.text
            sent.markup = method.reply_markup
            self.seq += 1
            sent.seq = self.seq
            return Message(message_id=sent.message_id, date=now, chat=Chat(id=sent.chat_id, type="private"),
                           from_user=BOT_USER, text=sent.text)
        if isinstance(method, AnswerCallbackQuery):
            self.answers[method.callback_query_id] = method
            return True
        return True  # setMyCommands, deleteWebhook, sendChatAction …

    async def close(self) -> None:
        pass

    async def stream_content(self, url, headers=None, timeout=30, chunk_size=65536, raise_for_status=True):
        """A download of a file put in `files` (a voice note a test sends); nothing else downloads."""
        yield self.files[url.rsplit("/", 1)[-1]]


@dataclass
class Tester:
    """One person in a private chat with the bot, in the vocabulary of demo.harness.ChatUser.

    The bot has handled an update when `sends_*`/`presses*` return, so nothing here waits;
    `sees`/`next_message` are async only to read the same as the end-to-end tests.
    """

    harness: "ChatHarness"
    user: User
    _cursor: int = 0
    _action_seq: int = 0
    _updates: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.full_name

    # ----------------------------------------------------------------- acting

    def _mark_action(self) -> None:
        self._cursor = max((m.message_id for m in self.messages), default=0)
        self._action_seq = self.harness.session.seq

    async def sends_text(self, text: str) -> None:
        entities = None
        if text.startswith("/"):
            entities = [MessageEntity(type="bot_command", offset=0, length=len(text.split()[0]))]
        await self._feed_message(text=text, entities=entities)

    async def sends_photo(self, file_id: str = "photo-1", caption: str | None = None) -> None:
        """A photo Telegram already has (no bytes: nothing here downloads)."""
        await self._feed_message(photo=[PhotoSize(file_id=file_id, file_unique_id=file_id, width=800, height=600)],
                                 caption=caption)

    async def sends_voice(self, data: bytes, duration: int, file_id: str | None = None) -> None:
        """A voice note held in the chat's microphone button: Telegram has its bytes (getFile hands them over)."""
        file_id = file_id or f"voice-{self.user.id}-{next(self._updates)}"
        self.harness.session.files[file_id] = data
        await self._feed_message(voice=Voice(file_id=file_id, file_unique_id=file_id, duration=duration,
                                             mime_type="audio/ogg", file_size=len(data)))

    async def sends_location(self, latitude: float, longitude: float) -> None:
        await self._feed_message(location=Location(latitude=latitude, longitude=longitude))

    async def presses(self, label: str) -> CallbackAnswer:
        """Press the inline button labelled `label` on the newest message that has it; the bot's answer."""
        for message in reversed(self.messages):
            data = message.button_data(label)
            if data is not None:
                return await self.presses_data(data, message.message_id)
        raise AssertionError(f"no button {label!r}; buttons: {[m.buttons for m in self.messages]}")

    async def agrees(self) -> CallbackAnswer:
        """Agree to the privacy notice the bot showed last (its ✅ button, in any language)."""
        for message in reversed(self.messages):
            if isinstance(message.markup, InlineKeyboardMarkup):
                for row in message.markup.inline_keyboard:
                    for button in row:
                        if (button.callback_data or "").startswith("cs:1:"):
                            return await self.presses_data(button.callback_data, message.message_id)
        raise AssertionError(f"{self.name} was shown no privacy notice; saw {[m.text for m in self.messages]}")

    async def registers_at(self, *places: str) -> None:
        """A newcomer's first /start: agree to the notice, then press community, compound and building."""
        await self.sends_text("/start")
        await self.agrees()
        for place in places:
            await self.presses(place)

    async def presses_data(self, data: str, message_id: int | None = None) -> CallbackAnswer:
        """Any callback data, as a forged or stale client could send it; the bot's answer."""
        if message_id is None:
            last = self.last_message
            assert last is not None, f"the bot has sent nothing to {self.name}"
            message_id = last.message_id
        text = self.harness.session.chats[self.user.id][message_id].text
        query_id = f"{self.user.id}:{next(self._updates)}"
        query = CallbackQuery(
            id=query_id, from_user=self.user, chat_instance="ci", data=data,
            message=Message(message_id=message_id, date=datetime.now(timezone.utc),
                            chat=Chat(id=self.user.id, type="private"), from_user=BOT_USER, text=text))
        self._mark_action()
        await self.harness.feed(Update(update_id=self.harness.next_update_id(), callback_query=query))
        answer = CallbackAnswer(query_id, self.user.id, message_id, data)
        given = self.harness.session.answers.get(query_id)
        if given is not None:
            answer.answered, answer.text, answer.show_alert = True, given.text, bool(given.show_alert)
        return answer

    async def _feed_message(self, **content: Any) -> None:
        message = Message(message_id=10_000 + next(self._updates), date=datetime.now(timezone.utc),
                          chat=Chat(id=self.user.id, type="private", first_name=self.user.first_name),
                          from_user=self.user, **content)
        self._mark_action()
        await self.harness.feed(Update(update_id=self.harness.next_update_id(), message=message))

    # ----------------------------------------------------------------- seeing

    async def sees(self, fragment: str, *, anywhere: bool = False) -> Sent:
        """The newest bot message containing `fragment`, sent or edited since the last action
        (anywhere=True: in the whole chat)."""
        for message in reversed(self.messages):
            if (anywhere or message.seq > self._action_seq) and fragment in message.text:
                self._cursor = max(self._cursor, message.message_id)
                return message
        raise AssertionError(f"{self.name} never saw {fragment!r}; saw {[m.text for m in self.messages]}")

    async def next_message(self) -> Sent:
        """The next new bot message after the cursor (every action moves the cursor to now)."""
        for message in self.messages:
            if message.message_id > self._cursor:
                self._cursor = message.message_id
                return message
        raise AssertionError(f"no new message for {self.name}; saw {[m.text for m in self.messages]}")

    async def receives_nothing(self) -> None:
        fresh = [m.text for m in self.messages if m.message_id > self._cursor]
        assert not fresh, f"{self.name} got an unexpected message: {fresh}"

    @property
    def messages(self) -> list[Sent]:
        return list(self.harness.session.chats.get(self.user.id, {}).values())

    @property
    def last_message(self) -> Sent | None:
        messages = self.messages
        return messages[-1] if messages else None

    @property
    def alerts(self) -> list[str]:
        """The texts the bot answered this person's presses with, oldest first."""
        return [a.text for q, a in self.harness.session.answers.items()
                if q.split(":")[0] == str(self.user.id) and a.text]


class ChatHarness:
    def __init__(self, dp: Dispatcher) -> None:
        self.dp = dp
        self.session = RecordingSession()
        self.bot = Bot("4242:TEST", session=self.session)
        self._update_ids = itertools.count(1)
        self._user_ids = itertools.count(9001)

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def person(self, first_name: str, language_code: str = "zh-hans", user_id: int | None = None) -> Tester:
        user = User(id=user_id or next(self._user_ids), is_bot=False, first_name=first_name,
                    language_code=language_code)
        return Tester(self, user)

    async def feed(self, update: Update) -> None:
        await self.dp.feed_update(self.bot, update)

    def commands_for_chat(self, chat_id: int) -> list[str]:
        from aiogram.methods import SetMyCommands

        calls = [r for r in self.session.requests if isinstance(r, SetMyCommands)
                 and getattr(r.scope, "chat_id", None) == chat_id]
        return [c.command for c in calls[-1].commands] if calls else []
