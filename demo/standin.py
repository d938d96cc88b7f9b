"""An offline stand-in for the Telegram Bot API, served by aiohttp.

An unchanged aiogram bot talks to it through

    Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))

and gets Telegram's own JSON shapes and error answers back, so aiogram raises the same
exceptions it raises in production (TelegramBadRequest, TelegramForbiddenError,
TelegramRetryAfter, ...). Simulated users act through the Python methods named
`user_*` (used by `demo.harness` and `demo.webchat`); every change in a chat is announced
to subscribers (`subscribe()`) and to `wait_until()` callers.

State lives in memory only: users, their private chats (chat id == user id), messages with
per-chat message ids, uploaded files and the queue of pending updates.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
import math
import mimetypes
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from PIL import Image, UnidentifiedImageError

from demo.entities import EntityParseError, auto_entities, parse_text, utf16_len

log = logging.getLogger(__name__)

T = TypeVar("T")

_json_dumps = functools.partial(json.dumps, ensure_ascii=False)

DEFAULT_BOT_ID = 7000000001
MAX_TEXT = 4096  # UTF-16 units, Telegram's limit for a message text
MAX_CAPTION = 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses bigger files ("file is too big"), as Telegram's cloud API
THUMBNAIL_SIDE = 320  # Telegram's "m" size; the original is kept as the largest size
# Update kinds Telegram leaves out when allowed_updates is empty or never given.
_NOT_DEFAULT_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
# Methods that put a new message in a chat and so count against flood limits.
_SEND_METHODS = {
    "sendmessage", "sendphoto", "senddocument", "sendmediagroup", "sendlocation",
    "sendcontact", "copymessage", "forwardmessage",
}
_MEDIA_KEYS = ("photo", "document", "video", "audio")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


# --------------------------------------------------------------------------- errors


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


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _forbidden(description: str) -> ApiError:
    return ApiError(403, f"Forbidden: {description}")


# --------------------------------------------------------------------------- state objects


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
    kind: str  # photo | document | video | audio
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    # For photos: every PhotoSize of the same picture, so resending any size by file_id
    # produces the same `photo` array Telegram would.
    photo_sizes: list[dict[str, Any]] | None = None

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
        for key in ("text", *_MEDIA_KEYS, "location", "venue", "contact"):
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
class _ChatState:
    user: SimUser
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    last_message_id: int = 0
    reply_keyboard: dict[str, Any] | None = None
    menu_button: dict[str, Any] | None = None


@dataclass
class _Upload:
    filename: str | None
    data: bytes
    content_type: str | None


# --------------------------------------------------------------------------- notifications


class _Changed:
    """Wakes every waiter on the next change; cheap stand-in for a Condition without a lock."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self, timeout: float | None) -> bool:
        if self._event is None:
            self._event = asyncio.Event()
        event = self._event
        if timeout is not None and timeout <= 0:
            return False
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True


class Subscription:
    """A per-listener queue of ChatEvents; iterate it or `await get()`. Close when done."""

    def __init__(self, standin: BotApiStandIn, chat_id: int | None) -> None:
        self._standin = standin
        self.chat_id = chat_id
        self.queue: asyncio.Queue[ChatEvent | None] = asyncio.Queue()
        self.closed = False

    def _offer(self, event: ChatEvent) -> None:
        if not self.closed and self.chat_id in (None, event.chat_id):
            self.queue.put_nowait(event)

    async def get(self, timeout: float | None = None) -> ChatEvent | None:
        """Next event, or None when closed (or on timeout)."""
        if self.closed and self.queue.empty():
            return None
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._standin._subscriptions.discard(self)
            self.queue.put_nowait(None)  # wakes a reader blocked in get()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> ChatEvent:
        event = await self.get()
        if event is None:
            raise StopAsyncIteration
        return event

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- request params


class _Call:
    """One API call: its token, parameters (strings or decoded JSON) and uploaded files."""

    def __init__(self, token: str, params: dict[str, Any], files: dict[str, _Upload]):
        self.token = token
        self.params = params
        self.files = files

    def has(self, name: str) -> bool:
        return self.params.get(name) not in (None, "")

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        if value is None or value == "":
            return default
        return value if isinstance(value, str) else _json_dumps(value)

    def integer(self, name: str, default: int | None = None, *,
                required: str | None = None) -> int | None:
        value = self.params.get(name)
        if value is None or value == "":
            if required:
                raise _bad(required)
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad(f'invalid {name} specified') from None

    def number(self, name: str, *, required: bool = True) -> float | None:
        value = self.params.get(name)
        if value is None or value == "":
            if required:
                raise _bad(f"{name} is empty")
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad(f"invalid {name} specified") from None

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
            raise _bad(f"can't parse {what or name} JSON object") from None

    def upload(self, name: str) -> _Upload | str | None:
        """A file parameter: an upload (a file part named `name` or attach://x) or a string."""
        if self.params.get(name) in (None, "") and name in self.files:
            return self.files[name]
        return self.resolve_file(self.params.get(name))

    def resolve_file(self, value: Any) -> _Upload | str | None:
        """"attach://x" -> the uploaded part x; a file_id or URL string stays as it is."""
        if isinstance(value, str) and value.startswith("attach://"):
            upload = self.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise _bad(f"wrong remote file identifier specified: can't find {value}")
            return upload
        return value if value not in (None, "") else None


async def _read_request(request: web.Request) -> tuple[dict[str, Any], dict[str, _Upload]]:
    """Parameters from the query string and a form, multipart or JSON body."""
    params: dict[str, Any] = dict(request.query)
    files: dict[str, _Upload] = {}
    if request.method != "POST" or not request.can_read_body:
        return params, files
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise _bad("can't parse JSON request body") from None
        if isinstance(body, dict):
            params.update(body)
        return params, files
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            files[key] = _Upload(value.filename, value.file.read(), value.content_type)
        elif isinstance(value, (bytes, bytearray)):
            params[key] = bytes(value).decode("utf-8", "replace")
        else:
            params[key] = value
    return params, files


