"""What each `redgrid` subcommand does; everything it needs is built by redgrid/bootstrap.py."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from datetime import date
from pathlib import Path

from bot.commands import publish_default_commands
from bot.handlers.invites import invite_text
from texts import Translator, text
from core.clock import SystemClock
from core.disclosure_services import audit_entries
from core.errors import DomainError
from core.onboarding import create_invite
from core.people import Department, Role
from demo.app import demo_database_url, demo_webchat, forget_demo_database, map_points, prepare_demo_world
from demo.seed import seed_history
from redgrid import bootstrap
from redgrid.settings import Settings
from scheduler.leader import DatabaseInUse, hold_sqlite_database
from scheduler.runner import running
from storage.orgfile import import_org as import_files

log = logging.getLogger("redgrid")


class CommandFailed(Exception):
    """A subcommand could not do its job; the message says why in one line."""


async def migrate(settings: Settings) -> int:
    db = await bootstrap.open_database(settings)
    await db.dispose()
    print(f"database is up to date: {settings.database_url}")
    return 0


async def run(settings: Settings) -> int:
    lock = sole_process(settings.database_url)
    try:
        db = await bootstrap.open_database(settings)
        bot = bootstrap.build_bot(settings)
        clock = SystemClock()
        dp = bootstrap.build_dispatcher(db, settings, clock)
        wechat = bootstrap.wechat_channel(db, settings, clock)  # None unless WECHAT_MP_* / WECOM_* are set
        try:
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(running(bootstrap.background(db, bot, settings, clock,
                                                                             wechat=wechat)))
                if wechat is not None:
                    url = await stack.enter_async_context(
                        bootstrap.serving_wechat(wechat, settings.web_host, settings.web_port))
                    log.info("WeChat callbacks at %s/wechat/{%s}", url,
                             ",".join(a for a in ("mp", "work") if wechat.api.has(a)))
                await serve_dashboard(stack, db, settings, clock)
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


async def serve_dashboard(stack: contextlib.AsyncExitStack, db, settings: Settings, clock) -> str | None:
    """The dashboard's web server until `stack` closes, when DASHBOARD_ENABLED; its base URL. A port
    already taken (a second process beside a first, as in a rolling deploy) leaves the bot running
    without it, with a warning."""
    if not settings.dashboard_enabled:
        return None
    try:
        served = await stack.enter_async_context(bootstrap.serving_web(
            bootstrap.web_app(db, settings, clock), settings.dashboard_host, settings.dashboard_port))
    except OSError as exc:
        log.warning("dashboard not served on %s:%s: %s", settings.dashboard_host, settings.dashboard_port, exc)
        return None
    log.info("dashboard at %s/dashboard/ (links: %s)", served, settings.dashboard_url)
    return served


def sole_process(database_url: str):
    """On SQLite, claim the database file for this process or stop with one line (scheduler/leader.py)."""
    try:
        return hold_sqlite_database(database_url)
    except DatabaseInUse as exc:
        raise CommandFailed(str(exc)) from None


async def import_org(settings: Settings, files: list[Path]) -> int:
    db = await bootstrap.open_database(settings)
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


async def forget(settings: Settings, args: argparse.Namespace) -> int:
    """`redgrid forget`: the chat's /forget for a person who asked the office (core.personal_data_services)."""
    from core.personal_data_services import forget as forget_person
    from media.photos import PhotoStore

    db = await bootstrap.open_database(settings)
    try:
        async with db.uow() as uow:
            person = await uow.people.by_phone(args.phone) if args.phone else await uow.people.get(args.person)
            if person is None or person.id is None:
                raise CommandFailed("no such person")
            try:
                done = await forget_person(uow, None, person.id, SystemClock().now(), PhotoStore(settings.data_dir))
            except DomainError as exc:
                raise CommandFailed(text(settings.default_language, exc.key, **exc.params)) from None
            await uow.commit()
        print(f"person {person.id} forgotten: {done.reports} reports kept anonymised "
              f"({len(done.closed_now)} closed now), {len(done.photos)} photo files removed")
        return 0
    finally:
        await db.dispose()


async def invite(settings: Settings, args: argparse.Namespace) -> int:
    db = await bootstrap.open_database(settings)
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


