"""What every area of the stand-in shares: its state (created empty here, each piece marked with
the file that uses it), the table of Bot API methods (`call`), the bot's own identity, and the
announcement of every change (`_emit`) to subscribers and `wait_until` callers.

Each Bot API method is an `async def _m_<lowercase method name>(self, call)` in the file of its
area; `call` finds it by that name."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from demo.entities import EntityParseError
from demo.standin.events import Changed, Subscription
from demo.standin.model import (
    ApiError,
    Call,
    CallbackAnswer,
    ChatEvent,
    ChatState,
    Delivery,
    SimUser,
    StoredFile,
    StoredMessage,
    Upload,
    WebhookConfig,
    bad,
)

T = TypeVar("T")

Handler = Callable[[Call], Awaitable[Any]]

DEFAULT_BOT_ID = 7000000001


class StandInState:
    """The stand-in's state, shared by the areas (each a mixin of `BotApiStandIn`)."""

    # Settings, set by BotApiStandIn.__init__ (its docstring says what they mean).
    token: str | None
    bot_username: str
    bot_first_name: str
    flood_limits: bool
    max_per_second: int
    max_per_chat_per_second: int
    webhook_retry_delay: float
    webhook_timeout: float
    app: web.Application  # server.py builds it

    def __init__(self) -> None:
        # users.py and chats.py: the simulated users and their private chats (chat id == user id)
        self.users: dict[int, SimUser] = {}
        self._chats: dict[int, ChatState] = {}
        # files.py
        self.files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_counter = 0
        # updates.py: the queue, the long poll, the webhook
        self._updates: deque[dict[str, Any]] = deque()
        self._last_update_id = 0
        self._allowed_updates: list[str] | None = None
        self._poll_owner: object | None = None
        self.webhook: WebhookConfig | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        # callbacks.py
        self._callbacks: dict[str, CallbackAnswer] = {}
        # commands.py
        self._commands: dict[tuple[str, int | None, int | None, str], list[dict[str, Any]]] = {}
        self._default_menu_button: dict[str, Any] = {"type": "default"}
        # profile.py
        self._bot_texts: dict[str, str] = {}
        # here: the bot's id (read from the token of the first call) and the change announcements
        self._bot_id: int | None = None
        self._seq = 0
        self._subscriptions: set[Subscription] = set()
        self._changed = Changed()
        # server.py
        self._closing = False
        self._runner: web.AppRunner | None = None
        self.base_url: str | None = None

        # Counters and logs for tests and benchmarks.
        self.requests: Counter[str] = Counter()
        self.too_many_requests_count = 0
        # limits.py: fault switches for the tests: [method or None (any but getUpdates), calls left,
        # code, retry_after]; the flood windows
        self._faults: list[list[Any]] = []
        self.flood_rejections: list[tuple[int, str]] = []
        self.webhook_deliveries = 0
        self._deliveries: dict[int, list[Delivery]] = {}  # messages.py
        self._flood_all: deque[float] = deque()
        self._flood_chat: dict[int, deque[float]] = {}

        self._methods: dict[str, Handler] = {
            name.removeprefix("_m_"): getattr(self, name)
            for name in dir(self)
            if name.startswith("_m_")
        }

    # ------------------------------------------------------------------ the method table

    async def call(self, token: str, method: str, params: dict[str, Any],
                   files: dict[str, Upload] | None = None) -> Any:
        """Run one Bot API method in-process (the HTTP route and webhook replies use it)."""
        handler = self._methods.get(method.lower())
        if handler is None:
            raise ApiError(404, "Not Found")
        if self._bot_id is None:
            self._bot_id = self._bot_id_from(token)
        self.requests[method.lower()] += 1
        try:
            return await handler(Call(token, params, files or {}))
        except ApiError as error:
            if error.code == 429:
                self.too_many_requests_count += 1
            raise
        except EntityParseError as error:
            raise bad(f"can't parse entities: {error}") from None

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

    # ------------------------------------------------------------------ announcing changes

    def subscribe(self, chat_id: int | None = None) -> Subscription:
        """Start receiving ChatEvents (for one chat, or all). Close the subscription after."""
        sub = Subscription(self, chat_id)
        self._subscriptions.add(sub)
        return sub

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