async def _read_multipart(
    response: aiohttp.ClientResponse,
) -> tuple[dict[str, Any], dict[str, _Upload]]:
    """Parameters of a multipart webhook reply (aiogram answers with a method this way)."""
    params: dict[str, Any] = {}
    files: dict[str, _Upload] = {}
    reader = aiohttp.MultipartReader(response.headers, response.content)
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
            continue
        data = bytes(await part.read())
        if part.filename:
            files[part.name] = _Upload(part.filename, data, part.headers.get("Content-Type"))
        else:
            params[part.name] = data.decode("utf-8", "replace")
    return params, files


# --------------------------------------------------------------------------- the stand-in

Handler = Callable[[_Call], Awaitable[Any]]


class BotApiStandIn:
    """Telegram Bot API stand-in. See the module docstring.

    token: accept only this bot token (others get 401); None accepts any token.
    flood_limits: answer 429 past `max_per_second` messages overall or
        `max_per_chat_per_second` messages to one chat (sliding one-second window).
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        bot_username: str = "redgrid_bot",
        bot_first_name: str = "红网格助手",
        flood_limits: bool = False,
        max_per_second: int = 30,
        max_per_chat_per_second: int = 1,
        webhook_retry_delay: float = 0.5,
        webhook_timeout: float = 10.0,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.flood_limits = flood_limits
        self.max_per_second = max_per_second
        self.max_per_chat_per_second = max_per_chat_per_second
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout

        self.users: dict[int, SimUser] = {}
        self._chats: dict[int, _ChatState] = {}
        self.files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_counter = 0
        self._updates: deque[dict[str, Any]] = deque()
        self._last_update_id = 0
        self._allowed_updates: list[str] | None = None
        self._poll_owner: object | None = None
        self.webhook: WebhookConfig | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._callbacks: dict[str, CallbackAnswer] = {}
        self._commands: dict[tuple[str, int | None, int | None, str], list[dict[str, Any]]] = {}
        self._default_menu_button: dict[str, Any] = {"type": "default"}
        self._bot_texts: dict[str, str] = {}
        self._bot_id: int | None = None

        self._seq = 0
        self._subscriptions: set[Subscription] = set()
        self._changed = _Changed()
        self._closing = False

        # Counters and logs for tests and benchmarks.
        self.requests: Counter[str] = Counter()
        self.too_many_requests_count = 0
        # fault switches for the tests: [method or None (any but getUpdates), calls left, code, retry_after]
        self._faults: list[list[Any]] = []
        self.flood_rejections: list[tuple[int, str]] = []
        self.webhook_deliveries = 0
        self._deliveries: dict[int, list[Delivery]] = {}
        self._flood_all: deque[float] = deque()
        self._flood_chat: dict[int, deque[float]] = {}

        self._runner: web.AppRunner | None = None
        self.base_url: str | None = None
        self.app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        self.app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        self.app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)
        self.app.on_shutdown.append(self._on_shutdown)

        self._methods: dict[str, Handler] = {
            name.removeprefix("_m_"): getattr(self, name)
            for name in dir(self)
            if name.startswith("_m_")
        }

    # ------------------------------------------------------------------ server lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the API on host:port (0 picks a free port); returns the base URL."""
        self._closing = False
        self._runner = web.AppRunner(self.app, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        self._closing = True
        self._changed.notify()
        await self._stop_webhook_worker()
        for sub in list(self._subscriptions):
            sub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _on_shutdown(self, app: web.Application) -> None:
        # Long polls would otherwise hold the shutdown for their whole timeout.
        self._closing = True
        self._changed.notify()

    # ------------------------------------------------------------------ HTTP handlers

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"].lower()
        try:
            if self.token is not None and token != self.token:
                raise ApiError(401, "Unauthorized")
            if method not in self._methods:
                raise ApiError(404, "Not Found")
            self._injected_fault(method)
            params, files = await _read_request(request)
            result = await self.call(token, method, params, files)
            return web.json_response({"ok": True, "result": result}, dumps=_json_dumps)
        except ApiError as error:
            return web.json_response(error.payload(), status=error.code, dumps=_json_dumps)
        except Exception:  # a stand-in bug: answer like Telegram's 500 and keep serving
            log.exception("stand-in failed on %s", method)
            error = ApiError(500, "Internal Server Error: the stand-in failed, see its log")
            return web.json_response(error.payload(), status=500, dumps=_json_dumps)

    def fail(self, method: str | None = None, *, times: int = 1, code: int = 500,
             retry_after: int | None = None) -> None:
        """Fault switch: the next `times` HTTP calls of `method` (None: any method but getUpdates) are
        answered as Telegram answers when it is down (500/502) or throttling (429 with retry_after)."""
        self._faults.append([method.lower() if method else None, times, code, retry_after])

    def _injected_fault(self, method: str) -> None:
        for fault in self._faults:
            name, left, code, retry_after = fault
            if left > 0 and (name == method or (name is None and method != "getupdates")):
                fault[1] -= 1
                if code == 429:
                    raise ApiError(429, f"Too Many Requests: retry after {retry_after or 1}",
                                   {"retry_after": retry_after or 1})
                raise ApiError(code, "Internal Server Error" if code == 500 else "Bad Gateway")

    async def call(self, token: str, method: str, params: dict[str, Any],
                   files: dict[str, _Upload] | None = None) -> Any:
        """Run one Bot API method in-process (the HTTP route and webhook replies use it)."""
        handler = self._methods.get(method.lower())
        if handler is None:
            raise ApiError(404, "Not Found")
        if self._bot_id is None:
            self._bot_id = self._bot_id_from(token)
        self.requests[method.lower()] += 1
        try:
            return await handler(_Call(token, params, files or {}))
        except ApiError as error:
            if error.code == 429:
                self.too_many_requests_count += 1
            raise
        except EntityParseError as error:
            raise _bad(f"can't parse entities: {error}") from None

    async def _handle_file(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if self.token is not None and token != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        stored = self._files_by_path.get(request.match_info["file_path"])
        if stored is not None:
            return web.Response(body=stored.data,
                                content_type=stored.mime_type or "application/octet-stream")
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"},
                                 status=404)

    # ------------------------------------------------------------------ bot identity

    @staticmethod
    def _bot_id_from(token: str | None) -> int:
        prefix = (token or "").partition(":")[0]
        return int(prefix) if prefix.isdigit() else DEFAULT_BOT_ID

    @property
    def bot_id(self) -> int:
        if self._bot_id is None:
            return self._bot_id_from(self.token)
        return self._bot_id

    @property
    def bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_first_name,
                "username": self.bot_username}

    # ------------------------------------------------------------------ users and chats

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
            self._chats[user_id] = _ChatState(user)
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
            "chat": user.to_chat(), "from": user.to_user(), "date": _now(),
            "old_chat_member": member(old), "new_chat_member": member(new),
        })

    # ------------------------------------------------------------------ reading state

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

    def file(self, file_id: str) -> StoredFile | None:
        return self.files.get(file_id)

    def file_bytes(self, file_id: str) -> bytes:
        return self.files[file_id].data

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self._updates)

    def callback_answer(self, query_id: str) -> CallbackAnswer | None:
        return self._callbacks.get(query_id)

    def callback_answers(self, user_id: int) -> list[CallbackAnswer]:
        """Every press of this user, oldest first, answered or not yet."""
        return [a for a in self._callbacks.values() if a.user_id == user_id]

    def commands(self, scope: dict[str, Any] | None = None,
                 language_code: str = "") -> list[dict[str, Any]] | None:
        """Commands stored by setMyCommands for exactly this scope (None if never set)."""
        return self._commands.get(_scope_key(scope, language_code))

    def commands_for(self, user_id: int, language_code: str = "") -> list[dict[str, Any]]:
        """The command menu a user's client would show, resolved like Telegram does."""
        scopes = [{"type": "chat", "chat_id": user_id}, {"type": "all_private_chats"},
                  {"type": "default"}]
        for scope in scopes:
            for lang in ([language_code, ""] if language_code else [""]):
                found = self._commands.get(_scope_key(scope, lang))
                if found:
                    return found
        return []

    def menu_button(self, chat_id: int | None = None) -> dict[str, Any]:
        chat = self._chats.get(chat_id) if chat_id is not None else None
        return (chat.menu_button if chat and chat.menu_button else self._default_menu_button)

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

    # ------------------------------------------------------------------ waiting and events

    def subscribe(self, chat_id: int | None = None) -> Subscription:
        """Start receiving ChatEvents (for one chat, or all). Close the subscription after."""
        sub = Subscription(self, chat_id)
        self._subscriptions.add(sub)
        return sub

    @property
    def long_polling(self) -> bool:
        """A getUpdates call is waiting for updates now."""
        return self._poll_owner is not None

    async def wait_until(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Re-check `predicate` after every change until it returns something truthy."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            await self._changed.wait(remaining)

    async def wait_callback_answer(self, query_id: str, timeout: float = 5.0) -> CallbackAnswer:
        answer = self._callbacks[query_id]
        return await self.wait_until(lambda: answer if answer.answered else None, timeout)

    def _emit(self, kind: str, chat_id: int, *, message: StoredMessage | None = None,
              answer: CallbackAnswer | None = None, action: str | None = None) -> None:
        self._seq += 1
        if message is not None:
            message.seq = self._seq
        event = ChatEvent(kind, chat_id, self._seq, message, answer, action)
        for sub in list(self._subscriptions):
            sub._offer(event)
        self._changed.notify()

    @property
    def seq(self) -> int:
        """Sequence number of the latest change; compare with StoredMessage.seq."""
        return self._seq

    # ------------------------------------------------------------------ updates queue

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        self._last_update_id += 1
        update = {"update_id": self._last_update_id, kind: payload}
        self._updates.append(update)
        self._changed.notify()
        return update

    @staticmethod
    def _allowed(update: dict[str, Any], allowed: list[str] | None) -> bool:
        kind = next(k for k in update if k != "update_id")
        if not allowed:
            return kind not in _NOT_DEFAULT_UPDATES
        return kind in allowed

    def _drop_unwanted(self, allowed: list[str] | None) -> None:
        # Updates of kinds the bot opted out of are never delivered, as on Telegram.
        kept = [u for u in self._updates if self._allowed(u, allowed)]
        if len(kept) != len(self._updates):
            self._updates = deque(kept)

    # ------------------------------------------------------------------ simulation: users act

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
        content.update(_caption_fields(caption))
        return self._user_message(user_id, content)

    def user_sends_album(self, user_id: int, images: Iterable[bytes],
                         caption: str | None = None) -> list[dict[str, Any]]:
        """Several photos sent together: one message each, sharing a media_group_id."""
        group_id = _media_group_id()
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
        content: dict[str, Any] = {"document": _document_json(stored)}
        if not with_size:
            del content["document"]["file_size"]
        content.update(_caption_fields(caption))
        return self._user_message(user_id, content)

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

    # ------------------------------------------------------------------ storing messages and files

    def _store_message(self, chat: _ChatState, *, from_bot: bool, content: dict[str, Any],
                       sender: dict[str, Any], method: str | None = None,
                       reply_keyboard: dict[str, Any] | None = None) -> StoredMessage:
        chat.last_message_id += 1
        data = {"message_id": chat.last_message_id, "from": sender,
                "chat": chat.user.to_chat(), "date": _now(), **content}
        stored = StoredMessage(chat.user.id, chat.last_message_id, from_bot, data,
                               method=method, reply_keyboard=reply_keyboard)
        chat.messages[stored.message_id] = stored
        self._emit("message", chat.user.id, message=stored)
        stored.created_seq = stored.seq
        return stored

    def _new_file_ids(self, prefix: str) -> tuple[str, str]:
        self._file_counter += 1
        file_id = f"{prefix}{self._file_counter:06d}{secrets.token_urlsafe(18)}"
        return file_id, f"AQAD{self._file_counter:04d}{secrets.token_urlsafe(6)}"

    def _store_file(self, data: bytes, kind: str, *, file_name: str | None = None,
                    mime_type: str | None = None, width: int | None = None,
                    height: int | None = None, extension: str | None = None) -> StoredFile:
        if len(data) > MAX_UPLOAD_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        prefix = {"photo": "AgACAgUAAxkB", "document": "BQACAgUAAxkB",
                  "video": "BAACAgUAAxkB", "audio": "CQACAgUAAxkB"}.get(kind, "BQACAgUAAxkB")
        file_id, unique_id = self._new_file_ids(prefix)
        if mime_type in (None, "", "application/octet-stream") and file_name:
            mime_type = mimetypes.guess_type(file_name)[0] or mime_type
        if extension is None:
            extension = (file_name.rsplit(".", 1)[-1].lower()
                         if file_name and "." in file_name else "bin")
        folder = {"photo": "photos", "document": "documents", "video": "videos",
                  "audio": "music"}.get(kind, "documents")
        stored = StoredFile(file_id, unique_id, f"{folder}/file_{self._file_counter}.{extension}",
                            data, kind, mime_type, file_name, width, height)
        self.files[file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _store_photo(self, data: bytes) -> list[dict[str, Any]]:
        """Store a picture as Telegram does: PhotoSizes from small to the original."""
        width, height, fmt, thumbnail = _probe_photo(data)
        extension = "jpg" if fmt == "jpeg" else fmt
        files = []
        if thumbnail is not None:
            files.append(self._store_file(thumbnail[0], "photo", mime_type="image/jpeg",
                                          width=thumbnail[1][0], height=thumbnail[1][1],
                                          extension="jpg"))
        files.append(self._store_file(data, "photo", mime_type=f"image/{fmt}", width=width,
                                      height=height, extension=extension))
        sizes = [{"file_id": f.file_id, "file_unique_id": f.file_unique_id,
                  "file_size": f.size, "width": f.width, "height": f.height} for f in files]
        for f in files:
            f.photo_sizes = sizes
        return sizes

    # ------------------------------------------------------------------ helpers for bot methods

    def _chat_for_send(self, call: _Call, name: str = "chat_id") -> _ChatState:
        """The private chat a method addresses, with Telegram's 400/403 answers."""
        raw = call.params.get(name)
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise _bad("chat not found") from None
        chat = self._chats.get(chat_id)
        if chat is None:
            raise _bad("chat not found")
        user = chat.user
        if user.deactivated:
            raise _forbidden("user is deactivated")
        if user.blocked:
            raise _forbidden("bot was blocked by the user")
        if not user.started:
            raise _forbidden("bot can't initiate conversation with a user")
        return chat

    def _check_flood(self, chat_id: int) -> None:
        if not self.flood_limits:
            return
        now = time.monotonic()
        overall = self._flood_all
        per_chat = self._flood_chat.setdefault(chat_id, deque())
        for window in (overall, per_chat):
            while window and window[0] <= now - 1.0:
                window.popleft()
        for window, limit in ((overall, self.max_per_second),
                              (per_chat, self.max_per_chat_per_second)):
            if len(window) >= limit:
                retry_after = max(1, math.ceil(window[0] + 1.0 - now))
                self.flood_rejections.append((chat_id, "overall" if window is overall else "chat"))
                raise ApiError(429, f"Too Many Requests: retry after {retry_after}",
                               {"retry_after": retry_after})
        overall.append(now)
        per_chat.append(now)

    def _markup(self, call: _Call, *, inline_only: bool = False) -> tuple[
            dict[str, Any] | None, dict[str, Any] | None, bool]:
        """(inline markup for the message, reply keyboard, whether to remove the keyboard)."""
        markup = call.json("reply_markup", "reply keyboard markup")
        if not markup:
            return None, None, False
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = _validate_inline_keyboard(markup["inline_keyboard"])
            return {"inline_keyboard": rows}, None, False
        if inline_only:
            raise _bad("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad("can't parse reply keyboard markup JSON object")
            keyboard = dict(markup)
            keyboard["keyboard"] = [[{"text": b} if isinstance(b, str) else dict(b) for b in row]
                                    for row in rows]
            for row in keyboard["keyboard"]:
                for button in row:
                    if not button.get("text"):
                        raise _bad("keyboard button text is empty")
            return None, keyboard, False
        if markup.get("remove_keyboard"):
            return None, None, True
        return None, None, False  # force_reply: nothing to show in a private chat

    def _reply_to(self, call: _Call, chat: _ChatState) -> dict[str, Any]:
        params = call.json("reply_parameters") or {}
        message_id = params.get("message_id") or call.integer("reply_to_message_id")
        if not message_id:
            return {}
        target = chat.messages.get(int(message_id))
        if target is None or target.deleted:
            if params.get("allow_sending_without_reply") or \
                    call.flag("allow_sending_without_reply"):
                return {}
            raise _bad("message to be replied not found")
        quoted = {k: v for k, v in target.data.items() if k != "reply_to_message"}
        return {"reply_to_message": quoted}

    def _send(self, call: _Call, chat: _ChatState, content: dict[str, Any],
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

    def _caption(self, call: _Call) -> dict[str, Any]:
        caption = call.text("caption")
        if caption is None:
            return {}
        text, entities = self._formatted(caption, call.text("parse_mode"),
                                         call.json("caption_entities"))
        if utf16_len(text) > MAX_CAPTION:
            raise _bad("message caption is too long")
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

    def _media(self, value: _Upload | str | None, kind: str) -> dict[str, Any]:
        """Message fields for one photo/document/video/audio, from an upload or file_id."""
        if value is None:
            raise _bad(f"there is no {kind} in the request")
        if isinstance(value, _Upload):
            if kind == "photo":
                return {"photo": self._store_photo(value.data)}
            mime = value.content_type
            stored = self._store_file(value.data, kind, file_name=value.filename or kind,
                                      mime_type=mime)
        else:
            if value.startswith(("http://", "https://")):
                raise _bad("failed to get HTTP URL content")
            stored = self.files.get(value)
            if stored is None:
                raise _bad("wrong file identifier/HTTP URL specified")
            if stored.kind != kind and not (kind == "document" and stored.kind != "photo"):
                raise _bad(f"can't use file of type {stored.kind.capitalize()} as "
                           f"{kind.capitalize()}")
            if kind == "photo":
                return {"photo": stored.photo_sizes or []}
        if kind == "document":
            return {"document": _document_json(stored)}
        body = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "file_size": stored.size, "duration": 0}
        if stored.mime_type:
            body["mime_type"] = stored.mime_type
        if kind == "video":
            body.update(width=stored.width or 0, height=stored.height or 0)
        if stored.file_name:
            body["file_name"] = stored.file_name
        return {kind: body}

    def _editable(self, call: _Call) -> tuple[_ChatState, StoredMessage]:
        if call.has("inline_message_id"):
            raise _bad("inline messages are not supported by the stand-in")
        chat = self._chat_for_send(call)
        message_id = call.integer("message_id", required="message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise _bad("message to edit not found")
        if not message.from_bot:
            raise _bad("message can't be edited")
        return chat, message

    def _apply_edit(self, message: StoredMessage, changes: dict[str, Any],
                    removed: Iterable[str]) -> dict[str, Any]:
        new = {k: v for k, v in message.data.items() if k not in removed and k != "edit_date"}
        new.update(changes)
        old = {k: v for k, v in message.data.items() if k != "edit_date"}
        if new == old:
            raise _bad("message is not modified: specified new message content and reply "
                       "markup are exactly the same as a current content and reply markup "
                       "of the message")
        new["edit_date"] = _now()
        message.data = new
        message.edits += 1
        self._emit("edited", message.chat_id, message=message)
        return new

    def _inline_changes(self, call: _Call) -> tuple[dict[str, Any], list[str]]:
        # An edit without reply_markup removes the inline keyboard, as on Telegram.
        inline, _, _ = self._markup(call, inline_only=True)
        if inline:
            return {"reply_markup": inline}, []
        return {}, ["reply_markup"]

    # ------------------------------------------------------------------ Bot API methods
    # Each `_m_<lowercase method name>` implements one method; `call` dispatches on the name.

    async def _m_getme(self, call: _Call) -> dict[str, Any]:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False}

    async def _m_logout(self, call: _Call) -> bool:
        return True

    async def _m_close(self, call: _Call) -> bool:
        return True

    async def _m_getupdates(self, call: _Call) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                                "active; use deleteWebhook to delete the webhook first")
        offset = call.integer("offset", 0) or 0
        limit = min(max(call.integer("limit", 100) or 100, 1), 100)
        timeout = max(call.integer("timeout", 0) or 0, 0)
        allowed = call.json("allowed_updates")
        if allowed is not None:
            self._allowed_updates = list(allowed)
        # A positive offset confirms everything before it; a negative one keeps the tail.
        if offset > 0:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        elif offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()
        # Only one long poll at a time: a newer request ends an older one, as on Telegram.
        owner = object()
        self._poll_owner = owner
        self._changed.notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._poll_owner is not owner:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make "
                                    "sure that only one bot instance is running")
            if self.webhook is not None:
                return []
            self._drop_unwanted(self._allowed_updates)
            ready = list(self._updates)[:limit]
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self._closing:
                if self._poll_owner is owner:
                    self._poll_owner = None
                return ready
            await self._changed.wait(remaining)

    async def _m_setwebhook(self, call: _Call) -> bool:
        url = call.text("url", "") or ""
        if not url:
            await self._remove_webhook(call.flag("drop_pending_updates"))
            return True
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = call.text("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(secret):
            raise _bad("secret token contains unallowed characters")
        allowed = call.json("allowed_updates")
        if allowed is not None:
            self._allowed_updates = list(allowed)
        if call.flag("drop_pending_updates"):
            self._updates.clear()
        self.webhook = WebhookConfig(
            url=url, token=call.token, secret_token=secret,
            max_connections=call.integer("max_connections", 40) or 40,
            allowed_updates=self._allowed_updates, ip_address=call.text("ip_address"),
        )
        self._poll_owner = None  # a long poll in progress ends (returns nothing)
        self._changed.notify()
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._webhook_worker())
        return True

    async def _m_deletewebhook(self, call: _Call) -> bool:
        await self._remove_webhook(call.flag("drop_pending_updates"))
        return True

    async def _m_getwebhookinfo(self, call: _Call) -> dict[str, Any]:
        hook = self.webhook
        if hook is None:
            return {"url": "", "has_custom_certificate": False,
                    "pending_update_count": len(self._updates)}
        info: dict[str, Any] = {"url": hook.url, "has_custom_certificate": False,
                                "pending_update_count": len(self._updates),
                                "max_connections": hook.max_connections}
        if hook.allowed_updates:
            info["allowed_updates"] = hook.allowed_updates
        if hook.ip_address:
            info["ip_address"] = hook.ip_address
        if hook.last_error_date:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
        return info

    async def _m_sendmessage(self, call: _Call) -> dict[str, Any]:
        chat = self._chat_for_send(call)
        raw = call.text("text")
        if raw is None or not raw.strip():
            raise _bad("message text is empty")
        text, entities = self._formatted(raw, call.text("parse_mode"), call.json("entities"))
        if not text.strip():
            raise _bad("message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise _bad("message is too long")
        self._check_flood(chat.user.id)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._send(call, chat, content, "sendMessage")

    async def _m_sendphoto(self, call: _Call) -> dict[str, Any]:
        chat = self._chat_for_send(call)
        caption = self._caption(call)
        self._check_flood(chat.user.id)
        content = self._media(call.upload("photo"), "photo")
        if call.flag("has_spoiler"):
            content["has_media_spoiler"] = True
        return self._send(call, chat, {**content, **caption}, "sendPhoto")

    async def _m_senddocument(self, call: _Call) -> dict[str, Any]:
        chat = self._chat_for_send(call)
        caption = self._caption(call)
        self._check_flood(chat.user.id)
        content = self._media(call.upload("document"), "document")
        return self._send(call, chat, {**content, **caption}, "sendDocument")

    async def _m_sendlocation(self, call: _Call) -> dict[str, Any]:
        chat = self._chat_for_send(call)
        latitude, longitude = call.number("latitude"), call.number("longitude")
        self._check_flood(chat.user.id)
        return self._send(call, chat, {"location": {"latitude": latitude,
                                                    "longitude": longitude}}, "sendLocation")

    async def _m_sendcontact(self, call: _Call) -> dict[str, Any]:
        chat = self._chat_for_send(call)
        phone, first_name = call.text("phone_number"), call.text("first_name")
        if not phone or not first_name:
            raise _bad("phone_number and first_name must be non-empty")
        self._check_flood(chat.user.id)
        contact = {"phone_number": phone, "first_name": first_name}
        if call.text("last_name"):
            contact["last_name"] = call.text("last_name")
        return self._send(call, chat, {"contact": contact}, "sendContact")

    async def _m_sendmediagroup(self, call: _Call) -> list[dict[str, Any]]:
        chat = self._chat_for_send(call)
        media = call.json("media", "media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise _bad("wrong number of media in the album: must be 2-10 items")
        if not all(isinstance(item, dict) and item.get("type") in _MEDIA_KEYS
                   for item in media):
            raise _bad("can't parse InputMedia: each item needs a type among "
                       + ", ".join(_MEDIA_KEYS))
        kinds = {item["type"] for item in media}
        if len(kinds) > 1 and kinds & {"document", "audio"}:
            raise _bad("MEDIA_GROUP_INVALID: documents and audio can't be mixed with other media")
        self._check_flood(chat.user.id)  # an album counts as one send
        # Build every item before storing any, so a bad item fails the whole album.
        prepared = []
        for item in media:
            kind = item["type"]
            sub = _Call(call.token, {k: v for k, v in item.items() if k != "media"}, call.files)
            content = self._media(call.resolve_file(item.get("media")), kind)
            content.update(self._caption(sub))
            if item.get("has_spoiler"):
                content["has_media_spoiler"] = True
            prepared.append(content)
        group_id = _media_group_id()
        plain = _Call(call.token, {k: v for k, v in call.params.items() if k != "reply_markup"},
                      call.files)
        return [self._send(plain, chat, {"media_group_id": group_id, **content},
                           "sendMediaGroup") for content in prepared]

    async def _m_copymessage(self, call: _Call) -> dict[str, Any]:
        chat = self._chat_for_send(call)
        source = self._source_message(call, "copy")
        content = {k: v for k, v in source.data.items()
                   if k in ("text", "entities", *_MEDIA_KEYS, "caption", "caption_entities",
                            "location", "contact", "venue")}
        if call.has("caption"):
            content.pop("caption_entities", None)
            content.update(self._caption(call))
        self._check_flood(chat.user.id)
        sent = self._send(call, chat, content, "copyMessage")
        return {"message_id": sent["message_id"]}

    async def _m_forwardmessage(self, call: _Call) -> dict[str, Any]:
        chat = self._chat_for_send(call)
        source = self._source_message(call, "forward")
        content = {k: v for k, v in source.data.items()
                   if k in ("text", "entities", *_MEDIA_KEYS, "caption", "caption_entities",
                            "location", "contact", "venue", "media_group_id")}
        origin_user = source.data.get("from", {})
        content["forward_origin"] = {"type": "user", "sender_user": origin_user,
                                     "date": source.data.get("date", _now())}
        self._check_flood(chat.user.id)
        plain = _Call(call.token, {k: v for k, v in call.params.items() if k != "reply_markup"},
                      call.files)
        return self._send(plain, chat, content, "forwardMessage")

    def _source_message(self, call: _Call, verb: str) -> StoredMessage:
        try:
            source_chat = self._chats[int(call.params.get("from_chat_id"))]
        except (TypeError, ValueError, KeyError):
            raise _bad("chat not found") from None
        message = source_chat.messages.get(call.integer("message_id", 0) or 0)
        if message is None or message.deleted:
            raise _bad(f"message to {verb} not found")
        return message

    async def _m_sendchataction(self, call: _Call) -> bool:
        chat = self._chat_for_send(call)
        action = call.text("action")
        if not action:
            raise _bad("action is empty")
        self._emit("chat_action", chat.user.id, action=action)
        return True

    async def _m_editmessagetext(self, call: _Call) -> dict[str, Any]:
        _, message = self._editable(call)
        if "text" not in message.data:
            raise _bad("there is no text in the message to edit")
        raw = call.text("text")
        if raw is None or not raw.strip():
            raise _bad("message text is empty")
        text, entities = self._formatted(raw, call.text("parse_mode"), call.json("entities"))
        if utf16_len(text) > MAX_TEXT:
            raise _bad("message is too long")
        changes, removed = self._inline_changes(call)
        changes["text"] = text
        if entities:
            changes["entities"] = entities
        else:
            removed.append("entities")
        return self._apply_edit(message, changes, removed)

    async def _m_editmessagecaption(self, call: _Call) -> dict[str, Any]:
        _, message = self._editable(call)
        if not any(key in message.data for key in _MEDIA_KEYS):
            raise _bad("there is no caption in the message to edit")
        changes, removed = self._inline_changes(call)
        caption = self._caption(call)
        changes.update(caption)
        removed += [k for k in ("caption", "caption_entities") if k not in caption]
        return self._apply_edit(message, changes, removed)

    async def _m_editmessagereplymarkup(self, call: _Call) -> dict[str, Any]:
        _, message = self._editable(call)
        changes, removed = self._inline_changes(call)
        return self._apply_edit(message, changes, removed)

    async def _m_deletemessage(self, call: _Call) -> bool:
        chat = self._chat_for_send(call)
        message_id = call.integer("message_id", required="message identifier is not specified")
        if not self._delete(chat, message_id):
            raise _bad("message to delete not found")
        return True

    async def _m_deletemessages(self, call: _Call) -> bool:
        chat = self._chat_for_send(call)
        ids = call.json("message_ids") or []
        for message_id in ids:
            self._delete(chat, int(message_id))
        return True

    def _delete(self, chat: _ChatState, message_id: int) -> bool:
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            return False
        message.deleted = True
        self._emit("deleted", chat.user.id, message=message)
        return True

    async def _m_answercallbackquery(self, call: _Call) -> bool:
        answer = self._callbacks.get(call.text("callback_query_id", "") or "")
        if answer is None or answer.answered:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = call.text("text")
        if text is not None and utf16_len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        answer.text = text
        answer.show_alert = call.flag("show_alert")
        answer.url = call.text("url")
        answer.cache_time = call.integer("cache_time")
        answer.answered = True
        self._emit("callback_answer", answer.user_id, answer=answer)
        return True

    async def _m_getfile(self, call: _Call) -> dict[str, Any]:
        stored = self.files.get(call.text("file_id", "") or "")
        if stored is None:
            raise _bad("invalid file_id")
        if stored.size > MAX_DOWNLOAD_BYTES:
            raise _bad("file is too big")
        return stored.to_file()

    async def _m_getchat(self, call: _Call) -> dict[str, Any]:
        try:
            chat = self._chats[int(call.params.get("chat_id"))]
        except (TypeError, ValueError, KeyError):
            raise _bad("chat not found") from None
        return {**chat.user.to_chat(), "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                        "unique_gifts": False, "premium_subscription": False,
                                        "gifts_from_channels": False}}

    async def _m_setmycommands(self, call: _Call) -> bool:
        commands = call.json("commands", "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("commands must be a list of at most 100 items")
        for command in commands:
            if not _COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = _scope_key(call.json("scope", "scope"), call.text("language_code", "") or "")
        self._commands[key] = [{"command": c["command"], "description": c["description"]}
                               for c in commands]
        return True

    async def _m_getmycommands(self, call: _Call) -> list[dict[str, Any]]:
        key = _scope_key(call.json("scope", "scope"), call.text("language_code", "") or "")
        return self._commands.get(key, [])

    async def _m_deletemycommands(self, call: _Call) -> bool:
        key = _scope_key(call.json("scope", "scope"), call.text("language_code", "") or "")
        self._commands.pop(key, None)
        return True

    async def _m_setchatmenubutton(self, call: _Call) -> bool:
        button = call.json("menu_button", "menu button") or {"type": "default"}
        if call.has("chat_id"):
            self._chat_for_send(call).menu_button = button
        else:
            self._default_menu_button = button
        return True

    async def _m_getchatmenubutton(self, call: _Call) -> dict[str, Any]:
        return self.menu_button(call.integer("chat_id"))

    async def _m_setmydescription(self, call: _Call) -> bool:
        self._bot_texts["description"] = call.text("description", "") or ""
        return True

    async def _m_getmydescription(self, call: _Call) -> dict[str, Any]:
        return {"description": self._bot_texts.get("description", "")}

    async def _m_setmyshortdescription(self, call: _Call) -> bool:
        self._bot_texts["short_description"] = call.text("short_description", "") or ""
        return True

    async def _m_getmyshortdescription(self, call: _Call) -> dict[str, Any]:
        return {"short_description": self._bot_texts.get("short_description", "")}

    async def _m_setmyname(self, call: _Call) -> bool:
        if call.text("name"):
            self.bot_first_name = call.text("name") or self.bot_first_name
        return True

    async def _m_getmyname(self, call: _Call) -> dict[str, Any]:
        return {"name": self.bot_first_name}

    # ------------------------------------------------------------------ webhook delivery

    async def _remove_webhook(self, drop_pending: bool) -> None:
        self.webhook = None
        if drop_pending:
            self._updates.clear()
        self._changed.notify()
        await self._stop_webhook_worker()

    async def _stop_webhook_worker(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _webhook_worker(self) -> None:
        """Push pending updates to the webhook one at a time, in order, retrying failures."""
        async with aiohttp.ClientSession() as session:
            while self.webhook is not None and not self._closing:
                hook = self.webhook
                self._drop_unwanted(hook.allowed_updates)
                if not self._updates:
                    await self._changed.wait(1.0)
                    continue
                update = self._updates[0]
                headers = {"Content-Type": "application/json"}
                if hook.secret_token:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
                error: str
                try:
                    async with session.post(
                        hook.url, data=_json_dumps(update).encode(), headers=headers,
                        timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                    ) as response:
                        if 200 <= response.status < 300:
                            if self._updates and self._updates[0] is update:
                                self._updates.popleft()
                            self.webhook_deliveries += 1
                            self._changed.notify()
                            await self._run_webhook_reply(hook.token, response)
                            continue
                        error = (f"Wrong response from the webhook: "
                                 f"{response.status} {response.reason}")
                except (aiohttp.ClientError, TimeoutError) as exc:
                    error = f"Connection failed: {type(exc).__name__}"
                hook.last_error_date = _now()
                hook.last_error_message = error
                self._changed.notify()
                log.info("webhook delivery failed: %s", error)
                await asyncio.sleep(self.webhook_retry_delay)

    async def _run_webhook_reply(self, token: str, response: aiohttp.ClientResponse) -> None:
        """A webhook may answer with a method call; Telegram runs it, so do we."""
        params: dict[str, Any]
        files: dict[str, _Upload] = {}
        if response.content_type == "application/json":
            try:
                body = await response.json()
            except (ValueError, aiohttp.ContentTypeError):
                return
            if not isinstance(body, dict):
                return
            params = body
        elif response.content_type.startswith("multipart/"):
            params, files = await _read_multipart(response)
        else:
            return
        method = params.pop("method", None)
        if not method:
            return
        try:
            await self.call(token, str(method), params, files)
        except ApiError as error:
            log.warning("method %s from webhook reply failed: %s", method, error.description)


# --------------------------------------------------------------------------- module helpers


def _now() -> int:
    return int(time.time())


def _probe_photo(data: bytes) -> tuple[int, int, str, tuple[bytes, tuple[int, int]] | None]:
    """(width, height, format, thumbnail) of a picture Telegram would accept as a photo."""
    return _probe_photo_once(bytes(data))


# Decoding and thumbnailing is Telegram's work, done on its servers. The stand-in runs in the bot's
# process, so the same picture sent again (the update benchmark sends a pool of 32) is not done
# again: it would count ~0.7 ms per update against whichever bot is being measured.
@functools.lru_cache(maxsize=64)
def _probe_photo_once(data: bytes) -> tuple[int, int, str, tuple[bytes, tuple[int, int]] | None]:
    if len(data) > MAX_PHOTO_BYTES:
        raise ApiError(413, "Request Entity Too Large")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            width, height = image.size
            fmt = (image.format or "JPEG").lower()
            thumbnail = None
            if max(width, height) > THUMBNAIL_SIDE:
                small = image.convert("RGB")
                small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
                buffer = io.BytesIO()
                small.save(buffer, "JPEG", quality=80)
                thumbnail = (buffer.getvalue(), small.size)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise _bad("IMAGE_PROCESS_FAILED") from None
    if width + height > 10000 or max(width, height) > 20 * min(width, height):
        raise _bad("PHOTO_INVALID_DIMENSIONS")
    return width, height, fmt, thumbnail


def photo_problem(data: bytes) -> str | None:
    """Why Telegram would refuse `data` as a photo (None when it is a fine picture)."""
    try:
        _probe_photo(data)
    except ApiError as error:
        return error.description
    return None


def _media_group_id() -> str:
    return str(10**17 + secrets.randbelow(9 * 10**17))


def _caption_fields(caption: str | None) -> dict[str, Any]:
    if not caption:
        return {}
    fields: dict[str, Any] = {"caption": caption}
    entities = auto_entities(caption)
    if entities:
        fields["caption_entities"] = entities
    return fields


def _document_json(stored: StoredFile) -> dict[str, Any]:
    document: dict[str, Any] = {"file_id": stored.file_id,
                                "file_unique_id": stored.file_unique_id,
                                "file_size": stored.size}
    if stored.file_name:
        document["file_name"] = stored.file_name
    if stored.mime_type:
        document["mime_type"] = stored.mime_type
    return document


def _validate_inline_keyboard(rows: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _bad("can't parse inline keyboard markup JSON object")
    actions = ("callback_data", "url", "web_app", "login_url", "switch_inline_query",
               "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
               "copy_text", "callback_game", "pay")
    clean = []
    for row in rows:
        clean_row = []
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise _bad("BUTTON_TEXT_INVALID")
            if not any(key in button for key in actions):
                raise _bad("can't parse inline keyboard button: Text buttons are unallowed "
                           "in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise _bad("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not str(url).startswith(("http://", "https://", "tg://")):
                raise _bad("BUTTON_URL_INVALID")
            clean_row.append(dict(button))
        clean.append(clean_row)
    return clean


def _scope_key(scope: dict[str, Any] | None,
               language_code: str) -> tuple[str, int | None, int | None, str]:
    scope = scope or {}
    chat_id = scope.get("chat_id")
    user_id = scope.get("user_id")
    return (scope.get("type", "default"),
            int(chat_id) if chat_id is not None else None,
            int(user_id) if user_id is not None else None,
            language_code or "")