async def open311_key(settings: Settings, client: str) -> int:
    """Register an Open311 client (or replace its key) and print its api_key, once."""
    from core.open311_services import issue_key

    name = client.strip()
    if not name or len(name) > 100:
        raise CommandFailed("the client's name must be 1 to 100 characters")
    db = await bootstrap.open_database(settings)
    try:
        async with db.uow() as uow:
            api_key = await issue_key(uow, name, SystemClock().now())
            await uow.commit()
    finally:
        await db.dispose()
    print(f"Open311 client {name}: api_key={api_key}")
    print("Keep it: only its hash is stored. Running `redgrid open311-key` again for this client replaces it.")
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
    bot = bootstrap.build_bot(settings)
    try:
        return (await bot.get_me()).username or ""
    except Exception as exc:  # no network or a wrong token: the invite still works by /start
        log.warning("could not ask the Bot API for the bot's name: %s", exc)
        return ""
    finally:
        await bot.session.close()


# ---- `redgrid demo` ------------------------------------------------------------------------------

async def run_demo(settings: Settings, *, fresh: bool, host: str, port: int, api_port: int) -> int:
    url = demo_database_url(settings.data_dir)
    lock = sole_process(url)  # before --fresh: a database another demo runs on is not removed
    try:
        return await _run_demo(settings, url, fresh=fresh, host=host, port=port, api_port=api_port)
    finally:
        if lock is not None:
            lock.release()


async def _run_demo(settings: Settings, url: str, *, fresh: bool, host: str, port: int, api_port: int) -> int:
    if fresh:
        forget_demo_database(settings.data_dir)
    db = await bootstrap.open_database(settings, url)
    clock = SystemClock()
    try:
        personas = await prepare_demo_world(db, clock)  # its three months of history come once it serves
        points = await map_points(db)
        centre = (sum(p["latitude"] for p in points) / len(points), sum(p["longitude"] for p in points) / len(points))
        async with bootstrap.demo_stack(db, settings, clock, personas, api_host=host, api_port=api_port) as stack:
            webchat = demo_webchat(db, stack.standin, personas, settings, map_center=centre, map_span=0.006,
                                   map_points=points)
            chat_url = await webchat.start(host, port)
            web = contextlib.AsyncExitStack()
            dashboard_note = ""
            served = await serve_dashboard(web, db, settings, clock)  # DASHBOARD_URL points here by default
            if served is not None:
                dashboard_note = (f"  Dashboard: {served}/dashboard/ — be 陈书记, send /dashboard, open the link.\n"
                                  f"  Open311: {served}/open311/v2/services.json\n")
            print(f"redgrid demo: open {chat_url} — pick a person on the left and chat.\n{dashboard_note}"
                  f"  Bot API stand-in: {stack.standin.base_url}   database: {url}\n"
                  f"  Ctrl-C stops (the database stays; `redgrid demo --fresh` starts over).", flush=True)
            history = asyncio.create_task(_write_history(db, clock, settings))
            try:
                await _until_stopped()
            finally:
                history.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await history
                await web.aclose()
                await webchat.stop()
    finally:
        await db.dispose()
    return 0


async def _write_history(db, clock, settings: Settings) -> None:
    """The dashboard's three months of history (demo/seed.py), once per demo database, written while the
    demo already serves: it is most of a fresh demo's start (a minute of CPU on a loaded machine, more
    than importing aiogram) and nobody needs it to chat. It queues no notification, so the bot that
    runs meanwhile sends nothing of it; a resident's press may wait a moment for SQLite's write lock."""
    try:
        made = await seed_history(db, clock.now(), settings.data_dir)
    except Exception:
        log.exception("the demo's history could not be written; the demo goes on without it")
        return
    if made:
        print(f"redgrid demo: the dashboard's three months of history are written ({made} reports).", flush=True)


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


async def audit(settings: Settings, *, person_id: int | None = None, day: date | None = None,
                limit: int = 1000) -> int:
    """Print the audit log (core/disclosure_services.py): when, which staff member saw whose data, what.
    Read only: nothing here, nor anywhere in the code, changes or removes an entry."""
    db = await bootstrap.open_database(settings)
    try:
        async with db.uow() as uow:
            entries = await audit_entries(uow, person_id=person_id, day=day, tz=settings.tz, limit=limit)
            names = await uow.people.display_names(sorted({e.viewer_id for e in entries} |
                                                           {e.person_id for e in entries}))
    finally:
        await db.dispose()
    for e in entries:
        print(f"{e.at.astimezone(settings.tz):%Y-%m-%d %H:%M:%S}  staff {e.viewer_id} {names.get(e.viewer_id, '?')}"
              f"  saw person {e.person_id} {names.get(e.person_id, '?')}  {e.what} {e.subject}".rstrip())
    if not entries:
        print("no entries")
    return 0
