"""What each `redgrid` subcommand does; everything it needs is built by redgrid/bootstrap.py."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
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
from demo.wechat_chat import WeChatChat
from demo.wechat_phone import WeChatPhones
from demo.wechat_standin import WeChatStandIn
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
    with sole_process(settings.database_url):
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


@contextlib.contextmanager
def sole_process(database_url: str) -> Iterator[None]:
    """On SQLite, hold the database file for this process while the block runs, or stop with one line
    (scheduler/leader.py); on PostgreSQL, nothing to hold."""
    try:
        lock = hold_sqlite_database(database_url)
    except DatabaseInUse as exc:
        raise CommandFailed(str(exc)) from None
    try:
        yield
    finally:
        if lock is not None:
            lock.release()


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
    from media.voice import VoiceStore

    db = await bootstrap.open_database(settings)
    try:
        async with db.uow() as uow:
            person = await uow.people.by_phone(args.phone) if args.phone else await uow.people.get(args.person)
            if person is None or person.id is None:
                raise CommandFailed("no such person")
            try:
                done = await forget_person(uow, None, person.id, SystemClock().now(), PhotoStore(settings.data_dir),
                                           VoiceStore(settings.data_dir))
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
    with sole_process(url):  # before --fresh: a database another demo runs on is not removed
        return await _run_demo(settings, url, fresh=fresh, host=host, port=port, api_port=api_port)


async def _run_demo(settings: Settings, url: str, *, fresh: bool, host: str, port: int, api_port: int) -> int:
    if fresh:
        forget_demo_database(settings.data_dir)
    db = await bootstrap.open_database(settings, url)
    clock = SystemClock()
    wechat_standin = WeChatStandIn()  # the WeChat channel runs too, against a stand-in of WeChat's API
    try:
        personas = await prepare_demo_world(db, clock)  # its three months of history come once it serves
        points = await map_points(db)
        centre = (sum(p["latitude"] for p in points) / len(points), sum(p["longitude"] for p in points) / len(points))
        await wechat_standin.start(host, 0)
        async with bootstrap.demo_stack(db, settings, clock, personas, api_host=host, api_port=api_port,
                                        wechat=wechat_standin) as stack:
            webchat = demo_webchat(db, stack.standin, personas, settings, map_center=centre, map_span=0.006,
                                   map_points=points)
            WeChatChat(WeChatPhones(stack.wechat_url, wechat_standin), map_center=centre).add_to(webchat.app)
            chat_url = await webchat.start(host, port)
            web = contextlib.AsyncExitStack()
            dashboard_note = ""
            served = await serve_dashboard(web, db, settings, clock)  # DASHBOARD_URL points here by default
            if served is not None:
                dashboard_note = (f"  Dashboard: {served}/dashboard/ — be 陈书记, send /dashboard, open the link.\n"
                                  f"  Open311: {served}/open311/v2/services.json\n")
            print(f"redgrid demo: open {chat_url} — pick a person on the left and chat.\n{dashboard_note}"
                  f"  WeChat (微信公众号): {chat_url}wechat — a WeChat resident and the Official Account.\n"
                  f"  Bot API stand-in: {stack.standin.base_url}   database: {url}\n"
                  f"  Ctrl-C stops (the database stays; `redgrid demo --fresh` starts over).", flush=True)
            history = asyncio.create_task(_write_history(db, clock, settings))
            try:
                await _until_stopped()
                print("redgrid demo: stopped; the demo database is kept.", flush=True)
            finally:
                history.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await history
                await web.aclose()
                await webchat.stop()
    finally:
        await wechat_standin.stop()
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


# ---- `redgrid qr`: the door cards (门牌二维码) ------------------------------------------------------

async def qr(settings: Settings, args: argparse.Namespace) -> int:
    """Write the printable A4 sheet (and a PNG per card) of every building's door code, and of each compound's
    gate and garage, for one community or all (core.door_code_services, media.door_cards)."""
    from core.door_code_services import door_cards
    from core.door_codes import deep_link, secret_from
    from media.door_cards import CardFace, NoCjkFont, find_font, write_cards

    secret = secret_from(settings.door_code_secret, settings.bot_token)
    if not secret:
        raise CommandFailed("set DOOR_CODE_SECRET (or BOT_TOKEN) in .env: it signs the codes (see .env.example)")
    try:
        font = find_font()
    except NoCjkFont as missing:
        raise CommandFailed(str(missing)) from None
    username = await _bot_username(settings)
    if not username:
        raise CommandFailed("the codes are t.me links: set BOT_USERNAME in .env (or a BOT_TOKEN the Bot API accepts)")
    db = await bootstrap.open_database(settings)
    try:
        async with db.uow() as uow:
            communities = [await _find_community(uow, args.community)] if args.community \
                else list(await uow.places.communities())
            cards = []
            for community in communities:
                compound_id = None
                if args.compound:
                    found = [c for c in await uow.places.compounds(community.id) if args.compound in (c.name, str(c.id))]
                    if not found:
                        if args.community:
                            raise CommandFailed(f"no compound named {args.compound!r} in {community.name}")
                        continue
                    compound_id = found[0].id
                cards += await door_cards(uow, None, secret, community.id, compound_id,
                                          spots=() if args.no_spots else ("gate", "garage"))
    finally:
        await db.dispose()
    if not cards:
        raise CommandFailed("no buildings to print: import the org file first (redgrid import-org)")
    wechat = await _wechat_scene_codes(settings, [c.payload for c in cards])
    faces = [CardFace(deep_link(username, c.payload), c.title, c.community, wechat.get(c.payload),
                      file_stem=f"{c.kind.value}{c.place_id}{'-' + c.spot if c.spot else ''}") for c in cards]
    written = write_cards(faces, Path(args.out), font)
    print(f"{len(cards)} cards ({font.path.name}) → {written[0]} and {len(written) - 1} PNGs in {args.out}")
    return 0


async def _wechat_scene_codes(settings: Settings, payloads: list[str]) -> dict[str, bytes]:
    """Where the Official Account is set up: its QR code with each payload as the scene string (带参数二维码),
    for the card beside Telegram's. Not set up: none."""
    if not settings.wechat_mp_configured:
        return {}
    from wechat.api import Credentials, WeChatApi

    api = WeChatApi([Credentials("mp", settings.wechat_mp_appid, settings.wechat_mp_secret)],
                    wechat_url=settings.wechat_api_url)
    try:
        return {payload: await api.scene_qr_png(payload) for payload in payloads}
    except Exception as exc:  # the sheet without WeChat's codes is worse than none: say why and stop
        raise CommandFailed(f"WeChat's QR codes could not be made: {exc}") from None
    finally:
        await api.close()
