"""Callback queries: a user taps an inline button (the query is queued for the bot), the bot answers
it once with answerCallbackQuery (a text of at most 200 characters), and tests read the answers."""

from __future__ import annotations

import secrets

from demo.entities import utf16_len
from demo.standin.model import Call, CallbackAnswer, bad
from demo.standin.users import UsersMixin


class CallbacksMixin(UsersMixin):
    """Inline button presses and their answers."""

    def user_presses_button(self, user_id: int, message_id: int, callback_data: str, *,
                            forged: bool = False) -> str:
        """The user taps an inline button; returns the callback query id.

        `forged=True` sends data that no button on the message carries, as a modified client can.
        """
        user = self._user(user_id)
        chat = self._chats[user_id]
        message = chat.messages.get(message_id)
        if message is None or message.deleted or not message.from_bot:
            raise ValueError(f"message {message_id} is not a bot message in chat {user_id}")
        datas = [b.get("callback_data") for row in message.inline_keyboard for b in row]
        if callback_data not in datas and not forged:
            raise ValueError(f"message {message_id} has no button with data {callback_data!r}")
        query_id = str(secrets.randbits(63))
        self._callbacks[query_id] = CallbackAnswer(query_id, user_id, message_id, callback_data)
        self._enqueue("callback_query", {
            "id": query_id,
            "from": user.to_user(),
            "message": message.data,
            "chat_instance": str(-(user_id * 7919 + 13)),
            "data": callback_data,
        })
        return query_id

    def callback_answer(self, query_id: str) -> CallbackAnswer | None:
        return self._callbacks.get(query_id)

    def callback_answers(self, user_id: int) -> list[CallbackAnswer]:
        """Every press of this user, oldest first, answered or not yet."""
        return [a for a in self._callbacks.values() if a.user_id == user_id]

    async def wait_callback_answer(self, query_id: str, timeout: float = 5.0) -> CallbackAnswer:
        answer = self._callbacks[query_id]
        return await self.wait_until(lambda: answer if answer.answered else None, timeout)

    async def _m_answercallbackquery(self, call: Call) -> bool:
        answer = self._callbacks.get(call.text("callback_query_id", "") or "")
        if answer is None or answer.answered:
            raise bad("query is too old and response timeout expired or query ID is invalid")
        text = call.text("text")
        if text is not None and utf16_len(text) > 200:
            raise bad("MESSAGE_TOO_LONG")
        answer.text = text
        answer.show_alert = call.flag("show_alert")
        answer.url = call.text("url")
        answer.cache_time = call.integer("cache_time")
        answer.answered = True
        self._emit("callback_answer", answer.user_id, answer=answer)
        return True
