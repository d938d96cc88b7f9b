"""The simulated users: adding them, blocking the bot, and what they do in their chat (send a text,
a photo, an album, a document, a location, their contact; tap a reply-keyboard button). Tapping an
inline button is a callback query: callbacks.py."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from demo.entities import auto_entities
from demo.standin.chats import ChatsMixin
from demo.standin.files import FilesMixin, document_json
from demo.standin.model import ApiError, ChatState, SimUser, media_group_id, now
from demo.standin.updates import UpdatesMixin


class UsersMixin(ChatsMixin, UpdatesMixin, FilesMixin):
    """The simulated users and their actions (`user_*`)."""

    def add_user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        *,
        phone_number: str | None = None,
        started: bool = True,
    ) -> SimUser:
        """Add (or update) a simulated user and their private chat with the bot."""
        user = self.users.get(user_id)
        if user is None:
            user = SimUser(user_id, first_name, last_name, username, language_code,
                           phone_number, started)
            self.users[user_id] = user
            self._chats[user_id] = ChatState(user)
        else:
            user.first_name, user.last_name = first_name, last_name
            user.username, user.language_code = username, language_code
            user.phone_number = phone_number or user.phone_number
        return user

    def get_user(self, user_id: int) -> SimUser | None:
        return self.users.get(user_id)

    def _user(self, user_id: int) -> SimUser:
        user = self.users.get(user_id)
        if user is None:
            raise KeyError(f"no simulated user {user_id}; call add_user first")
        return user

    def set_blocked(self, user_id: int, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot; Telegram then sends a my_chat_member update."""
        user = self._user(user_id)
        if user.blocked == blocked:
            return
        user.blocked = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")

        def member(status: str) -> dict[str, Any]:
            body: dict[str, Any] = {"status": status, "user": self.bot_user}
            if status == "kicked":
                body["until_date"] = 0
            return body

        self._enqueue("my_chat_member", {
            "chat": user.to_chat(), "from": user.to_user(), "date": now(),
            "old_chat_member": member(old), "new_chat_member": member(new),
        })

    # ------------------------------------------------------------------ the user acts

    def _user_message(self, user_id: int, content: dict[str, Any]) -> dict[str, Any]:
        user = self._user(user_id)
        if user.blocked:
            # Writing to a blocked bot means pressing "Restart", which unblocks it.
            self.set_blocked(user_id, False)
        user.started = True
        chat = self._chats[user_id]
        stored = self._store_message(chat, from_bot=False, content=content,
                                     sender=user.to_user())
        self._enqueue("message", stored.data)
        return stored.data

    def user_sends_text(self, user_id: int, text: str) -> dict[str, Any]:
        """The user types and sends `text` ("/start payload" gets a bot_command entity)."""
        if not text.strip():
            raise ValueError("Telegram does not send empty messages")
        content: dict[str, Any] = {"text": text}
        entities = auto_entities(text)
        if entities:
            content["entities"] = entities
        return self._user_message(user_id, content)

    def user_sends_photo(self, user_id: int, data: bytes, caption: str | None = None, *,
                         media_group_id: str | None = None) -> dict[str, Any]:
        """The user sends a picture (raises ValueError if `data` is not an image)."""
        try:
            sizes = self._store_photo(data)
        except ApiError as error:
            raise ValueError(error.description) from None
        content: dict[str, Any] = {"photo": sizes}
        if media_group_id:
            content["media_group_id"] = media_group_id
        content.update(caption_fields(caption))
        return self._user_message(user_id, content)

    def user_sends_album(self, user_id: int, images: Iterable[bytes],
                         caption: str | None = None) -> list[dict[str, Any]]:
        """Several photos sent together: one message each, sharing a media_group_id."""
        group_id = media_group_id()
        return [
            self.user_sends_photo(user_id, data, caption if i == 0 else None,
                                  media_group_id=group_id)
            for i, data in enumerate(images)
        ]

    def user_sends_document(self, user_id: int, data: bytes, file_name: str,
                            mime_type: str | None = None,
                            caption: str | None = None, *, with_size: bool = True) -> dict[str, Any]:
        """`with_size=False` leaves out `file_size`, which Telegram does not promise to send."""
        stored = self._store_file(data, "document", file_name=file_name, mime_type=mime_type)
        content: dict[str, Any] = {"document": document_json(stored)}
        if not with_size:
            del content["document"]["file_size"]
        content.update(caption_fields(caption))
        return self._user_message(user_id, content)

    def user_sends_voice(self, user_id: int, data: bytes, duration: int) -> dict[str, Any]:
        """The user holds the microphone button and speaks: a voice note (OGG/Opus) of `duration` seconds."""
        return self._user_message(user_id, {"voice": self._store_voice(data, duration)})

    def user_sends_location(self, user_id: int, latitude: float, longitude: float, *,
                            horizontal_accuracy: float | None = None) -> dict[str, Any]:
        location: dict[str, Any] = {"latitude": float(latitude), "longitude": float(longitude)}
        if horizontal_accuracy is not None:
            location["horizontal_accuracy"] = horizontal_accuracy
        return self._user_message(user_id, {"location": location})

    def user_shares_contact(self, user_id: int, phone_number: str | None = None) -> dict[str, Any]:
        """The user shares their own contact (what a request_contact button sends)."""
        user = self._user(user_id)
        phone = phone_number or user.phone_number or f"86138{user_id % 10**8:08d}"
        user.phone_number = phone
        contact: dict[str, Any] = {"phone_number": phone, "first_name": user.first_name,
                                   "user_id": user.id}
        if user.last_name:
            contact["last_name"] = user.last_name
        return self._user_message(user_id, {"contact": contact})

    def user_presses_reply_button(self, user_id: int, label: str) -> dict[str, Any]:
        """The user taps a reply-keyboard button; Telegram sends its text (or contact)."""
        chat = self._chats[self._user(user_id).id]
        keyboard = chat.reply_keyboard
        buttons = [b for row in (keyboard or {}).get("keyboard", []) for b in row]
        button = next((b for b in buttons if b["text"] == label), None)
        if button is None:
            raise ValueError(f"no reply keyboard button {label!r} in chat {user_id}")
        if keyboard and keyboard.get("one_time_keyboard"):
            chat.reply_keyboard = None
            self._emit("keyboard", user_id)
        if button.get("request_contact"):
            return self.user_shares_contact(user_id)
        if button.get("request_location"):
            raise ValueError("a request_location button needs coordinates: "
                             "use user_sends_location")
        return self.user_sends_text(user_id, label)


def caption_fields(caption: str | None) -> dict[str, Any]:
    if not caption:
        return {}
    fields: dict[str, Any] = {"caption": caption}
    entities = auto_entities(caption)
    if entities:
        fields["caption_entities"] = entities
    return fields
