"""Wiring aiogram: the Bot (any Bot API server), the Dispatcher with its routers and middleware."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage

from bot.handlers import routers
from bot.middlewares import ContextMiddleware
from core.clock import Clock
from redgrid.settings import TELEGRAM_API_URL, Settings
from storage.uow import Database


def build_bot(settings: Settings) -> Bot:
    if settings.bot_api_url == TELEGRAM_API_URL:
        return Bot(settings.bot_token)
    # Your own telegram-bot-api server (no 20 MB download limit) or the offline demo's stand-in.
    server = TelegramAPIServer.from_base(settings.bot_api_url)
    return Bot(settings.bot_token, session=AiohttpSession(api=server))


def dialog_storage(settings: Settings) -> BaseStorage:
    """Where unfinished dialogs wait: Redis when several processes share the work, else memory."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(settings.redis_url)
    return MemoryStorage()


def build_dispatcher(db: Database, settings: Settings, clock: Clock, storage: BaseStorage | None = None) -> Dispatcher:
    dp = Dispatcher(storage=storage or dialog_storage(settings), settings=settings, db=db)
    context = ContextMiddleware(db, clock, settings.default_language)
    dp.message.middleware(context)
    dp.callback_query.middleware(context)
    dp.include_routers(*routers())
    return dp
