"""Messages the bot sends, edits and deletes: sendMessage, sendPhoto, sendDocument, sendVoice, sendLocation,
sendContact, sendMediaGroup, copyMessage, forwardMessage, sendChatAction, editMessageText,
editMessageCaption, editMessageReplyMarkup, deleteMessage(s); reply_markup and captions.

Telegram's rules kept here: a text of at most 4096 and a caption of at most 1024 UTF-16 units, an
album of 2-10 items, an edit without reply_markup drops the inline keyboard, an edit that changes
nothing fails "message is not modified"; every send counts against the flood limits (limits.py)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from demo.entities import parse_text, utf16_len
from demo.standin.chats import ChatsMixin
from demo.standin.files import FilesMixin, voice_json
from demo.standin.limits import LimitsMixin
from demo.standin.model import (
    MEDIA_KEYS,
    Call,
    ChatState,
    Delivery,
    StoredMessage,
    Upload,
    bad,
    media_group_id,
    now,
)

MAX_TEXT = 4096  # UTF-16 units, Telegram's limit for a message text
MAX_CAPTION = 1024


class MessagesMixin(ChatsMixin, FilesMixin, LimitsMixin):
    """The bot's messages: sending, editing, deleting."""

    async def _m_sendmessage(self, call: Call) -> dict[str, Any]:
        chat = self._chat_for_send(call)
        raw = call.text("text")
        if raw is None or not raw.strip():
            raise bad("message text is empty")
        text, entities = self._formatted(raw, call.text("parse_mode"), call.json("entities"))
        if not text.strip():
            raise bad("message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise bad("message is too long")
        self._check_flood(chat.user.id)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._send(call, chat, content, "sendMessage")

    async def _m_sendphoto(self, call: Call) -> dict[str, Any]:
        chat = self._chat_for_send(call)
        caption = self._caption(call)
        self._check_flood(chat.user.id)
        content = self._media(call.upload("photo"), "photo")
        if call.flag("has_spoiler"):
            content["has_media_spoiler"] = True
        return self._send(call, chat, {**content, **caption}, "sendPhoto")

    async def _m_senddocument(self, call: Call) -> dict[str, Any]:
        chat = self._chat_for_send(call)
        caption = self._caption(call)
        self._check_flood(chat.user.id)
        content = self._media(call.upload("document"), "document")
        return self._send(call, chat, {**content, **caption}, "sendDocument")

    async def _m_sendvoice(self, call: Call) -> dict[str, Any]:
        """A voice note: an upload (OGG/Opus as Telegram wants; anything else Telegram sends as a
        document, and so does the stand-in) or the file_id of a voice Telegram has."""
        chat = self._chat_for_send(call)
        caption = self._caption(call)
        self._check_flood(chat.user.id)
        value = call.upload("voice")
        if isinstance(value, Upload) and not value.data.startswith(b"OggS"):
            content = self._media(value, "document")
            return self._send(call, chat, {**content, **caption}, "sendVoice")
        if isinstance(value, Upload):
            content = {"voice": self._store_voice(value.data, call.integer("duration") or 0, value.content_type)}
        else:
            stored = self.files.get(value or "")
            if stored is None:
                raise bad("wrong file identifier/HTTP URL specified")
            if stored.kind != "voice":
                raise bad(f"can't use file of type {stored.kind.capitalize()} as Voice")
            content = {"voice": voice_json(stored)}
        return self._send(call, chat, {**content, **caption}, "sendVoice")

    async def _m_sendlocation(self, call: Call) -> dict[str, Any]:
        chat = self._chat_for_send(call)
        latitude, longitude = call.number("latitude"), call.number("longitude")
        self._check_flood(chat.user.id)
        return self._send(call, chat, {"location": {"latitude": latitude,
                                                    "longitude": longitude}}, "sendLocation")

    async def _m_sendcontact(self, call: Call) -> dict[str, Any]:
        chat = self._chat_for_send(call)
        phone, first_name = call.text("phone_number"), call.text("first_name")
        if not phone or not first_name:
            raise bad("phone_number and first_name must be non-empty")
        self._check_flood(chat.user.id)
        contact = {"phone_number": phone, "first_name": first_name}
        if call.text("last_name"):
            contact["last_name"] = call.text("last_name")
        return self._send(call, chat, {"contact": contact}, "sendContact")

    async def _m_sendmediagroup(self, call: Call) -> list[dict[str, Any]]:
        chat = self._chat_for_send(call)
        media = call.json("media", "media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad("wrong number of media in the album: must be 2-10 items")
        if not all(isinstance(item, dict) and item.get("type") in MEDIA_KEYS and item["type"] != "voice"
                   for item in media):
            raise bad("can't parse InputMedia: each item needs a type among "
                      + ", ".join(k for k in MEDIA_KEYS if k != "voice"))
        kinds = {item["type"] for item in media}
        if len(kinds) > 1 and kinds & {"document", "audio"}:
            raise bad("MEDIA_GROUP_INVALID: documents and audio can't be mixed with other media")
        self._check_flood(chat.user.id)  # an album counts as one send
        # Build every item before storing any, so a bad item fails the whole album.
        prepared = []
        for item in media:
            kind = item["type"]
            sub = Call(call.token, {k: v for k, v in item.items() if k != "media"}, call.files)
            content = self._media(call.resolve_file(item.get("media")), kind)
            content.update(self._caption(sub))
            if item.get("has_spoiler"):
                content["has_media_spoiler"] = True
            prepared.append(content)
        group_id = media_group_id()
        plain = Call(call.token, {k: v for k, v in call.params.items() if k != "reply_markup"},
                     call.files)
        return [self._send(plain, chat, {"media_group_id": group_id, **content},
                           "sendMediaGroup") for content in prepared]

    async def _m_copymessage(self, call: Call) -> dict[str, Any]:
        chat = self._chat_for_send(call)
        source = self._source_message(call, "copy")
        content = {k: v for k, v in source.data.items()
                   if k in ("text", "entities", *MEDIA_KEYS, "caption", "caption_entities",
                            "location", "contact", "venue")}
        if call.has("caption"):
            content.pop("caption_entities", None)
            content.update(self._caption(call))
        self._check_flood(chat.user.id)
        sent = self._send(call, chat, content, "copyMessage")
        return {"message_id": sent["message_id"]}

    async def _m_forwardmessage(self, call: Call) -> dict[str, Any]:
        chat = self._chat_for_send(call)
        source = self._source_message(call, "forward")
        content = {k: v for k, v in source.data.items()
                   if k in ("text", "entities", *MEDIA_KEYS, "caption", "caption_entities",
                            "location", "contact", "venue", "media_group_id")}
        origin_user = source.data.get("from", {})
        content["forward_origin"] = {"type": "user", "sender_user": origin_user,
                                     "date": source.data.get("date", now())}
        self._check_flood(chat.user.id)
        plain = Call(call.token, {k: v for k, v in call.params.items() if k != "reply_markup"},
                     call.files)
        return self._send(plain, chat, content, "forwardMessage")

    def _source_message(self, call: Call, verb: str) -> StoredMessage:
        try:
            source_chat = self._chats[int(call.params.get("from_chat_id"))]
        except (TypeError, ValueError, KeyError):
            raise bad("chat not found") from None
        message = source_chat.messages.get(call.integer("message_id", 0) or 0)
        if message is None or message.deleted:
            raise bad(f"message to {verb} not found")
        return message

    async def _m_sendchataction(self, call: Call) -> bool:
        chat = self._chat_for_send(call)
        action = call.text("action")
        if not action:
            raise bad("action is empty")
        self._emit("chat_action", chat.user.id, action=action)
        return True

    # ------------------------------------------------------------------ editing and deleting

    async def _m_editmessagetext(self, call: Call) -> dict[str, Any]:
        _, message = self._editable(call)
        if "text" not in message.data:
            raise bad("there is no text in the message to edit")
        raw = call.text("text")
        if raw is None or not raw.strip():
            raise bad("message text is empty")
        text, entities = self._formatted(raw, call.text("parse_mode"), call.json("entities"))
        if utf16_len(text) > MAX_TEXT:
            raise bad("message is too long")
        changes, removed = self._inline_changes(call)
        changes["text"] = text
        if entities:
            changes["entities"] = entities
        else:
            removed.append("entities")
        return self._apply_edit(message, changes, removed)

    async def _m_editmessagecaption(self, call: Call) -> dict[str, Any]:
        _, message = self._editable(call)
        if not any(key in message.data for key in MEDIA_KEYS):
            raise bad("there is no caption in the message to edit")
        changes, removed = self._inline_changes(call)
        caption = self._caption(call)
        changes.update(caption)
        removed += [k for k in ("caption", "caption_entities") if k not in caption]
        return self._apply_edit(message, changes, removed)

    async def _m_editmessagereplymarkup(self, call: Call) -> dict[str, Any]:
        _, message = self._editable(call)
        changes, removed = self._inline_changes(call)
        return self._apply_edit(message, changes, removed)

    async def _m_deletemessage(self, call: Call) -> bool:
        chat = self._chat_for_send(call)
        message_id = call.integer("message_id", required="message identifier is not specified")
        if not self._delete(chat, message_id):
            raise bad("message to delete not found")
        return True

    async def _m_deletemessages(self, call: Call) -> bool:
        chat = self._chat_for_send(call)
        ids = call.json("message_ids") or []
        for message_id in ids:
            self._delete(chat, int(message_id))
        return True

    def _delete(self, chat: ChatState, message_id: int) -> bool:
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            return False
        message.deleted = True
        self._emit("deleted", chat.user.id, message=message)
        return True

    # ------------------------------------------------------------------ what every send shares

    def _send(self, call: Call, chat: ChatState, content: dict[str, Any],
              method: str) -> dict[str, Any]:
        """Common tail of every send method: markup, reply, store, log, announce."""
        inline, keyboard, remove = self._markup(call)
        content = {**content, **self._reply_to(call, chat)}
        if inline:
            content["reply_markup"] = inline
        if call.flag("protect_content"):
            content["has_protected_content"] = True
        stored = self._store_message(chat, from_bot=True, content=content, sender=self.bot_user,
                                     method=method, reply_keyboard=keyboard)
        self._deliveries.setdefault(chat.user.id, []).append(
            Delivery(chat.user.id, stored.message_id, method, stored.kind, stored.text,
                     time.monotonic()))
        if keyboard is not None or remove:
            chat.reply_keyboard = keyboard
            self._emit("keyboard", chat.user.id)
        return stored.data

    def _markup(self, call: Call, *, inline_only: bool = False) -> tuple[
            dict[str, Any] | None, dict[str, Any] | None, bool]:
        """(inline markup for the message, reply keyboard, whether to remove the keyboard)."""
        markup = call.json("reply_markup", "reply keyboard markup")
        if not markup:
            return None, None, False
        if not isinstance(markup, dict):
            raise bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = validate_inline_keyboard(markup["inline_keyboard"])
            return {"inline_keyboard": rows}, None, False
        if inline_only:
            raise bad("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad("can't parse reply keyboard markup JSON object")
            keyboard = dict(markup)
            keyboard["keyboard"] = [[{"text": b} if isinstance(b, str) else dict(b) for b in row]
                                    for row in rows]
            for row in keyboard["keyboard"]:
                for button in row:
                    if not button.get("text"):
                        raise bad("keyboard button text is empty")
            return None, keyboard, False
        if markup.get("remove_keyboard"):
            return None, None, True
        return None, None, False  # force_reply: nothing to show in a private chat

    def _reply_to(self, call: Call, chat: ChatState) -> dict[str, Any]:
        params = call.json("reply_parameters") or {}
        message_id = params.get("message_id") or call.integer("reply_to_message_id")
        if not message_id:
            return {}
        target = chat.messages.get(int(message_id))
        if target is None or target.deleted:
            if params.get("allow_sending_without_reply") or \
                    call.flag("allow_sending_without_reply"):
                return {}
            raise bad("message to be replied not found")
        quoted = {k: v for k, v in target.data.items() if k != "reply_to_message"}
        return {"reply_to_message": quoted}

    def _caption(self, call: Call) -> dict[str, Any]:
        caption = call.text("caption")
        if caption is None:
            return {}
        text, entities = self._formatted(caption, call.text("parse_mode"),
                                         call.json("caption_entities"))
        if utf16_len(text) > MAX_CAPTION:
            raise bad("message caption is too long")
        result: dict[str, Any] = {"caption": text}
        if entities:
            result["caption_entities"] = entities
        if call.flag("show_caption_above_media"):
            result["show_caption_above_media"] = True
        return result

    @staticmethod
    def _formatted(text: str, parse_mode: str | None,
                   entities: Any) -> tuple[str, list[dict[str, Any]]]:
        if entities:
            return text, list(entities)
        return parse_text(text, parse_mode)

    def _editable(self, call: Call) -> tuple[ChatState, StoredMessage]:
        if call.has("inline_message_id"):
            raise bad("inline messages are not supported by the stand-in")
        chat = self._chat_for_send(call)
        message_id = call.integer("message_id", required="message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise bad("message to edit not found")
        if not message.from_bot:
            raise bad("message can't be edited")
        return chat, message

    def _apply_edit(self, message: StoredMessage, changes: dict[str, Any],
                    removed: Iterable[str]) -> dict[str, Any]:
        new = {k: v for k, v in message.data.items() if k not in removed and k != "edit_date"}
        new.update(changes)
        old = {k: v for k, v in message.data.items() if k != "edit_date"}
        if new == old:
            raise bad("message is not modified: specified new message content and reply "
                      "markup are exactly the same as a current content and reply markup "
                      "of the message")
        new["edit_date"] = now()
        message.data = new
        message.edits += 1
        self._emit("edited", message.chat_id, message=message)
        return new

    def _inline_changes(self, call: Call) -> tuple[dict[str, Any], list[str]]:
        # An edit without reply_markup removes the inline keyboard, as on Telegram.
        inline, _, _ = self._markup(call, inline_only=True)
        if inline:
            return {"reply_markup": inline}, []
        return {}, ["reply_markup"]


def validate_inline_keyboard(rows: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad("can't parse inline keyboard markup JSON object")
    actions = ("callback_data", "url", "web_app", "login_url", "switch_inline_query",
               "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
               "copy_text", "callback_game", "pay")
    clean = []
    for row in rows:
        clean_row = []
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise bad("BUTTON_TEXT_INVALID")
            if not any(key in button for key in actions):
                raise bad("can't parse inline keyboard button: Text buttons are unallowed "
                          "in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise bad("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not str(url).startswith(("http://", "https://", "tg://")):
                raise bad("BUTTON_URL_INVALID")
            clean_row.append(dict(button))
        clean.append(clean_row)
    return clean
