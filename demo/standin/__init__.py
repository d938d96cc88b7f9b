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

Where things are, by Bot API area (each file is one mixin of `BotApiStandIn`; a method `sendPhoto`
is `_m_sendphoto` in its area's file):

    messages.py   send*, copyMessage, forwardMessage, sendChatAction, editMessage*, deleteMessage(s),
                  reply_markup and captions
    files.py      uploads, getFile, file downloads, photo probing (`photo_problem`)
    callbacks.py  a user's inline button press and answerCallbackQuery
    updates.py    getUpdates, setWebhook/deleteWebhook/getWebhookInfo, webhook delivery
    commands.py   setMyCommands/getMyCommands/deleteMyCommands, the menu button
    chats.py      reading a chat, the chat a method addresses (400/403 answers), getChat
    users.py      the simulated users and what they do (`user_*`)
    profile.py    getMe, logOut, close, the bot's name and descriptions
    limits.py     flood limits and the fault switch `fail()`
    server.py     the aiohttp app, its routes, start/stop, reading a request
    base.py       the shared state, `call` (the method table), the bot's identity, `_emit`/`wait_until`
    events.py     `Subscription`, the listeners' queue of ChatEvents
    model.py      the data shapes and Telegram's error answer (`ApiError`)
"""

from __future__ import annotations

from demo.standin.base import DEFAULT_BOT_ID
from demo.standin.callbacks import CallbacksMixin
from demo.standin.commands import CommandsMixin
from demo.standin.events import Subscription
from demo.standin.files import (
    MAX_DOWNLOAD_BYTES,
    MAX_PHOTO_BYTES,
    MAX_UPLOAD_BYTES,
    THUMBNAIL_SIDE,
    _probe_photo_once,
    photo_problem,
)
from demo.standin.messages import MAX_CAPTION, MAX_TEXT, MessagesMixin
from demo.standin.model import (
    ApiError,
    CallbackAnswer,
    ChatEvent,
    Delivery,
    SimUser,
    StoredFile,
    StoredMessage,
    WebhookConfig,
)
from demo.standin.profile import ProfileMixin
from demo.standin.server import ServerMixin

__all__ = [
    "DEFAULT_BOT_ID", "MAX_CAPTION", "MAX_DOWNLOAD_BYTES", "MAX_PHOTO_BYTES", "MAX_TEXT",
    "MAX_UPLOAD_BYTES", "THUMBNAIL_SIDE", "ApiError", "BotApiStandIn", "CallbackAnswer",
    "ChatEvent", "Delivery", "SimUser", "StoredFile", "StoredMessage", "Subscription",
    "WebhookConfig", "_probe_photo_once", "photo_problem",
]


class BotApiStandIn(ServerMixin, CallbacksMixin, MessagesMixin, CommandsMixin, ProfileMixin):
    """Telegram Bot API stand-in. See the package docstring.

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
        super().__init__()
        self.app = self._new_app()
