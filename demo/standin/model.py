"""The shapes the stand-in keeps and answers with: Telegram's error answer (`ApiError`, `bad`,
`forbidden`), the simulated users, stored files and messages, callback answers, deliveries, chat
events, the webhook's settings, a private chat's state, and one API call's parameters (`Call`)."""

from __future__ import annotations

import functools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

# JSON as Telegram writes it: UTF-8 text, no \u escapes.
json_dumps = functools.partial(json.dumps, ensure_ascii=False)

MEDIA_KEYS = ("photo", "document", "video", "audio", "voice")


class ApiError(Exception):
    """An error answer, shaped and coded exactly like Telegram's."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code,
                                "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def forbidden(description: str) -> ApiError:
    return ApiError(403, f"Forbidden: {description}")


@dataclass
class SimUser:
    """A simulated Telegram user; the private chat with the bot has the same id."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    phone_number: str | None = None
    # True once the user pressed Start; Telegram forbids a bot to write first.
    started: bool = True
    blocked: bool = False
    deactivated: bool = False

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    def to_user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                user[key] = getattr(self, key)
        return user

    def to_chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "first_name": self.first_name}
        for key in ("last_name", "username"):
            if getattr(self, key):
                chat[key] = getattr(self, key)
        chat["type"] = "private"
        return chat


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    kind: str  # photo | document | video | audio | voice
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    # For photos: every PhotoSize of the same picture, so resending any size by file_id
    # produces the same `photo` array Telegram would.
    photo_sizes: list[dict[str, Any]] | None = None
    duration: int = 0  # seconds, for a voice note

    @property
    def size(self) -> int:
        return len(self.data)

    def to_file(self) -> dict[str, Any]:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id,
                "file_size": self.size, "file_path": self.file_path}


@dataclass
class StoredMessage:
    """One message in a private chat, from the bot (`from_bot`) or from the user.

    `data` is the Telegram Message JSON as the bot would receive it. A reply keyboard is not
    part of that JSON (Telegram does not echo it back), so it is kept in `reply_keyboard`.
    """

    chat_id: int
    message_id: int
    from_bot: bool
    data: dict[str, Any]
    created_seq: int = 0
    seq: int = 0  # sequence number of the last change (creation, edit or deletion)
    method: str | None = None
    deleted: bool = False
    reply_keyboard: dict[str, Any] | None = None
    edits: int = 0

    @property
    def text(self) -> str | None:
        """The text of a text message, or the caption of a media message."""
        return self.data.get("text", self.data.get("caption"))

    @property
    def media_group_id(self) -> str | None:
        return self.data.get("media_group_id")

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        return (self.data.get("reply_markup") or {}).get("inline_keyboard", [])

    @property
    def kind(self) -> str:
        for key in ("text", *MEDIA_KEYS, "location", "venue", "contact"):
            if key in self.data:
                return key
        return "other"


@dataclass
class CallbackAnswer:
    """A button press and, once the bot called answerCallbackQuery, its answer."""

    query_id: str
    user_id: int
    message_id: int
    data: str
    answered: bool = False
    text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int | None = None


@dataclass(frozen=True)
class Delivery:
    """One message the bot delivered to a chat (the per-chat log used to count duplicates)."""

    chat_id: int
    message_id: int
    method: str
    kind: str
    text: str | None
    at: float


@dataclass(frozen=True)
class ChatEvent:
    """Something visible changed in a chat.

    kind: "message" (new, either direction), "edited", "deleted", "callback_answer",
    "chat_action" (e.g. typing) or "keyboard" (the reply keyboard changed).
    """

    kind: str
    chat_id: int
    seq: int
    message: StoredMessage | None = None
    answer: CallbackAnswer | None = None
    action: str | None = None


@dataclass
class WebhookConfig:
    url: str
    token: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class ChatState:
    user: SimUser
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    last_message_id: int = 0
    reply_keyboard: dict[str, Any] | None = None
    menu_button: dict[str, Any] | None = None


@dataclass
class Upload:
    filename: str | None
    data: bytes
    content_type: str | None


class Call:
    """One API call: its token, parameters (strings or decoded JSON) and uploaded files."""

    def __init__(self, token: str, params: dict[str, Any], files: dict[str, Upload]):
        self.token = token
        self.params = params
        self.files = files

    def has(self, name: str) -> bool:
        return self.params.get(name) not in (None, "")

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        if value is None or value == "":
            return default
        return value if isinstance(value, str) else json_dumps(value)

    def integer(self, name: str, default: int | None = None, *,
                required: str | None = None) -> int | None:
        value = self.params.get(name)
        if value is None or value == "":
            if required:
                raise bad(required)
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad(f'invalid {name} specified') from None

    def number(self, name: str, *, required: bool = True) -> float | None:
        value = self.params.get(name)
        if value is None or value == "":
            if required:
                raise bad(f"{name} is empty")
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.params.get(name)
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1")

    def json(self, name: str, what: str | None = None) -> Any:
        value = self.params.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            return value  # already decoded (JSON request body)
        try:
            return json.loads(value)
        except ValueError:
            raise bad(f"can't parse {what or name} JSON object") from None

    def upload(self, name: str) -> Upload | str | None:
        """A file parameter: an upload (a file part named `name` or attach://x) or a string."""
        if self.params.get(name) in (None, "") and name in self.files:
            return self.files[name]
        return self.resolve_file(self.params.get(name))

    def resolve_file(self, value: Any) -> Upload | str | None:
        """"attach://x" -> the uploaded part x; a file_id or URL string stays as it is."""
        if isinstance(value, str) and value.startswith("attach://"):
            upload = self.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad(f"wrong remote file identifier specified: can't find {value}")
            return upload
        return value if value not in (None, "") else None


def now() -> int:
    return int(time.time())


def media_group_id() -> str:
    return str(10**17 + secrets.randbelow(9 * 10**17))
