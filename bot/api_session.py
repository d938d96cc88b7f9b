"""The HTTP session to a Bot API server of our own: the demo's stand-in, or a telegram-bot-api
server run beside the bot (no 20 MB download limit).

aiogram's AiohttpSession sleeps 250 ms after closing, so that TLS connections can shut down
(aiohttp's graceful-shutdown advice). Over plain HTTP there is nothing to wait for; the demo, every
end-to-end test and the delivery tests close such a session, and those quarter seconds made up
about a minute of the test suite. Over HTTPS the wait stays.
"""

from __future__ import annotations

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer


class BotApiSession(AiohttpSession):
    def __init__(self, base_url: str, **kwargs) -> None:
        super().__init__(api=TelegramAPIServer.from_base(base_url), **kwargs)
        self.plain_http = base_url.lower().startswith("http://") and "proxy" not in kwargs

    async def close(self) -> None:
        if not self.plain_http:
            await super().close()
            return
        session = self._session  # what AiohttpSession.close closes before its TLS wait
        if session is not None and not session.closed:
            await session.close()
