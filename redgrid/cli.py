"""The `redgrid` command: run the bot, migrate, import the org chart, print invite links, read the audit
log, issue Open311 keys, forget a person, print door QR codes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from redgrid import early

# Only argparse and redgrid/early.py above: `--help` and the missing token's hint must not wait for
# pydantic or aiogram (issue #18). Settings and commands are imported in main(), once they are needed.

NO_TOKEN = ("No BOT_TOKEN set: create a bot with @BotFather in Telegram and put BOT_TOKEN=<token> in .env "
            "(see .env.example), or try everything offline with `redgrid demo`.")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="redgrid", description=(
        "Red Grid: residents report, grid members fix, party members volunteer. "
        "Settings come from the environment and .env (see .env.example)."))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sub.add_parser("run", help="migrate the database, then run the bot (long polling)",
                   description="Migrate the database, then run the bot with long polling until Ctrl-C.")
    sub.add_parser("webhook", help="run the bot behind Telegram's webhook (one of several workers)",
                   description="Migrate, set the webhook (WEBHOOK_URL, WEBHOOK_SECRET) and serve it with the "
                               "WeChat callbacks, the dashboard, /healthz and /metrics on WEB_HOST:WEB_PORT "
                               "until SIGTERM. Several may share PostgreSQL and Redis.")
    sub.add_parser("migrate", help="bring the database to the newest schema",
                   description="Bring the database named by DATABASE_URL to the newest schema.")

    demo = sub.add_parser("demo", help="try everything offline: a local Telegram stand-in and a web chat",
                          description="Start a local Bot API stand-in, the real bot against it, a seeded demo "
                                      "community and a web chat. No Telegram account or internet needed.")
    demo.add_argument("--fresh", action="store_true", help="forget the demo database and start over")
    demo.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8080, help="web chat port (default 8080)")
    demo.add_argument("--api-port", type=int, default=8081, help="Bot API stand-in port (default 8081)")

    imp = sub.add_parser("import-org", help="import communities, compounds, grids, buildings, grid members",
                         description="Import the org chart from .xlsx or .csv files (see samples/). All files are "
                                     "checked first; if any row is wrong nothing is written.")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")

    inv = sub.add_parser("invite", help="print an invite deep link for a role",
                         description="Print a deep link that gives a role to whoever opens it. "
                                     "`redgrid invite admin` makes the first administrator.")
    inv.add_argument("role", choices=["admin", "staff", "grid_member", "party_member", "department"])
    inv.add_argument("--community", help="community name, code or id (staff, party_member)")
    inv.add_argument("--grid", help="grid name or id (grid_member); with --community if names repeat")
    inv.add_argument("--phone", help="bind to the imported grid member with this phone")
    inv.add_argument("--department", help="department name (created if new) for a department contact")
    inv.add_argument("--uses", type=int, default=None, help="how many people may use it (default INVITE_MAX_USES)")
    inv.add_argument("--hours", type=int, default=None, help="hours until it expires (default INVITE_TTL_HOURS)")

    aud = sub.add_parser("audit", help="print who saw whose personal information (the audit log)",
                         description="Print the audit log: every time staff were shown a person's data "
                                     "(a case's reporter, the desk, lists with phone numbers), oldest first. "
                                     "Times are in TIMEZONE.")
    aud.add_argument("--person", type=int, metavar="ID", help="only looks at this person's data")
    aud.add_argument("--day", type=_day, metavar="YYYY-MM-DD", help="only this day (in TIMEZONE)")
    aud.add_argument("--limit", type=int, default=1000, help="at most this many lines (default 1000)")

    key = sub.add_parser("open311-key", help="issue an Open311 api_key for a client (a 12345 hotline, a map portal)",
                         description="Register the Open311 client CLIENT, or replace its key, and print the new "
                                     "api_key once (only its hash is kept). The client files reports with it "
                                     "(POST /open311/v2/requests.json).")
    key.add_argument("client", metavar="CLIENT", help="the client's name, e.g. 12345-hotline")

    fgt = sub.add_parser("forget", help="delete a person's information on their request (PIPL)",
                         description="What /forget does in the chat, for a person who asks the office in "
                                     "writing: name, phone, chat accounts, photos, dialogs and messages are "
                                     "deleted; their reports stay anonymised. Asks for confirmation.")
    who = fgt.add_mutually_exclusive_group(required=True)
    who.add_argument("--phone", help="the person with this phone number")
    who.add_argument("--person", type=int, help="the person with this id (as /mydata shows it)")
    fgt.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    qr = sub.add_parser("qr", help="print the QR codes for building doors (门牌二维码) as an A4 PDF and PNGs",
                        description="Write a printable A4 PDF (six cards a page) and a PNG per card: one card per "
                                    "building, and one for each compound's gate and garage. Scanning one registers "
                                    "a newcomer at that building (after the privacy notice) or starts a report "
                                    "placed there. Needs a font with Chinese glyphs (fonts-noto-cjk).")
    qr.add_argument("--community", help="community name, code or id (default: every community)")
    qr.add_argument("--compound", help="only this compound (name or id)")
    qr.add_argument("--out", default="door-codes", help="directory to write into (default ./door-codes)")
    qr.add_argument("--no-spots", action="store_true", help="buildings only, no gate and garage cards")
    return parser


def _day(value: str):
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day: {value!r} (write YYYY-MM-DD)") from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("run", "webhook") and not early.bot_token():  # before the imports below, which take seconds
        print(NO_TOKEN, file=sys.stderr)
        return 2
    import asyncio
    import logging

    from redgrid.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"redgrid: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    if args.command in ("run", "webhook") and not settings.bot_token:  # before the imports below, which take seconds
        print(NO_TOKEN, file=sys.stderr)
        return 2
    from redgrid import commands

    try:
        if args.command == "run":
            return asyncio.run(commands.run(settings))
        if args.command == "webhook":
            return asyncio.run(commands.webhook(settings))
        if args.command == "demo":
            return asyncio.run(commands.run_demo(settings, fresh=args.fresh, host=args.host, port=args.port,
                                        api_port=args.api_port))
        if args.command == "migrate":
            return asyncio.run(commands.migrate(settings))
        if args.command == "import-org":
            return asyncio.run(commands.import_org(settings, args.files))
        if args.command == "invite":
            return asyncio.run(commands.invite(settings, args))
        if args.command == "audit":
            return asyncio.run(commands.audit(settings, person_id=args.person, day=args.day, limit=args.limit))
        if args.command == "open311-key":
            return asyncio.run(commands.open311_key(settings, args.client))
        if args.command == "qr":
            return asyncio.run(commands.qr(settings, args))
        if args.command == "forget":
            if not args.yes and input(f"Delete the information of {args.phone or args.person}? "
                                      "It cannot be undone. Type yes: ").strip().lower() != "yes":
                print("Nothing deleted.")
                return 1
            return asyncio.run(commands.forget(settings, args))
    except KeyboardInterrupt:
        return 130
    except commands.CommandFailed as exc:
        print(f"redgrid {args.command}: {exc}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
