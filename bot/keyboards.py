"""Keyboards: big, few buttons, one per row where the label is long (many users are elderly)."""

from __future__ import annotations

from typing import Callable, Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, Message, ReplyKeyboardMarkup,
)

from bot.callbacks import PickPage, Vol
from texts import Translator


def button(label: str, data: CallbackData | str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=label, callback_data=data.pack() if isinstance(data, CallbackData) else data)


def message_of(event: Message | CallbackQuery) -> Message:
    """The message a step answers: the one sent, or the one whose button was pressed."""
    return event.message if isinstance(event, CallbackQuery) else event  # type: ignore[return-value]


def rows_of(rows: Sequence[Sequence[tuple[str, CallbackData]]]) -> InlineKeyboardMarkup:
    """An inline keyboard from rows of (label, callback data)."""
    return InlineKeyboardMarkup(inline_keyboard=[[button(label, data) for label, data in row] for row in rows])


def paged(items: Sequence[tuple[str, CallbackData]], *, page: int, page_size: int, level: str, parent: int,
          tr: Translator, back: CallbackData | None = None, columns: int = 2,
          turn: Callable[[int], CallbackData] | None = None) -> InlineKeyboardMarkup:
    """A page of choices with ◀ ▶ when they do not fit, and ↩ back to the level above.

    ◀ ▶ carry `PickPage(level, parent, page)`, or `turn(page)` when given (a case's own paging)."""
    turn = turn or (lambda to: PickPage(level=level, parent=parent, page=to))
    pages = max(1, -(-len(items) // page_size))
    page = min(max(page, 0), pages - 1)
    chunk = items[page * page_size:(page + 1) * page_size]
    rows = [[button(label, data) for label, data in chunk[i:i + columns]] for i in range(0, len(chunk), columns)]
    nav = []
    if page > 0:
        nav.append(button(tr("nav.prev"), turn(page - 1)))
    if page < pages - 1:
        nav.append(button(tr("nav.next"), turn(page + 1)))
    if nav:
        rows.append(nav)
    if back is not None:
        rows.append([button(tr("nav.back"), back)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def location_request(tr: Translator) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=tr("onboard.send_location"), request_location=True)]],
        resize_keyboard=True, one_time_keyboard=True,
    )


def star_label(rating: int) -> str:
    """"⭐⭐⭐⭐ 4": the digit reads even where a machine has no emoji font and the stars are boxes."""
    return f"{'⭐' * rating} {rating}"


def star_rows(data_of) -> InlineKeyboardMarkup:
    """One to five stars on two rows (big buttons); `data_of(r)` is the callback data of rating r."""
    return InlineKeyboardMarkup(inline_keyboard=[[button(star_label(r), data_of(r)) for r in (1, 2, 3)],
                                                 [button(star_label(r), data_of(r)) for r in (4, 5)]])


def column(buttons: Sequence[tuple[str, CallbackData]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[button(label, data)] for label, data in buttons])


def roster_button(number: str, tr: Translator) -> InlineKeyboardMarkup:
    return column([(tr("vol.btn.roster"), Vol(action="roster", ref=number))])
