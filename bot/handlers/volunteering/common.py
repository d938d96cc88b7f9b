"""What the volunteering handlers share: whose communities, how a post reads, answering a press."""

from __future__ import annotations

from datetime import datetime

from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.config import Settings
from texts import Translator, moment_text
from core.people import Role, Roles
from core.volunteering.common import PostState
from core.volunteering.posts import Post


HISTORY_LINES = 5


# ---- who is who ----------------------------------------------------------------------------------

def member_communities(roles: Roles) -> list[int]:
    return sorted({g.community_id for g in roles.grants if g.role == Role.PARTY_MEMBER and g.community_id})


def my_communities(roles: Roles) -> list[int]:
    """Every community the person belongs to in some role (points are kept per community)."""
    return sorted({g.community_id for g in roles.grants if g.community_id})


# ---- how things read -----------------------------------------------------------------------------

def when(moment: datetime, settings: Settings, tr: Translator, now: datetime) -> str:
    return moment_text(tr.lang, moment, settings.tz, now)


def hours_of(post: Post) -> str:
    hours = post.length.total_seconds() / 3600
    return str(int(hours)) if hours.is_integer() else f"{hours:.1f}"


def post_text(post: Post, tr: Translator, settings: Settings, now: datetime, *, show_place: bool) -> str:
    """A post as members read it; a post made from a resident's order hides the place (the
    resident's home, PIPL) until the member holds a place on it."""
    place = post.place if show_place or post.order_number is None else tr("post.place_after_claim")
    text = tr("post.card", title=post.title, when=when(post.starts_at, settings, tr, now), hours=hours_of(post),
              place=place, taken=post.places_taken, capacity=post.capacity, points=post.points_per_person,
              number=post.number)
    if post.template_id is not None:
        text = tr("post.theme_day") + " " + text
    if post.state == PostState.FULL:
        text += "\n" + tr("post.is_full")
    return text


async def done(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Acknowledge the press, drop the old buttons so they cannot be pressed twice, say what happened."""
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(text, reply_markup=markup)
