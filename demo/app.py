"""`redgrid demo`: the real bot, unchanged, against the local Bot API stand-in, with a web chat.

The same stack serves the end-to-end tests (`demo_stack`), so what a test proves is what a
community office sees when it tries the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiogram import Bot, Dispatcher

from bot.app import build_bot, build_dispatcher
from bot.commands import publish_default_commands
from bot.texts import text
from core.clock import Clock, SystemClock
from core.onboarding import roles_of
from demo.harness import polling
from demo.seed import CHANNEL, SAMPLE_ORG, Persona, seed_people, seed_volunteering
from demo.standin import BotApiStandIn
from demo.webchat import WebChat
from redgrid.commands import background, sole_process
from redgrid.settings import Settings
from scheduler.runner import Runner, running
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.uow import Database

log = logging.getLogger(__name__)
DEMO_TOKEN = "700000001:REDGRID-DEMO-OFFLINE"
DEMO_BOT_USERNAME = "redgrid_demo_bot"


@dataclass
class DemoStack:
    standin: BotApiStandIn
    bot: Bot
    dp: Dispatcher
    settings: Settings
    runner: Runner


def demo_database_url(settings: Settings) -> str:
    return f"sqlite+aiosqlite:///{settings.data_dir / 'demo' / 'redgrid-demo.sqlite3'}"


def forget_demo_database(settings: Settings) -> None:
    """`--fresh`: remove the demo database (and SQLite's WAL files) so the demo starts over."""
    path = Path(demo_database_url(settings).split(":///", 1)[1])
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)


async def prepare_demo_world(db: Database, clock: Clock) -> list[Persona]:
    """The sample community (imported once) and its demo people."""
    from storage.orgfile import import_org

    async with db.uow() as uow:
        has_places = bool(await uow.places.communities())
    if not has_places:
        await import_org(db, [SAMPLE_ORG], clock.now())
    personas = await seed_people(db, clock.now())
    await seed_volunteering(db, clock.now())
    return personas


@contextlib.asynccontextmanager
async def demo_stack(db: Database, settings: Settings, clock: Clock, personas: list[Persona], *,
                     api_host: str = "127.0.0.1", api_port: int = 0, **standin_options) -> AsyncIterator[DemoStack]:
    """A stand-in with the personas as its users and the real bot polling it, until the block ends."""
    standin = BotApiStandIn(token=DEMO_TOKEN, bot_username=DEMO_BOT_USERNAME, bot_first_name="红色网格",
                            **standin_options)
    base_url = await standin.start(api_host, api_port)
    for persona in personas:
        standin.add_user(persona.user_id, persona.name, language_code=persona.language_code)
    bot_settings = settings.model_copy(update={"bot_token": DEMO_TOKEN, "bot_api_url": base_url,
                                               "bot_username": ""})
    bot = build_bot(bot_settings)
    dp = build_dispatcher(db, bot_settings, clock)
    try:
        # the outbox's delivery and the report clock run beside the polling
        async with running(background(db, bot, bot_settings, clock)) as runner:
            await publish_default_commands(bot)
            async with polling(dp, bot, polling_timeout=1):
                yield DemoStack(standin, bot, dp, bot_settings, runner)
    finally:
        await bot.session.close()
        await standin.stop()


def role_labels(db: Database, personas: list[Persona]):
    """The web chat's labels as the database has them now: the newcomer's "新用户（未登记）" becomes
    "居民" once the bot has registered her. A seeded label that says more ("网格员 · 第一网格") stays
    while the roles it names are the person's only ones."""
    seeded = {p.user_id: p.role_label for p in personas}

    async def labels(user_ids: list[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        async with db.uow() as uow:
            for user_id in user_ids:
                person = await uow.people.by_identity(CHANNEL, str(user_id))
                if person is None:
                    continue
                names = (await roles_of(uow, person)).names
                if not names:
                    continue
                label = "、".join(text(person.language or "zh", f"role.{role.value}") for role in names)
                found[user_id] = seeded[user_id] if seeded.get(user_id, "").startswith(label) else label
        return found

    return labels


def demo_webchat(db: Database, standin: BotApiStandIn, personas: list[Persona], settings: Settings,
                 **options) -> WebChat:
    """The web chat of the demo: its people, their labels read live, times in the bot's zone."""
    return WebChat(standin, [p.as_dict() for p in personas], role_labels=role_labels(db, personas),
                   time_zone=settings.timezone, **options)


async def _map_points(db: Database) -> list[dict]:
    async with db.uow() as uow:
        points = []
        for building in await uow.places.buildings_with_position():
            address = await uow.places.address(building.id)
            points.append({"label": address.short(), "latitude": building.lat, "longitude": building.lon})
    return points


async def run_demo(settings: Settings, *, fresh: bool, host: str, port: int, api_port: int) -> int:
    url = demo_database_url(settings)
    lock = sole_process(url)  # before --fresh: a database another demo runs on is not removed
    try:
        return await _run_demo(settings, url, fresh=fresh, host=host, port=port, api_port=api_port)
    finally:
        if lock is not None:
            lock.release()


async def _run_demo(settings: Settings, url: str, *, fresh: bool, host: str, port: int, api_port: int) -> int:
    if fresh:
        forget_demo_database(settings)
    engine = make_engine(url)
    await upgrade(engine)
    db = Database(engine)
    clock = SystemClock()
    try:
        personas = await prepare_demo_world(db, clock)
        points = await _map_points(db)
        centre = (sum(p["latitude"] for p in points) / len(points), sum(p["longitude"] for p in points) / len(points))
        async with demo_stack(db, settings, clock, personas, api_host=host, api_port=api_port) as stack:
            webchat = demo_webchat(db, stack.standin, personas, settings, map_center=centre, map_span=0.006,
                                   map_points=points)
            chat_url = await webchat.start(host, port)
            print(f"redgrid demo: open {chat_url} — pick a person on the left and chat.\n"
                  f"  Bot API stand-in: {stack.standin.base_url}   database: {url}\n"
                  f"  Ctrl-C stops (the database stays; `redgrid demo --fresh` starts over).", flush=True)
            try:
                await _until_stopped()
            finally:
                await webchat.stop()
    finally:
        await db.dispose()
    return 0


async def _until_stopped() -> None:
    """Wait for Ctrl-C or SIGTERM (also when started in the background, where SIGINT is ignored)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    print("redgrid demo: stopped; the demo database is kept.", flush=True)
