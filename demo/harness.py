"""Simulated people for end-to-end tests, so scenarios read like a chat:

    async with running_standin() as standin, polling(dp, standin_bot(standin.base_url)):
        wang = ChatUser(standin, user_id=1001, first_name="王阿姨")
        await wang.sends_text("/start")
        await wang.sees("请选择")
        await wang.presses("东城社区")
        reply = await wang.next_message()
        assert reply.contains("已选择")

The chat-test vocabulary, shared with the in-process kit (tests/botkit.py `Tester`), same names
and meanings:

    acting   sends_text(text)  sends_photo(...)  sends_location(lat, lon)
             agrees()                -> presses the privacy notice's ✅ (a newcomer's first step)
             presses(label)          -> the bot's answer to the press (CallbackAnswer)
             presses_data(data)      -> the same for any callback data, as a forged/stale client sends
    seeing   sees(fragment)          -> the NEWEST bot message containing it, sent or edited since
                                        the last action (anywhere=True: the whole chat); waits here
             next_message()          -> the next bot message after the cursor (each action moves
                                        the cursor to "now")
             receives_nothing()      -> fails if a new bot message came
             messages, last_message  -> the chat as it is now; alerts -> the press answers' texts

Here they wait for the bot (it runs in another task); in botkit the bot has already answered when an
action returns, so nothing waits there.

Waiting is event driven (the stand-in wakes waiters on every change), never by polling
with sleeps. A wait that times out fails with an AssertionError that shows the whole chat.

The bot answers inside its handler but commits the handler's unit of work only after the
handler returns, so a message in the chat does not mean its effects are in the database yet.
Before a test reads the database after a chat step it awaits `settled(standin, engine)`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot, Dispatcher
from sqlalchemy import event, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.api_session import BotApiSession
from demo.standin import BotApiStandIn, CallbackAnswer, StoredMessage
from storage import tables
from storage.inbox import FAILED, RECEIVED

DEFAULT_TOKEN = "123456789:STAND-IN-TOKEN"


# --------------------------------------------------------------------------- wiring helpers


def standin_bot(base_url: str, token: str = DEFAULT_TOKEN, **bot_kwargs: Any) -> Bot:
    """An aiogram Bot that talks to the stand-in at `base_url` instead of Telegram."""
    return Bot(token, session=BotApiSession(base_url), **bot_kwargs)


@contextlib.asynccontextmanager
async def running_standin(**kwargs: Any) -> AsyncIterator[BotApiStandIn]:
    """A started stand-in on a free port (kwargs go to BotApiStandIn), stopped afterwards."""
    standin = BotApiStandIn(**kwargs)
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()


@contextlib.asynccontextmanager
async def polling(dispatcher: Dispatcher, bot: Bot,
                  **kwargs: Any) -> AsyncIterator[asyncio.Task[None]]:
    """Run `dispatcher.start_polling(bot)` in the background for the duration of the block."""
    kwargs.setdefault("handle_signals", False)
    task = asyncio.create_task(dispatcher.start_polling(bot, **kwargs))
    try:
        yield task
    finally:
        try:
            await dispatcher.stop_polling()
        except RuntimeError:  # polling never got going; nothing to stop gracefully
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # Updates still being handled finish before the block's database goes away (the update
        # benchmark dropped its PostgreSQL database under a few last handlers); aiogram tracks
        # them only in a private set.
        in_flight = list(getattr(dispatcher, "_handle_update_tasks", ()))
        if in_flight:
            await asyncio.wait(in_flight, timeout=10)


# --------------------------------------------------------------------------- everything committed

# Connections coming back to the pool wake `settled`; this is only the ceiling for a change it
# cannot hear (an update kind the bot does not take leaving the stand-in's queue).
_RECHECK = 0.05


async def settled(standin: BotApiStandIn, engine: AsyncEngine, timeout: float = 5.0, *,
                  failed_ok: bool = False) -> None:
    """Wait until the bot has fetched every update the stand-in holds and has finished each one.

    The bot's inbox (bot/inbox.py) records every update it fetches before handling it, and marks
    it handled in the same transaction as the handler's effects (or failed, or handled on its own
    afterwards when no unit of work marked it). So once every update still queued in the stand-in
    has an inbox row and no row is `received`, everything the users did so far is committed.
    Updates already confirmed (gone from the stand-in's queue) were recorded before confirming.

    Wakes whenever a connection returns to `engine`'s pool (every transaction of the bot ends so,
    after its commit). Raises AssertionError after `timeout` seconds, and also when an update
    failed (its handler raised), unless `failed_ok`.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    wake = asyncio.Event()
    returned = 0

    def connection_returned(*_: Any) -> None:
        nonlocal returned
        returned += 1
        wake.set()  # the async engine calls this on the event loop's thread

    event.listen(engine.sync_engine, "checkin", connection_returned)
    try:
        while True:
            seen = returned
            queued = [u["update_id"] for u in standin.pending_updates]
            async with engine.connect() as conn:
                rows = (await conn.execute(
                    select(tables.inbox.c.update_id, tables.inbox.c.state, tables.inbox.c.error)
                    .where(or_(tables.inbox.c.state.in_((RECEIVED, FAILED)),
                               tables.inbox.c.update_id.in_(queued)))
                    .order_by(tables.inbox.c.update_id))).all()
            unfetched = sorted(set(queued) - {row.update_id for row in rows})
            open_ = [row.update_id for row in rows if row.state == RECEIVED]
            if not unfetched and not open_:
                failed = [f"{row.update_id}: {row.error}" for row in rows if row.state == FAILED]
                if failed and not failed_ok:
                    raise AssertionError("the bot failed on updates:\n" + "\n".join(failed))
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"the bot did not settle within {timeout:g} s: not fetched yet {unfetched}, "
                    f"fetched but not finished {open_}")
            if returned - seen > 1:  # another connection came back while we looked: look again
                continue
            wake.clear()  # (our own connection set it)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), min(remaining, _RECHECK))
    finally:
        event.remove(engine.sync_engine, "checkin", connection_returned)


