"""Volunteering notifications as the reader reads them: the payload's fields in their language and the
buttons that come with each kind (approve a registration, make a post of an order, claim, rate …).
The buttons themselves are the handlers' (bot/handlers/volunteering/), whose presses they are."""

from __future__ import annotations

from typing import Any

from aiogram.types import InlineKeyboardMarkup

from bot.callbacks import Vol
from bot.handlers.volunteering.attendance import star_buttons
from bot.handlers.volunteering.orders import order_buttons
from bot.handlers.volunteering.posts import claim_button
from bot.handlers.volunteering.registration import registration_buttons
from bot.keyboards import column
from texts import Translator


def notification_markup(kind: str, payload: dict[str, Any], tr: Translator) -> InlineKeyboardMarkup | None:
    """The buttons that come with a volunteering notification (bot/rendering/notifications.py asks)."""
    try:
        if kind == "party.registration_requested":
            return registration_buttons(int(payload["person"]), int(payload.get("community") or 0), tr)
        if kind == "order.new":
            return order_buttons(str(payload["order"]), tr)
        if kind == "post.new":
            return claim_button(str(payload["post"]), tr)
        if kind == "theme.announce":
            return column([(tr("vol.btn.see_tasks"), Vol(action="tasks"))])
        if kind == "post.to_confirm":
            return star_buttons(str(payload["post"]), int(payload["person"]), tr)
        if kind == "post.promoted":
            return column([(tr("vol.btn.my_tasks"), Vol(action="mytasks"))])
    except (KeyError, TypeError, ValueError):
        return None
    return None
