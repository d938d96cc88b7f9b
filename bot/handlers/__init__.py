"""One Router per module; `routers()` gives fresh ones in the order they must be tried."""

from __future__ import annotations

from aiogram import Router


def routers() -> list[Router]:
    from bot.handlers import cases, common, doors, fallback, invites, limits, notices, privacy, start, stats, volunteering

    # common first: /cancel and /help work from inside any dialog, and so do /privacy, /mydata and
    # /forget (privacy, second: both go before the dialogs); fallback last.
    return [common.make_router(), privacy.make_router(), doors.make_router(), start.make_router(), invites.make_router(), cases.make_router(),
            limits.make_router(), notices.make_router(), stats.make_router(), volunteering.make_router(),
            fallback.make_router()]
