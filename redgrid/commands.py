"""What each `redgrid` subcommand does, wired from settings."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from core.clock import SystemClock
from core.errors import DomainError
from core.people import Department, Role
from redgrid.settings import Settings
from storage.engine import make_engine
from storage.migrate import upgrade
from scheduler.runner import running
from storage.uow import Database

log = logging.getLogger("redgrid")


class CommandFailed(Exception):
    """A subcommand could not do its job; the message says why in one line."""


async def open_database(settings: Settings) -> Database:
    engine = make_engine(settings.database_url)
    await upgrade(engine)
    return Database(engine)


async def migrate(settings: Settings) -> int:
    db = await open_database(settings)
    await db.dispose()
    print(f"database is up to date: {settings.database_url}")
    return 0


async def run(settings: Settings) -> int:
    from bot.app import build_bot, build_dispatcher
    from bot.commands import publish_default_commands

    lock = sole_process(settings.database_url)
    try:
        db = await open_database(settings)
        bot = build_bot(settings)
        clock = SystemClock()
        dp = build_dispatcher(db, settings, clock)
        try:
            async with running(background(db, bot, settings, clock)):
                me = await bot.get_me()
                log.info("running as @%s against %s", me.username, settings.bot_api_url)
                await bot.delete_webhook(drop_pending_updates=False)
                await publish_default_commands(bot)
                await dp.start_polling(bot)  # handles first what a crash left unhandled (bot/inbox.py)
        finally:
            await bot.session.close()
            await db.dispose()
    finally:
        if lock is not None:
            lock.release()
    return 0


def sole_process(database_url: str):
    """On SQLite, claim the database file for this process or stop with one line (scheduler/leader.py)."""
    from scheduler.leader import DatabaseInUse, hold_sqlite_database

    try:
        return hold_sqlite_database(database_url)
    except DatabaseInUse as exc:
        raise CommandFailed(str(exc)) from None


def background(db: Database, bot, settings: Settings, clock):
    """What runs besides the handlers, while this process leads: delivery and the scheduled jobs."""
    from bot.outgoing import NotificationRenderer
    from scheduler.broadcasts import ProgressReporter
    from scheduler.delivery import DeliveryWorker, pace_replies
    from scheduler.leader import Leadership
    from scheduler.runner import Runner, prune_inbox
    from scheduler.sla import sweep_reports
    from bot.app import report_policy, volunteer_policy
    from scheduler.volunteering import volunteering_tick

    renderer = NotificationRenderer(settings, clock=clock)  # dates read against the domain's clock
    # Delivery runs on the real clock, as the outbox stamps its rows: it paces real Telegram traffic.
    # `clock` is the domain's (deadlines, reminders), which the demo and tests may move by hand.
    real = SystemClock()
    worker = DeliveryWorker(db, bot, renderer, clock=real, global_rate=settings.delivery_per_second,
                            per_chat_rate=settings.delivery_per_chat_per_second)
    worker.progress = ProgressReporter(db, bot, renderer.progress_text, pacer=worker.pacer, clock=real)
    pace_replies(bot, worker.pacer)  # the handlers' replies count against the same budget
    runner = Runner(Leadership(db.engine), worker=worker, timezone=settings.tz)
    runner.add_job(prune_inbox, "cron", hour=4, minute=30, args=[db, real], id="prune_inbox")
    runner.add_job(sweep_reports, "interval", minutes=1, args=[db, report_policy(settings), clock],
                   id="sweep_reports", coalesce=True, max_instances=1)
    runner.add_job(volunteering_tick, "interval", minutes=1, args=[db, volunteer_policy(settings), clock],
                   id="volunteering", coalesce=True, max_instances=1)
    return runner


async def import_org(settings: Settings, files: list[Path]) -> int:
    from storage.orgfile import import_org as import_files

    db = await open_database(settings)
    try:
        report = await import_files(db, files, SystemClock().now())
    except DomainError as exc:
        raise CommandFailed(f"nothing was imported:\n{exc}") from None
    finally:
        await db.dispose()
    print(report.summary())
    return 0


async def _find_community(uow, ref: str):
    for community in await uow.places.communities():
        if ref in (community.name, community.code, str(community.id)):
            return community
    raise CommandFailed(f"no community named {ref!r} (name, code or id)")


async def _find_grid(uow, ref: str, community_id: int | None):
    matches = [g for g in await uow.places.grids(community_id) if ref in (g.name, str(g.id))]
    if len(matches) != 1:
        raise CommandFailed(f"{'no' if not matches else 'more than one'} grid named {ref!r}; "
                            "give its id or add --community")
    return matches[0]


async def invite(settings: Settings, args: argparse.Namespace) -> int:
    from bot.handlers.invites import invite_text
    from bot.texts import Translator
    from core.onboarding import create_invite

    db = await open_database(settings)
    now = SystemClock().now()
    try:
        async with db.uow() as uow:
            role = Role(args.role)
            community = await _find_community(uow, args.community) if args.community else None
            grid = await _find_grid(uow, args.grid, community.id if community else None) if args.grid else None
            person_id = None
            if args.phone:
                roster = await uow.people.by_phone(args.phone)
                if roster is None:
                    raise CommandFailed(f"no imported person with phone {args.phone}")
                person_id = roster.id
                if role == Role.GRID_MEMBER and grid is None:
                    grid = await _roster_grid(uow, roster.id)
            department_id = None
            if args.department:
                department_id = await _department_id(uow, args.department)
            try:
                created = await create_invite(
                    uow, None, role, now, ttl_hours=args.hours or settings.invite_ttl_hours,
                    max_uses=args.uses or settings.invite_max_uses, community_id=community.id if community else None,
                    grid_id=grid.id if grid else None, department_id=department_id, person_id=person_id)
            except DomainError as exc:
                raise CommandFailed(f"{exc.key}: give the place this role needs (--community, --grid or "
                                    "--department)") from None
            await uow.commit()
            print(await invite_text(await _bot_username(settings), uow, created,
                                    Translator(settings.default_language), settings, now))
    finally:
        await db.dispose()
    return 0


async def _roster_grid(uow, person_id: int):
    """The grid an imported grid member already holds, when it is only one."""
    grid_ids = {g.grid_id for g in await uow.people.grants(person_id) if g.role == Role.GRID_MEMBER and g.active}
    if len(grid_ids) != 1:
        raise CommandFailed("this person holds several grids or none; name one with --grid")
    return await uow.places.grid(grid_ids.pop())


async def _department_id(uow, name: str) -> int:
    department = await uow.people.department_named(name)
    if department is None:
        department = Department(None, name)
        await uow.people.add_department(department)
    return department.id


async def _bot_username(settings: Settings) -> str:
    """For the deep link: BOT_USERNAME, else ask the Bot API; offline, the /start command is printed instead."""
    if settings.bot_username or not settings.bot_token:
        return settings.bot_username
    from bot.app import build_bot

    bot = build_bot(settings)
    try:
        return (await bot.get_me()).username or ""
    except Exception as exc:  # no network or a wrong token: the invite still works by /start
        log.warning("could not ask the Bot API for the bot's name: %s", exc)
        return ""
    finally:
        await bot.session.close()
