"""The composition root: everything that is built from the settings is built here, and only here.

`redgrid run`, `redgrid demo`, the benchmarks (bench/) and the test fixtures build the bot the same
way, through these functions:

    settings ─> database (migrated)           open_database
             ─> policies (rules' figures)     report_policy, volunteer_policy
             ─> photo store, case renderer    build_dispatcher (handed to every handler)
             ─> Telegram channel              build_bot, dialog_storage, build_dispatcher
             ─> WeChat conversation           wechat_conversation, wechat_renderer
             ─> what runs beside it           background: delivery worker, notification
                                              renderer, broadcast progress, the scheduler's jobs
             ─> WeChat channel (when set)     wechat_channel: API client, callback endpoint,
                                              conversation + renderer (swappable), its delivery
    + the Bot API stand-in for the demo       demo_stack

The packages below (core, storage, media, scheduler, bot, demo) receive what they need as
parameters and never import `redgrid` (tests/test_import_cycles.py). This module imports aiogram:
the command line imports it only once a command needs the bot, so `redgrid --help` stays fast.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from aiogram import Bot, Dispatcher
from aiogram.fsm.scene import SceneRegistry
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder

from bot import inbox, runtime
from bot.api_session import BotApiSession
from bot.commands import publish_default_commands
from bot.dialog_buffer import CommitBound, commit_bound_middleware
from bot.handlers import routers
from core.door_codes import secret_from
from bot.handlers.cases import SCENES as CASE_SCENES
from bot.handlers.volunteering import SCENES as VOLUNTEER_SCENES
from bot.limits import MessageRate, RedisCounter
from bot.middlewares import ContextMiddleware, watch_edits
from bot.rendering.cases import CaseRenderer
from bot.rendering.notifications import NotificationRenderer
from bot.scenes.report import SCENES as REPORT_SCENES
from bot.serial import OneAtATimePerChat, dialog_isolation
from core.clock import Clock, SystemClock
from core.cases_services import ReportPolicy
from core.limits import LimitPolicy
from core.retention import RetentionPolicy
from core.consent import PrivacyPolicy
from core.theme_day import ThemeDaySchedule
from core.volunteering.common_services import VolunteerPolicy
from core.workdays import WorkCalendar
import dashboard
from demo.app import DEMO_BOT_USERNAME, DEMO_TOKEN
from demo.harness import polling
from demo.seed import Persona
from demo.standin import BotApiStandIn
from demo.wechat_phone import demo_wechat_settings
from demo.wechat_standin import WeChatStandIn
from media.photos import PhotoStore
from redgrid.settings import TELEGRAM_API_URL, Settings, quiet_window, report_points_table
from scheduler.broadcasts import ProgressReporter
from scheduler.delivery import DeliveryWorker, pace_replies
from scheduler.leader import Leadership
from scheduler.retention import retention_run
from scheduler.runner import Runner, running
from scheduler.sla import sweep_reports
from scheduler.volunteering import volunteering_tick
from storage.dialogs import SqlDialogStorage
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.uow import Database
from wechat.api import Credentials, WeChatApi
from wechat.conversation import Conversation, MediaSource
from wechat.delivery import Render as WeChatRender, WeChatDelivery, prune_wechat
from wechat.endpoint import AppConfig, WeChatEndpoint
from wechat.rendering import WeChatRenderer


# ---- the domain's figures ------------------------------------------------------------------------

def report_policy(settings: Settings) -> ReportPolicy:
    return ReportPolicy(calendar=WorkCalendar(tz=settings.tz), working_days=settings.report_working_days,
                        confirm_wait=timedelta(days=settings.confirm_wait_days),
                        reopen_within=timedelta(days=settings.reopen_within_days),
                        claim_within=timedelta(hours=settings.claim_within_hours),
                        escalated_fix_days=settings.escalated_fix_working_days,
                        report_points=report_points_table(settings.report_points),
                        limits=limit_policy(settings), proof_radius_m=settings.proof_radius_m)


def limit_policy(settings: Settings) -> LimitPolicy:
    return LimitPolicy(reports_per_hour=settings.reports_per_hour, reports_per_day=settings.reports_per_day,
                       orders_per_day=settings.orders_per_day, messages_per_minute=settings.messages_per_minute)


def retention_policy(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(photo_days=settings.photo_retention_days, dialog_days=settings.dialog_keep_days,
                           inbox_days=settings.inbox_keep_days, outbox_days=settings.outbox_keep_days)


def volunteer_policy(settings: Settings) -> VolunteerPolicy:
    quiet_start, quiet_end = quiet_window(settings.quiet_hours)
    return VolunteerPolicy(calendar=WorkCalendar(tz=settings.tz),
                           withdraw_cutoff=timedelta(hours=settings.withdraw_cutoff_hours),
                           no_show_limit=settings.no_show_limit, quiet_start=quiet_start, quiet_end=quiet_end,
                           report_points=report_points_table(settings.report_points),
                           schedule=ThemeDaySchedule(create_day=settings.theme_create_day,
                                                     announce_day=settings.theme_announce_day,
                                                     remind_day=settings.theme_remind_day),
                           limits=limit_policy(settings))


def privacy_policy(settings: Settings) -> PrivacyPolicy:
    return PrivacyPolicy(notice_version=settings.privacy_notice_version,
                         photo_retention_days=settings.photo_retention_days)


# ---- storage ------------------------------------------------------------------------------------

async def open_database(settings: Settings, url: str | None = None) -> Database:
    """The database of DATABASE_URL (or `url`), brought to the newest schema."""
    engine = make_engine(url or settings.database_url)
    await upgrade(engine)
    return Database(engine)


# ---- the Telegram channel -----------------------------------------------------------------------

# Loggers of libraries that write what people sent at DEBUG: aiogram's scenes log each dialog's data
# (a resident's words, photo names) as it moves between steps. Logs carry ids, never what someone
# wrote, so these stay at INFO even when LOG_LEVEL=DEBUG.
PERSONAL_LOGGERS = ("aiogram.scene",)


def quiet_personal_loggers() -> None:
    for name in PERSONAL_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.INFO))


def build_bot(settings: Settings) -> Bot:
    if settings.bot_api_url == TELEGRAM_API_URL:
        return Bot(settings.bot_token)
    # Your own telegram-bot-api server (no 20 MB download limit) or the offline demo's stand-in.
    return Bot(settings.bot_token, session=BotApiSession(settings.bot_api_url))


def dialog_storage(settings: Settings, db: Database, *, redis_prefix: str = "fsm") -> BaseStorage:
    """Where unfinished dialogs wait: in the bot's database (storage/dialogs.py), so a restart loses
    none; in Redis when several processes share the work (REDIS_URL)."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage  # needs the optional `redis` package

        # Scenes keep their history under a key "destiny" of their own, which aiogram's default
        # key builder refuses; and the bot's id keeps two bots on one Redis apart.
        # an unfinished dialog expires after DIALOG_KEEP_DAYS, as the retention job forgets it in the database
        keep = timedelta(days=settings.dialog_keep_days)
        return CommitBound(RedisStorage.from_url(settings.redis_url, key_builder=DefaultKeyBuilder(
            prefix=redis_prefix, with_bot_id=True, with_destiny=True), state_ttl=keep, data_ttl=keep))  # after the commit
    return SqlDialogStorage(db.engine)


