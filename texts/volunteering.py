"""How volunteering reads, in any channel: a notification's fields in the reader's language and a post
as members read it. Telegram (bot/rendering/volunteering.py, bot/handlers/volunteering/) and WeChat
(wechat/) both word volunteering through here."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from core.volunteering.common import PostState
from core.volunteering.posts import Post
from texts import Translator, moment_text


def notification_fields(kind: str, payload: dict[str, Any], tr: Translator) -> dict[str, Any]:
    """The payload as the reader reads it: a service kind named in their language."""
    fields = dict(payload)
    if kind == "order.new" and isinstance(fields.get("kind"), str):
        fields["kind"] = tr(f"service.{fields['kind']}")
        fields["description"] = fields.get("description") or tr("report.no_words")
    return fields


def hours_of(post: Post) -> str:
    hours = post.length.total_seconds() / 3600
    return str(int(hours)) if hours.is_integer() else f"{hours:.1f}"


def post_text(post: Post, tr: Translator, tz: tzinfo, now: datetime, *, show_place: bool) -> str:
    """A post as members read it; a post made from a resident's order hides the place (the
    resident's home, PIPL) until the member holds a place on it."""
    place = post.place if show_place or post.order_number is None else tr("post.place_after_claim")
    text = tr("post.card", title=post.title, when=moment_text(tr.lang, post.starts_at, tz, now), hours=hours_of(post),
              place=place, taken=post.places_taken, capacity=post.capacity, points=post.points_per_person,
              number=post.number)
    if post.template_id is not None:
        text = tr("post.theme_day") + " " + text
    if post.state == PostState.FULL:
        text += "\n" + tr("post.is_full")
    return text