# --------------------------------------------------------------------------- what users see


@dataclass(frozen=True)
class Button:
    label: str
    data: str | None = None  # callback_data
    url: str | None = None


@dataclass(frozen=True)
class BotMessage:
    """A snapshot of one message from the bot, as the user sees it."""

    message_id: int
    text: str  # the text, or the caption of a photo/document ("" when neither)
    has_photo: bool
    has_document: bool
    keyboard: tuple[tuple[Button, ...], ...]  # inline keyboard rows
    edited: bool
    deleted: bool
    media_group_id: str | None
    reply_keyboard: tuple[str, ...] | None  # labels of a reply keyboard this message set
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_stored(cls, stored: StoredMessage) -> BotMessage:
        data = stored.data
        keyboard = tuple(
            tuple(Button(b.get("text", ""), b.get("callback_data"), b.get("url")) for b in row)
            for row in stored.inline_keyboard
        )
        reply = None
        if stored.reply_keyboard is not None:
            reply = tuple(b["text"] for row in stored.reply_keyboard["keyboard"] for b in row)
        return cls(
            message_id=stored.message_id,
            text=stored.text or "",
            has_photo="photo" in data,
            has_document="document" in data,
            keyboard=keyboard,
            edited=stored.edits > 0,
            deleted=stored.deleted,
            media_group_id=stored.media_group_id,
            reply_keyboard=reply,
            raw=dict(data),
        )

    @property
    def buttons(self) -> list[str]:
        """Labels of the inline buttons, row by row."""
        return [b.label for row in self.keyboard for b in row]

    def button(self, label: str) -> Button | None:
        return _match_button([b for row in self.keyboard for b in row], label)

    def button_data(self, label: str) -> str:
        found = self.button(label)
        if found is None:
            raise KeyError(f"no button {label!r} on message {self.message_id}: {self.buttons}")
        if found.data is None:
            raise KeyError(f"button {label!r} has no callback_data (url={found.url!r})")
        return found.data

    def contains(self, text: str) -> bool:
        return text in self.text

    @property
    def photo_file_id(self) -> str | None:
        """file_id of the largest size of the photo, if any."""
        photo = self.raw.get("photo")
        return photo[-1]["file_id"] if photo else None

    @property
    def document(self) -> dict[str, Any] | None:
        return self.raw.get("document")

    @property
    def voice(self) -> dict[str, Any] | None:
        return self.raw.get("voice")

    @property
    def location(self) -> tuple[float, float] | None:
        loc = self.raw.get("location")
        return (loc["latitude"], loc["longitude"]) if loc else None

    def __str__(self) -> str:
        kind = "[photo] " if self.has_photo else "[document] " if self.has_document else ""
        buttons = " ".join(f"[{label}]" for label in self.buttons)
        return f"#{self.message_id} {kind}{self.text} {buttons}".rstrip()


