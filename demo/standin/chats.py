"""The private chats: reading them (messages, transcript, deliveries, the reply keyboard), the chat
a method addresses with Telegram's 400/403 answers (not found, blocked, deactivated, never
started), storing a message in a chat, and getChat."""

from __future__ import annotations

from collections import Counter
from typing import Any

from demo.standin.base import StandInState
from demo.standin.model import Call, ChatState, Delivery, StoredMessage, bad, forbidden, now


class ChatsMixin(StandInState):
    """The chats' state and how a method finds its chat."""

    def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[StoredMessage]:
        """All messages of a private chat in order (both directions)."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [m for m in chat.messages.values() if include_deleted or not m.deleted]

    def bot_messages(self, chat_id: int) -> list[StoredMessage]:
        return [m for m in self.messages(chat_id) if m.from_bot]

    def message(self, chat_id: int, message_id: int) -> StoredMessage | None:
        chat = self._chats.get(chat_id)
        return chat.messages.get(message_id) if chat else None

    def reply_keyboard(self, chat_id: int) -> dict[str, Any] | None:
        """The reply keyboard the bot currently shows in this chat, if any."""
        chat = self._chats.get(chat_id)
        return chat.reply_keyboard if chat else None

    def deliveries(self, chat_id: int | None = None) -> list[Delivery]:
        """Every message the bot delivered (to one chat, or to all in order of delivery)."""
        if chat_id is not None:
            return list(self._deliveries.get(chat_id, []))
        return sorted((d for log_ in self._deliveries.values() for d in log_),
                      key=lambda d: d.at)

    def duplicate_texts(self, chat_id: int) -> dict[str, int]:
        """Texts delivered more than once to a chat, with their counts."""
        counts = Counter(d.text for d in self.deliveries(chat_id) if d.text)
        return {text: n for text, n in counts.items() if n > 1}

    def transcript(self, chat_id: int) -> str:
        """The chat as readable lines, for assertion messages and debugging."""
        lines = []
        for m in self.messages(chat_id):
            who = "🤖" if m.from_bot else self._chats[chat_id].user.first_name
            body = m.text or ""
            if m.kind != "text":
                body = f"[{m.kind}] {body}".strip()
            if m.edits:
                body += " (edited)"
            buttons = " ".join(f"[{b.get('text')}]" for row in m.inline_keyboard for b in row)
            lines.append(f"{who}: {body}" + (f"  {buttons}" if buttons else ""))
        return "\n".join(lines) or "(no messages)"

    def _chat_for_send(self, call: Call, name: str = "chat_id") -> ChatState:
        """The private chat a method addresses, with Telegram's 400/403 answers."""
        raw = call.params.get(name)
        if raw is None or raw == "":
            raise bad("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad("chat not found") from None
        chat = self._chats.get(chat_id)
        if chat is None:
            raise bad("chat not found")
        user = chat.user
        if user.deactivated:
            raise forbidden("user is deactivated")
        if user.blocked:
            raise forbidden("bot was blocked by the user")
        if not user.started:
            raise forbidden("bot can't initiate conversation with a user")
        return chat

    def _store_message(self, chat: ChatState, *, from_bot: bool, content: dict[str, Any],
                       sender: dict[str, Any], method: str | None = None,
                       reply_keyboard: dict[str, Any] | None = None) -> StoredMessage:
        chat.last_message_id += 1
        data = {"message_id": chat.last_message_id, "from": sender,
                "chat": chat.user.to_chat(), "date": now(), **content}
        stored = StoredMessage(chat.user.id, chat.last_message_id, from_bot, data,
                               method=method, reply_keyboard=reply_keyboard)
        chat.messages[stored.message_id] = stored
        self._emit("message", chat.user.id, message=stored)
        stored.created_seq = stored.seq
        return stored

    async def _m_getchat(self, call: Call) -> dict[str, Any]:
        try:
            chat = self._chats[int(call.params.get("chat_id"))]
        except (TypeError, ValueError, KeyError):
            raise bad("chat not found") from None
        return {**chat.user.to_chat(), "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                        "unique_gifts": False, "premium_subscription": False,
                                        "gifts_from_channels": False}}
