"""One Router per module; `routers()` gives them in the order they must be tried."""

from __future__ import annotations

from aiogram import Router


def routers() -> list[Router]:
    from bot.handlers import common, fallback, invites, start

    # common first: /cancel and /help work from inside any dialog; fallback last.
    return [common.router, start.router, invites.router, fallback.router]