# ---- `redgrid webhook`: one of several workers behind Telegram's webhook --------------------------

async def webhook(settings: Settings, on_ready=None) -> int:
    """Serve Telegram's webhook, the WeChat callbacks, the dashboard, /healthz and /metrics on the one
    web server (WEB_HOST:WEB_PORT) until SIGTERM or Ctrl-C; set the webhook on start (every worker sets
    the same one). Several may run on one PostgreSQL and Redis; one of them leads (scheduler, delivery)."""
    from redgrid.webhook import configure_logging

    configure_logging(settings.log_format)
    if not settings.webhook_url.startswith(("https://", "http://")):
        raise CommandFailed("set WEBHOOK_URL to the public https:// address Telegram posts updates to "
                            "(see .env.example)")
    if not settings.webhook_secret:
        raise CommandFailed("set WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -): Telegram sends it with every update "
                            "and anything without it is refused")
    with sole_process(settings.database_url):  # SQLite: one process; PostgreSQL: as many as you like
        db = await bootstrap.open_database(settings)
        bot = bootstrap.build_bot(settings)
        clock = SystemClock()
        dp = bootstrap.build_dispatcher(db, settings, clock)
        wechat = bootstrap.wechat_channel(db, settings, clock)
        runner = bootstrap.background(db, bot, settings, clock, wechat=wechat)
        try:
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(running(runner))
                app, _ = bootstrap.webhook_server(db, bot, dp, settings, clock, wechat=wechat, runner=runner)
                served = await stack.enter_async_context(bootstrap.serving_web(app, settings.web_host,
                                                                               settings.web_port))
                me = await bot.get_me()
                await bot.set_webhook(settings.webhook_url, secret_token=settings.webhook_secret,
                                      allowed_updates=dp.resolve_used_update_types(),
                                      max_connections=settings.webhook_max_connections)
                await publish_default_commands(bot)
                log.info("webhook worker for @%s on %s (Telegram posts to %s)", me.username, served,
                         settings.webhook_url)
                if on_ready is not None:  # tests and benchmarks that start workers
                    on_ready(served)
                await _until_stopped()
                log.info("webhook worker stopping")
        finally:
            await bot.session.close()
            await db.dispose()
    return 0

