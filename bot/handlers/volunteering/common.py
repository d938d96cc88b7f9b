"""What the volunteering handlers share: whose communities, how a post reads, answering a press."""

from __future__ import annotations

from datetime import datetime

from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.config import Settings
from texts import Translator, moment_text
from texts.volunteering import post_text as shared_post_text
from core.people import Roles
from core.volunteering.posts import Post


HISTORY_LINES = 5


# ---- who is who ----------------------------------------------------------------------------------

def member_communities(roles: Roles) -> list[int]:
    return roles.party_communities()


def my_communities(roles: Roles) -> list[int]:
    """Every community the person belongs to in some role (points are kept per community)."""
    return roles.communities()


# ---- how things read -----------------------------------------------------------------------------

def when(moment: datetime, settings: Settings, tr: Translator, now: datetime) -> str:
    return moment_text(tr.lang, moment, settings.tz, now)


def post_text(post: Post, tr: Translator, settings: Settings, now: datetime, *, show_place: bool) -> str:
    """A post as members read it (texts.volunteering.post_text, in the community's time zone)."""
    return shared_post_text(post, tr, settings.tz, now, show_place=show_place)


async def done(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Acknowledge the press, drop the old buttons so they cannot be pressed twice, say what happened."""
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(text, reply_markup=markup)
