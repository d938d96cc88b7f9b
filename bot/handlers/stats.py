"""/stats: the month's figures for the staff member's communities, in chat (the dashboard's overview);
/dashboard: a one-time link that signs them in to the web dashboard (core/sign_in.py).

`/stats` is this month so far; `/stats 2026-11` a past month. The figures are the same core query
the dashboard and the Excel use (core.statistics_services.overview); this only parses and words them.
"""

from __future__ import annotations

import re

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import LinkPreviewOptions, Message

from core.cases import Actor
from core.people import Person, Roles
from core.sign_in import SIGN_IN_TTL
from core.sign_in_services import issue_link
from core.ports import UnitOfWork
from core.statistics import Overview, PlaceLevel, figure_rows, month, month_of
from core.statistics_services import PlaceChoice, overview
from texts import Translator

_MONTH = re.compile(r"^\s*(\d{4})[-/.年](\d{1,2})月?\s*$")


def overview_text(ov: Overview, tr: Translator) -> str:
    """The overview as a chat message: a title, then each section's figures one per line."""
    place = ov.area.name if ov.area.level != PlaceLevel.ALL else (ov.area.name or tr("stats.all_places"))
    lines = [tr("stats.title", place=place, period=ov.period.label)]
    section = None
    for name, figure, value in figure_rows(ov):
        if name != section:
            section = name
            lines.append(f"\n{tr(f'stats.s.{name}')}")
        lines.append(f"· {tr(f'stats.f.{figure}')}：{value}" if tr.lang == "zh" else f"· {tr(f'stats.f.{figure}')}: {value}")
    if ov.volunteering is None:
        lines.append("\n" + tr("stats.narrower"))
    return "\n".join(lines)


async def stats(message: Message, command: CommandObject, uow: UnitOfWork, person: Person, roles: Roles,
                tr: Translator, settings, now) -> None:
    words = (command.args or "").strip()
    if not words:
        period = month_of(now, settings.tz)
    else:
        found = _MONTH.match(words)
        if found is None or not 1 <= int(found.group(2)) <= 12:
            await message.answer(tr("stats.usage"))
            return
        period = month(int(found.group(1)), int(found.group(2)), settings.tz)
    ov = await overview(uow, Actor.of(person, roles), PlaceChoice(), period, now)  # refused unless staff or admin
    await message.answer(overview_text(ov, tr))


async def dashboard(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator, settings,
                    now) -> None:
    """A link valid for ten minutes and one use; no preview, so Telegram's preview fetcher never opens it."""
    if not settings.dashboard_enabled:
        await message.answer(tr("dashboard.off"))
        return
    token = await issue_link(uow, Actor.of(person, roles), now)  # refused unless staff or admin
    url = f"{settings.dashboard_url.rstrip('/')}/dashboard/login?t={token}"
    await message.answer(tr("dashboard.link", url=url, minutes=int(SIGN_IN_TTL.total_seconds() // 60),
                            hours=settings.dashboard_session_hours),
                         link_preview_options=LinkPreviewOptions(is_disabled=True))


def make_router() -> Router:
    """A fresh router each time, so every Dispatcher (tests make many) owns its own."""
    router = Router(name="stats")
    router.message.register(stats, Command("stats"))
    router.message.register(dashboard, Command("dashboard"))
    return router
