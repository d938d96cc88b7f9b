"""Wiring aiogram: the Bot (any Bot API server), the Dispatcher with its routers and middleware."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder

from datetime import timedelta

from aiogram.fsm.scene import SceneRegistry

from bot import inbox, runtime
from bot.handlers import routers
from bot.handlers.cases import SCENES as CASE_SCENES
from bot.dialog_buffer import CommitBound, commit_bound_middleware
from bot.middlewares import ContextMiddleware, watch_edits
from bot.scenes.report import SCENES as REPORT_SCENES
from bot.handlers.volunteering import SCENES as VOLUNTEER_SCENES
from bot.serial import OneAtATimePerChat, dialog_isolation
from core.reporting import ReportPolicy
from core.volunteer_services import VolunteerPolicy
from core.workdays import WorkCalendar
from media.photos import PhotoStore
from core.clock import Clock
from core.theme_day import ThemeDaySchedule
from redgrid.settings import TELEGRAM_API_URL, Settings, quiet_window, report_points_table
from storage.dialogs import SqlDialogStorage
from storage.uow import Database


def build_bot(settings: Settings) -> Bot:
    if settings.bot_api_url == TELEGRAM_API_URL:
        return Bot(settings.bot_token)
    # Your own telegram-bot-api server (no 20 MB download limit) or the offline demo's stand-in.
    server = TelegramAPIServer.from_base(settings.bot_api_url)
    return Bot(settings.bot_token, session=AiohttpSession(api=server))


def dialog_storage(settings: Settings, db: Database, *, redis_prefix: str = "fsm") -> BaseStorage:
    """Where unfinished dialogs wait: in the bot's database (storage/dialogs.py), so a restart loses
    none; in Redis when several processes share the work (REDIS_URL)."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        # Scenes keep their history under a key "destiny" of their own, which aiogram's default
        # key builder refuses; and the bot's id keeps two bots on one Redis apart.
        return CommitBound(RedisStorage.from_url(settings.redis_url, key_builder=DefaultKeyBuilder(
            prefix=redis_prefix, with_bot_id=True, with_destiny=True)))  # written after the commit
    return SqlDialogStorage(db.engine)


def _dialog_state_in_unit_of_work(storage: SqlDialogStorage):
    """An update's dialog changes commit (or roll back) with its unit of work (storage/dialogs.py)."""

    async def middleware(handler, event, data):
        uow = data.get("uow")
        if uow is None or uow.conn is None:
            return await handler(event, data)
        with storage.joined(uow.conn):
            return await handler(event, data)

    return middleware


def report_policy(settings: Settings) -> ReportPolicy:
    return ReportPolicy(calendar=WorkCalendar(tz=settings.tz), working_days=settings.report_working_days,
                        confirm_wait=timedelta(days=settings.confirm_wait_days),
                        claim_within=timedelta(hours=settings.claim_within_hours),
                        escalated_fix_days=settings.escalated_fix_working_days,
                        report_points=report_points_table(settings.report_points))


def volunteer_policy(settings: Settings) -> VolunteerPolicy:
    quiet_start, quiet_end = quiet_window(settings.quiet_hours)
    return VolunteerPolicy(calendar=WorkCalendar(tz=settings.tz),
                           withdraw_cutoff=timedelta(hours=settings.withdraw_cutoff_hours),
                           no_show_limit=settings.no_show_limit, quiet_start=quiet_start, quiet_end=quiet_end,
                           report_points=report_points_table(settings.report_points),
                           schedule=ThemeDaySchedule(create_day=settings.theme_create_day,
                                                     announce_day=settings.theme_announce_day,
                                                     remind_day=settings.theme_remind_day))


async def _watch_edits(bot: Bot) -> None:
    watch_edits(bot)


def build_dispatcher(db: Database, settings: Settings, clock: Clock, storage: BaseStorage | None = None) -> Dispatcher:
    photos = PhotoStore(settings.data_dir)
    storage = storage or dialog_storage(settings, db)
    dp = Dispatcher(storage=storage, events_isolation=dialog_isolation(settings), settings=settings, db=db,
                    policy=report_policy(settings), volunteer_policy=volunteer_policy(settings), photos=photos)
    # Order matters: one update per chat at a time, in the order they came (before anything awaits);
    # the inbox drops a second delivery and retries transient failures; aiogram reads the dialog's state;
    # then the unit of work and the person, before the scene registry copies the data its scenes will
    # see (so every scene step gets `uow`, `tr`, `roles` …).
    dp.startup.register(_watch_edits)  # before the inbox's startup replays anything
    inbox.install(dp, db, clock)
    OneAtATimePerChat().install(dp)  # first of all: updates of a chat in the order they came
    dp.update.outer_middleware(ContextMiddleware(db, clock, settings.default_language))
    if isinstance(storage, SqlDialogStorage):
        dp.update.outer_middleware(_dialog_state_in_unit_of_work(storage))
    elif isinstance(storage, CommitBound):
        dp.update.outer_middleware(commit_bound_middleware(storage))
    scenes = SceneRegistry(dp, register_on_add=False)
    common, *rest = routers()
    dp.include_router(common)  # /cancel and /help first, from inside any dialog
    scenes.add(*REPORT_SCENES, *CASE_SCENES, *VOLUNTEER_SCENES, router=dp)
    dp.include_routers(*rest)
    dp.startup.register(runtime.on_startup)
    return dp