def _dialog_state_in_unit_of_work(storage: SqlDialogStorage):
    """An update's dialog changes commit (or roll back) with its unit of work (storage/dialogs.py),
    written once per key at the handler's end, however often the scenes set them."""

    async def middleware(handler, event, data):
        uow = data.get("uow")
        if uow is None or uow.conn is None:
            return await handler(event, data)
        async with storage.written_at_end(uow.conn):
            return await handler(event, data)

    return middleware


def _fsm_inside(dp: Dispatcher) -> None:
    """aiogram's FSM middleware (it reads the dialog's state) moved to the end of the outer middlewares
    so far, inside the update's unit of work: with the dialog in the database its read is one SELECT in
    the update's own transaction instead of a connection and a transaction of its own. (With Redis it
    stays where aiogram puts it, where it takes the shared lock before anything reads.)"""
    outer = dp.update.outer_middleware._middlewares
    outer.remove(dp.fsm)
    outer.append(dp.fsm)


async def _watch_edits(bot: Bot) -> None:
    watch_edits(bot)


def build_dispatcher(db: Database, settings: Settings, clock: Clock, storage: BaseStorage | None = None) -> Dispatcher:
    """The handlers of the Telegram channel; every handler gets `settings`, `db`, `policy`,
    `volunteer_policy`, `photos` and `case_renderer` from here (and `uow`, `person`, `tr`, `now` …
    per update from bot/middlewares.py)."""
    photos = PhotoStore(settings.data_dir)
    storage = storage or dialog_storage(settings, db)
    quiet_personal_loggers()
    privacy = privacy_policy(settings)
    dp = Dispatcher(storage=storage, events_isolation=dialog_isolation(settings.redis_url), settings=settings,
                    db=db, policy=report_policy(settings), volunteer_policy=volunteer_policy(settings),
                    photos=photos, case_renderer=CaseRenderer(settings, photos, clock), privacy=privacy,
                    door_secret=secret_from(settings.door_code_secret, settings.bot_token))
    # Order matters: one update per chat at a time, in the order they came (before anything awaits);
    # the inbox drops a second delivery and retries transient failures; aiogram reads the dialog's state;
    # then the unit of work and the person, before the scene registry copies the data its scenes will
    # see (so every scene step gets `uow`, `tr`, `roles` …).
    dp.startup.register(_watch_edits)  # before the inbox's startup replays anything
    inbox.install(dp, db, clock)
    OneAtATimePerChat().install(dp)  # first of all: updates of a chat in the order they came
    # then messages per minute, before anything touches the database (Redis counts for several processes)
    MessageRate(settings.messages_per_minute, settings.default_language,
                RedisCounter(settings.redis_url) if settings.redis_url else None,
                minute=lambda: int(clock.now().timestamp() // 60)).install(dp)
    dp.update.outer_middleware(ContextMiddleware(db, clock, settings.default_language, privacy))
    if isinstance(storage, SqlDialogStorage):
        dp.update.outer_middleware(_dialog_state_in_unit_of_work(storage))
        _fsm_inside(dp)  # the state's read joins the unit of work too (before the scenes' middleware)
    elif isinstance(storage, CommitBound):
        dp.update.outer_middleware(commit_bound_middleware(storage))
    scenes = SceneRegistry(dp, register_on_add=False)
    common, privacy, *rest = routers()
    dp.include_routers(common, privacy)  # /cancel, /help, /privacy … first, from inside any dialog
    scenes.add(*REPORT_SCENES, *CASE_SCENES, *VOLUNTEER_SCENES, router=dp)
    dp.include_routers(*rest)
    runtime.evaluate_filters_inline(dp)  # F.photo and the like: no trip to a worker thread per check
    dp.startup.register(runtime.on_startup)
    return dp


# ---- the WeChat channel's conversation (the protocol half builds the endpoint around it) ---------

def wechat_conversation(db: Database, settings: Settings, clock: Clock, media: MediaSource) -> Conversation:
    """What answers WeChat and WeCom messages: `media` downloads a message's photo (media/get)."""
    return Conversation(db, PhotoStore(settings.data_dir), media, report_policy(settings), volunteer_policy(settings),
                        clock, tz=settings.tz, default_language=settings.default_language,
                        nearest_building_max_m=settings.nearest_building_max_m, privacy=privacy_policy(settings),
                        door_secret=secret_from(settings.door_code_secret, settings.bot_token))


def wechat_renderer(settings: Settings, clock: Clock) -> WeChatRenderer:
    """How the outbox's notifications read on WeChat (the WeChat delivery asks it, row by row)."""
    return WeChatRenderer(PhotoStore(settings.data_dir), settings.tz, clock, default_language=settings.default_language,
                          reopen_within_days=settings.reopen_within_days)


# ---- the web server: the dashboard -----------------------------------------------------------------
# The webhook work brings one shared constructor of the web server; `web_app` is what the dashboard
# needs of it (its sub-application mounted at /dashboard), to be folded into that constructor.

def web_app(db: Database, settings: Settings, clock: Clock) -> web.Application:
    """The web server's root: the dashboard at /dashboard/ when DASHBOARD_ENABLED, Open311 GeoReport v2
    at /open311/v2/ when OPEN311_ENABLED."""
    root = web.Application()
    if settings.open311_enabled:
        root.add_subapp("/open311/v2/", dashboard.open311_app(db, settings, clock, PhotoStore(settings.data_dir),
                                                              report_policy(settings)))
    if settings.dashboard_enabled:
        root.add_subapp("/dashboard/", dashboard.app(db, settings, clock, PhotoStore(settings.data_dir),
                                                     secret=settings.dashboard_secret))

        async def to_dashboard(request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound("/dashboard/")

        root.router.add_get("/dashboard", to_dashboard)
    return root


@contextlib.asynccontextmanager
async def serving_web(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """Serve `app` until the block ends; gives its base URL (port 0: a free one)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = site._server.sockets if site._server is not None else []  # the port actually bound
    bound = sockets[0].getsockname()[1] if sockets else port
    try:
        yield f"http://{host}:{bound}"
    finally:
        await runner.cleanup()


# ---- what runs beside the handlers ---------------------------------------------------------------

def background(db: Database, bot: Bot, settings: Settings, clock: Clock, *,
               wechat: "WeChatChannel | None" = None) -> Runner:
    """What runs besides the handlers, while this process leads: delivery (Telegram's, and WeChat's
    when `wechat` is given) and the scheduled jobs."""
    renderer = NotificationRenderer(settings, clock=clock)  # dates read against the domain's clock
    # Delivery runs on the real clock, as the outbox stamps its rows: it paces real Telegram traffic.
    # `clock` is the domain's (deadlines, reminders), which the demo and tests may move by hand.
    real = SystemClock()
    worker = DeliveryWorker(db, bot, renderer, clock=real, global_rate=settings.delivery_per_second,
                            per_chat_rate=settings.delivery_per_chat_per_second, pacer=shared_pacer(settings))
    worker.progress = ProgressReporter(db, bot, renderer.progress_text, pacer=worker.pacer, clock=real)
    pace_replies(bot, worker.pacer)  # the handlers' replies count against the same budget
    runner = Runner(Leadership(db.engine), worker=worker, also=wechat.workers if wechat else (),
                    timezone=settings.tz)
    # retention: the first run of each day does it (a done key), so a restart or a missed night does it once
    runner.add_job(retention_run, "interval", minutes=30, args=[db, PhotoStore(settings.data_dir),
                                                                 retention_policy(settings), clock, settings.tz, real],
                   id="retention", coalesce=True, max_instances=1, next_run_time=datetime.now(settings.tz))
    if wechat is not None:
        runner.add_job(prune_wechat, "cron", hour=4, minute=40, args=[db, real], id="prune_wechat")
    runner.add_job(sweep_reports, "interval", minutes=1, args=[db, report_policy(settings), clock],
                   id="sweep_reports", coalesce=True, max_instances=1)
    runner.add_job(volunteering_tick, "interval", minutes=1, args=[db, volunteer_policy(settings), clock],
                   id="volunteering", coalesce=True, max_instances=1)
    return runner


# ---- the WeChat channel (wechat/): only when WECHAT_MP_* or WECOM_* are set -----------------------

class _DownloadedMedia:
    """The conversation's MediaSource over the API client: a photo is fetched with media/get at once."""

    def __init__(self, api: WeChatApi) -> None:
        self.api = api

    async def download(self, app: str, media_id: str) -> bytes:
        return await self.api.download_media(app, media_id)  # type: ignore[arg-type]  # "mp" | "work"


def wechat_render(db: Database, settings: Settings, clock: Clock) -> WeChatRender:
    """How the WeChat delivery asks for a notification's words: the renderer, in a read-only unit of work."""
    renderer = wechat_renderer(settings, clock)

    async def render(notification, person):
        async with db.uow() as uow:
            return await renderer.render(uow, notification, person)
    return render


@dataclass
class WeChatChannel:
    api: WeChatApi
    endpoint: WeChatEndpoint
    workers: list[WeChatDelivery]


def wechat_channel(db: Database, settings: Settings, clock: Clock) -> WeChatChannel | None:
    """The API client, the callback endpoint and one delivery worker per configured app (None:
    neither the Official Account nor WeCom is set up, and nothing about WeChat runs)."""
    accounts, apps = [], []
    if settings.wechat_mp_configured:
        accounts.append(Credentials("mp", settings.wechat_mp_appid, settings.wechat_mp_secret))
        apps.append(AppConfig("mp", settings.wechat_mp_token, settings.wechat_mp_appid, settings.wechat_mp_aes_key))
    if settings.wecom_configured:
        accounts.append(Credentials("work", settings.wecom_corp_id, settings.wecom_secret, settings.wecom_agent_id))
        apps.append(AppConfig("work", settings.wecom_token, settings.wecom_corp_id, settings.wecom_aes_key))
    if not accounts:
        return None
    api = WeChatApi(accounts, wechat_url=settings.wechat_api_url, wecom_url=settings.wecom_api_url)
    render = wechat_render(db, settings, clock)
    real = SystemClock()  # like Telegram's worker: delivery runs on the clock the outbox stamps rows with
    workers = [WeChatDelivery(db, api, render, "wechat" if app.app == "mp" else "wecom", clock=real,
                              default_language=settings.default_language,
                              notice_template=settings.wechat_mp_notice_template_id,
                              notice_kind=settings.wechat_mp_notice_kind,
                              notice_field=settings.wechat_mp_notice_field) for app in apps]
    by_channel = {w.channel: w for w in workers}

    def wake(channel: str) -> None:
        if channel in by_channel:
            by_channel[channel].wake()

    endpoint = WeChatEndpoint(db, wechat_conversation(db, settings, clock, _DownloadedMedia(api)), apps, clock=real,
                              notice_template=settings.wechat_mp_notice_template_id, on_outbox=wake,
                              default_language=settings.default_language)
    return WeChatChannel(api, endpoint, workers)


@contextlib.asynccontextmanager
async def serving_wechat(channel: WeChatChannel, host: str, port: int) -> AsyncIterator[str]:
    """The callback URLs on an aiohttp server at host:port until the block ends; yields its base URL."""
    from aiohttp import web

    app = web.Application(client_max_size=256 * 1024)
    channel.endpoint.add_to(app)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0][1] if runner.addresses else port
    try:
        yield f"http://{host}:{bound}"
    finally:
        await runner.cleanup()
        await channel.endpoint.close()
        await channel.api.close()


# ---- the offline demo: the same bot against the Bot API stand-in ---------------------------------

@dataclass
class DemoStack:
    standin: BotApiStandIn
    bot: Bot
    dp: Dispatcher
    settings: Settings
    runner: Runner
    wechat: "WeChatChannel | None" = None   # with `wechat=`: the WeChat channel as `redgrid run` wires it
    wechat_url: str = ""                     # where its callback URLs are served


@contextlib.asynccontextmanager
async def demo_stack(db: Database, settings: Settings, clock: Clock, personas: list[Persona], *,
                     api_host: str = "127.0.0.1", api_port: int = 0, wechat: "WeChatStandIn | None" = None,
                     **standin_options) -> AsyncIterator[DemoStack]:
    """A stand-in with the personas as its users and the real bot polling it, until the block ends.
    `redgrid demo` runs it; so do the end-to-end tests (tests/e2e/conftest.py) and bench/updates.py.
    `wechat`: a started WeChat API stand-in; the WeChat channel then runs beside the bot as `redgrid run`
    runs it with WECHAT_* / WECOM_* set (settings pointing at the stand-in, its delivery workers in the
    same runner, its callback URLs served on `api_host`)."""
    standin = BotApiStandIn(token=DEMO_TOKEN, bot_username=DEMO_BOT_USERNAME, bot_first_name="红色网格",
                            **standin_options)
    base_url = await standin.start(api_host, api_port)
    for persona in personas:
        standin.add_user(persona.user_id, persona.name, language_code=persona.language_code)
    bot_settings = settings.model_copy(update={"bot_token": DEMO_TOKEN, "bot_api_url": base_url,
                                               "bot_username": ""})
    if wechat is not None:
        bot_settings = bot_settings.model_copy(update=demo_wechat_settings(wechat))
    bot = build_bot(bot_settings)
    dp = build_dispatcher(db, bot_settings, clock)
    channel = wechat_channel(db, bot_settings, clock) if wechat is not None else None
    try:
        # the outbox's delivery and the report clock run beside the polling
        async with contextlib.AsyncExitStack() as stack:
            runner = await stack.enter_async_context(running(background(db, bot, bot_settings, clock, wechat=channel)))
            wechat_url = (await stack.enter_async_context(serving_wechat(channel, api_host, 0))
                          if channel is not None else "")
            await publish_default_commands(bot)
            async with polling(dp, bot, polling_timeout=1):
                yield DemoStack(standin, bot, dp, bot_settings, runner, channel, wechat_url)
    finally:
        await bot.session.close()
        await standin.stop()


# ---- several workers (`redgrid webhook`): the one web server, Telegram's limits in Redis ----------

def shared_pacer(settings: Settings):
    """With REDIS_URL every process paces the bot's messages through Redis (30/s for the bot, 1/s per
    chat by default), so several workers together stay inside Telegram's limits; else None (the
    delivery worker keeps its own)."""
    if not settings.redis_url:
        return None
    from scheduler.shared_pacer import RedisPacer

    return RedisPacer(settings.redis_url, settings.delivery_per_second, settings.delivery_per_chat_per_second,
                      prefix=f"pace:{settings.bot_token.split(':', 1)[0] or 'bot'}")


def webhook_server(db: Database, bot: Bot, dp: Dispatcher, settings: Settings, clock: Clock, *,
                   wechat: WeChatChannel | None = None, runner: Runner | None = None):
    """The one web server of a webhook worker: Telegram's webhook at WEBHOOK_URL's path, the WeChat
    callbacks, the dashboard and Open311 (web_app), /healthz and /metrics. Returns (app, metrics)."""
    from redgrid.webhook import Metrics, add_health_and_metrics, add_webhook, webhook_path

    app = web_app(db, settings, clock)
    if wechat is not None:
        wechat.endpoint.add_to(app)

        async def close_wechat(_app: web.Application) -> None:
            await wechat.endpoint.close()
            await wechat.api.close()

        app.on_cleanup.append(close_wechat)
    metrics = Metrics(db, runner)
    metrics.observe(dp)
    add_webhook(app, dp, bot, path=webhook_path(settings.webhook_url), secret=settings.webhook_secret)
    add_health_and_metrics(app, db, settings.redis_url, metrics)
    return app, metrics