def _match_button(buttons: list[Button], label: str) -> Button | None:
    """Exact label first; otherwise the single button whose label contains it (emoji etc.)."""
    exact = [b for b in buttons if b.label == label]
    if exact:
        return exact[0]
    loose = [b for b in buttons if label in b.label]
    return loose[0] if len(loose) == 1 else None


# --------------------------------------------------------------------------- a simulated user


class ChatUser:
    """One simulated person in a private chat with the bot.

    Reading follows a cursor: `next_message()` returns bot messages one by one, and every
    action (sending, pressing) moves the cursor to "now", so the next message is the one
    that answers the action. `sees()` looks at bot messages created or edited since the
    last action.
    """

    def __init__(
        self,
        standin: BotApiStandIn,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
        *,
        phone_number: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.standin = standin
        self.user_id = user_id
        self.timeout = timeout
        self._language_code = language_code
        self.user = standin.add_user(user_id, first_name, last_name, username, language_code,
                                     phone_number=phone_number)
        self._cursor = 0
        self._action_seq = 0
        self._mark_action()

    @property
    def name(self) -> str:
        return self.user.full_name

    def __repr__(self) -> str:
        return f"ChatUser({self.user_id}, {self.name!r})"

    # ----------------------------------------------------------------- acting

    def _mark_action(self) -> None:
        bot_ids = [m.message_id for m in self.standin.bot_messages(self.user_id)]
        self._cursor = max(bot_ids, default=0)
        self._action_seq = self.standin.seq

    async def sends_text(self, text: str) -> dict[str, Any]:
        self._mark_action()
        return self.standin.user_sends_text(self.user_id, text)

    async def sends_photo(self, data: bytes, caption: str | None = None) -> dict[str, Any]:
        self._mark_action()
        return self.standin.user_sends_photo(self.user_id, data, caption)

    async def sends_album(self, images: Iterable[bytes],
                          caption: str | None = None) -> list[dict[str, Any]]:
        self._mark_action()
        return self.standin.user_sends_album(self.user_id, images, caption)

    async def sends_document(self, data: bytes, file_name: str, mime_type: str | None = None,
                             caption: str | None = None, *, with_size: bool = True) -> dict[str, Any]:
        self._mark_action()
        return self.standin.user_sends_document(self.user_id, data, file_name, mime_type, caption,
                                                with_size=with_size)

    async def sends_voice(self, data: bytes, duration: int) -> dict[str, Any]:
        """A voice note (OGG/Opus) of `duration` seconds, held-to-talk in the chat."""
        self._mark_action()
        return self.standin.user_sends_voice(self.user_id, data, duration)

    async def sends_location(self, latitude: float, longitude: float) -> dict[str, Any]:
        self._mark_action()
        return self.standin.user_sends_location(self.user_id, latitude, longitude)

    async def shares_contact(self, phone_number: str | None = None) -> dict[str, Any]:
        self._mark_action()
        return self.standin.user_shares_contact(self.user_id, phone_number)

    async def presses(self, label: str, *, timeout: float | None = None,
                      wait_answer: bool = True) -> CallbackAnswer | None:
        """Press the button labelled `label`.

        Looks for an inline button on the latest bot message that has one (waiting for it
        to appear if needed), else a reply-keyboard button. For an inline button, waits
        until the bot answered the callback query and returns that answer; for a
        reply-keyboard button returns None.
        """
        timeout = self.timeout if timeout is None else timeout

        def find() -> tuple[StoredMessage, Button] | str | None:
            for stored in reversed(self.standin.bot_messages(self.user_id)):
                buttons = [Button(b.get("text", ""), b.get("callback_data"), b.get("url"))
                           for row in stored.inline_keyboard for b in row]
                match = _match_button(buttons, label)
                if match is not None:
                    return stored, match
            keyboard = self.standin.reply_keyboard(self.user_id) or {}
            labels = [b["text"] for row in keyboard.get("keyboard", []) for b in row]
            match = _match_button([Button(t) for t in labels], label)
            return match.label if match else None

        found = await self._wait(find, timeout, f"a button {label!r}")
        if isinstance(found, str):
            self._mark_action()
            self.standin.user_presses_reply_button(self.user_id, found)
            return None
        stored, button = found
        if button.data is None:
            raise AssertionError(f"button {label!r} opens {button.url!r}; it has no callback")
        return await self._press(stored.message_id, button.data, timeout, wait_answer, label, forged=False)

    async def agrees(self, *, timeout: float | None = None) -> CallbackAnswer | None:
        """Agree to the privacy notice (its ✅ button, in this person's language), waiting for it."""
        from texts import text

        english = (self._language_code or "").lower().startswith("en")
        return await self.presses(text("en" if english else "zh", "privacy.agree"), timeout=timeout)

    async def presses_data(self, data: str, message_id: int | None = None, *,
                           timeout: float | None = None) -> CallbackAnswer:
        """Any callback data on a bot message (the newest by default), as a forged or stale client
        could send it; waits for the bot's answer."""
        if message_id is None:
            last = self.last_message
            assert last is not None, f"the bot has sent nothing to {self.name}"
            message_id = last.message_id
        answer = await self._press(message_id, data, self.timeout if timeout is None else timeout, True, data,
                                   forged=True)
        assert answer is not None
        return answer

    async def _press(self, message_id: int, data: str, timeout: float, wait_answer: bool,
                     what: str, *, forged: bool) -> CallbackAnswer | None:
        self._mark_action()
        query_id = self.standin.user_presses_button(self.user_id, message_id, data, forged=forged)
        if not wait_answer:
            return None
        answer = self.standin.callback_answer(query_id)
        assert answer is not None
        return await self._wait(lambda: answer if answer.answered else None, timeout,
                                f"the bot to answer the press on {what!r}")

    def blocks_bot(self) -> None:
        self.standin.set_blocked(self.user_id, True)

    def unblocks_bot(self) -> None:
        self.standin.set_blocked(self.user_id, False)

    # ----------------------------------------------------------------- seeing

    async def next_message(self, timeout: float | None = None) -> BotMessage:
        """The next new bot message after the cursor (waits for it)."""
        def find() -> StoredMessage | None:
            for stored in self.standin.bot_messages(self.user_id):
                if stored.message_id > self._cursor:
                    return stored
            return None

        stored = await self._wait(find, timeout, "a new message from the bot")
        self._cursor = stored.message_id
        return BotMessage.from_stored(stored)

    async def sees(self, text: str, timeout: float | None = None, *,
                   anywhere: bool = False) -> BotMessage:
        """The newest bot message containing `text`, new or edited since the last action
        (waits for one). anywhere=True searches the whole chat history instead.
        """
        def find() -> StoredMessage | None:
            for stored in reversed(self.standin.bot_messages(self.user_id)):
                fresh = anywhere or stored.seq > self._action_seq
                if fresh and text in (stored.text or ""):
                    return stored
            return None

        stored = await self._wait(find, timeout, f"a message containing {text!r}")
        self._cursor = max(self._cursor, stored.message_id)
        return BotMessage.from_stored(stored)

    async def receives_nothing(self, within: float = 0.3) -> None:
        """Assert that the bot sends no new message during `within` seconds."""
        try:
            extra = await self.next_message(timeout=within)
        except AssertionError:
            return
        raise AssertionError(f"{self.name} got an unexpected message: {extra}\n"
                             f"{self.transcript}")

    @property
    def messages(self) -> list[BotMessage]:
        """Every bot message currently in the chat (deleted ones are gone)."""
        return [BotMessage.from_stored(m) for m in self.standin.bot_messages(self.user_id)]

    @property
    def last_message(self) -> BotMessage | None:
        messages = self.standin.bot_messages(self.user_id)
        return BotMessage.from_stored(messages[-1]) if messages else None

    @property
    def alerts(self) -> list[str]:
        """The texts the bot answered this person's presses with, oldest first."""
        return [a.text for a in self.standin.callback_answers(self.user_id) if a.answered and a.text]

    @property
    def reply_keyboard(self) -> list[str]:
        """Labels of the reply keyboard shown now (empty when none)."""
        keyboard = self.standin.reply_keyboard(self.user_id) or {}
        return [b["text"] for row in keyboard.get("keyboard", []) for b in row]

    @property
    def commands(self) -> list[str]:
        """Commands in this user's menu (setMyCommands), like "/start"."""
        return ["/" + c["command"] for c in
                self.standin.commands_for(self.user_id, self.user.language_code or "")]

    def photo_bytes(self, message: BotMessage) -> bytes:
        if message.photo_file_id is None:
            raise ValueError(f"message {message.message_id} has no photo")
        return self.standin.file_bytes(message.photo_file_id)

    @property
    def transcript(self) -> str:
        return self.standin.transcript(self.user_id)

    async def _wait(self, predicate: Any, timeout: float | None, what: str) -> Any:
        timeout = self.timeout if timeout is None else timeout
        try:
            return await self.standin.wait_until(predicate, timeout)
        except TimeoutError:
            raise AssertionError(
                f"{self.name} waited {timeout:g} s for {what}; the chat so far:\n"
                f"{self.transcript}"
            ) from None
