"""Staff put up a post ("社区派单"): title → start → hours → place → people → points → confirm.

Opened from a resident's order ("Make a post", the order's kind and place are offered as
defaults) or directly with /newpost. Each step takes a typed answer or a button; a wrong answer
gets a hint and the step stays. Times are read in the community's time zone.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import F
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.scene import Scene, on
from aiogram.types import CallbackQuery, Message

from bot.keyboards import message_of, roster_button, rows_of
from texts import Translator, moment_text
from core.volunteering import orders_services, posts_services
from core.cases import Actor
from core.people import Person, Roles
from core.ports import UnitOfWork
from core.volunteering.common import MAX_CAPACITY, MAX_PLACE, MAX_POINTS_PER_PERSON, MAX_SHORT_TEXT
from bot.config import Settings

MAX_HOURS = 12

_WHEN = re.compile(r"^\s*(?:(\d{4})\s*[-/.年]\s*)?(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?\s*[T ]?\s*"
                   r"(\d{1,2})\s*[:：点]\s*(\d{2})?\s*分?\s*$")


class BadInput(ValueError):
    """A typed answer the step cannot use; `key` names the hint."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key, self.params = key, params


def parse_start(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """"12-28 09:00", "2026-12-28 09:00", "12月28日 9:00", "12/28 9点" → an aware datetime in `tz`.

    Without a year: this year, or next year when that day has already passed. A moment in the
    past is refused (a post must start in the future).
    """
    found = _WHEN.match(text.strip())
    if not found:
        raise BadInput("post.bad_when")
    year, month, day, hour, minute = found.groups()
    local_today = now.astimezone(tz).date()
    try:
        y = int(year) if year else local_today.year
        day_ = date(y, int(month), int(day))
        if not year and day_ < local_today:
            day_ = date(y + 1, int(month), int(day))
        moment = datetime(day_.year, day_.month, day_.day, int(hour), int(minute or 0), tzinfo=tz)
    except ValueError:
        raise BadInput("post.bad_when") from None
    if moment <= now:
        raise BadInput("post.when_past")
    return moment


def parse_number(text: str, low: float, high: float, *, whole: bool = True) -> float:
    try:
        value = float(text.strip().replace("，", ".").replace(",", "."))
    except ValueError:
        raise BadInput("post.bad_number", low=int(low) if whole else low, high=int(high)) from None
    if not low <= value <= high or (whole and not value.is_integer()):
        raise BadInput("post.bad_number", low=int(low) if whole else low, high=int(high))
    return int(value) if whole else value


class PostStep(CallbackData, prefix="ps"):
    action: str
    value: str = ""


class PostScene(Scene, reset_data_on_enter=False, reset_history_on_enter=False):
    """One question of the dialog: typed, or picked from a few buttons."""

    field = ""
    ask_key = ""
    next_state = ""

    def choices(self, data: dict, tr: Translator) -> list[tuple[str, str]]:
        return []

    def parse(self, text: str, data: dict, now: datetime, tz: ZoneInfo) -> Any:
        raise NotImplementedError

    async def ask(self, message: Message, tr: Translator) -> None:
        data = await self.wizard.get_data()
        picks = [(label, PostStep(action="pick", value=str(i))) for i, (label, _) in enumerate(self.choices(data, tr))]
        rows = [picks[i:i + 3] for i in range(0, len(picks), 3)]
        rows.append([(tr("report.cancel"), PostStep(action="cancel"))])
        await message.answer(tr(self.ask_key), reply_markup=rows_of(rows))

    @on.message.enter()
    @on.callback_query.enter()
    async def enter(self, event: Message | CallbackQuery, tr: Translator, **_: Any) -> None:
        await self.ask(message_of(event), tr)

    async def _take(self, message: Message, text: str, tr: Translator, now: datetime, tz: ZoneInfo) -> bool:
        data = await self.wizard.get_data()
        try:
            value = self.parse(text, data, now, tz)
        except BadInput as problem:
            await message.answer(tr(problem.key, **problem.params))
            return False
        await self.wizard.update_data(**{self.field: value})
        await self.wizard.goto(self.next_state)
        return True

    @on.callback_query(PostStep.filter(F.action == "pick"))
    async def picked(self, query: CallbackQuery, callback_data: PostStep, tr: Translator, settings: Settings,
                     now) -> None:
        options = self.choices(await self.wizard.get_data(), tr)
        if not callback_data.value.isdigit() or int(callback_data.value) >= len(options):
            await query.answer(tr("error.stale_button"), show_alert=True)
            return
        await query.answer()
        await query.message.edit_reply_markup(reply_markup=None)
        await self._take(query.message, options[int(callback_data.value)][1], tr, now, settings.tz)

    @on.callback_query(PostStep.filter(F.action == "cancel"))
    async def cancel(self, query: CallbackQuery, tr: Translator) -> None:
        await query.answer()
        await self.wizard.exit()
        await query.message.edit_text(tr("post.draft_cancelled"), reply_markup=None)

    @on.message(F.text)
    async def typed(self, message: Message, tr: Translator, settings: Settings, now) -> None:
        await self._take(message, message.text, tr, now, settings.tz)

    @on.message()
    async def not_text(self, message: Message, tr: Translator) -> None:
        await message.answer(tr(self.ask_key))


def short_answer(text: str, limit: int, empty_key: str) -> str:
    """A typed answer with its whitespace collapsed; asked again (`BadInput`) when empty or past `limit`."""
    text = " ".join(text.split())
    if not text:
        raise BadInput(empty_key)
    if len(text) > limit:
        raise BadInput("report.words_too_long", max=limit)
    return text


class PostTitle(PostScene, state="post.title"):
    field, ask_key, next_state = "title", "post.ask_title", "post.when"

    @on.message.enter()
    @on.callback_query.enter()
    async def enter(self, event: Message | CallbackQuery, tr: Translator, community: int = 0, order: str = "",
                    title: str = "", place: str = "", **_: Any) -> None:
        await self.wizard.set_data({"community": community, "order": order, "default_title": title,
                                    "default_place": place})
        if order:
            await message_of(event).answer(tr("post.from_order", order=order))
        await self.ask(message_of(event), tr)

    def choices(self, data: dict, tr: Translator) -> list[tuple[str, str]]:
        title = data.get("default_title")
        return [(tr("post.use", value=title), title)] if title else []

    def parse(self, text: str, data: dict, now: datetime, tz: ZoneInfo) -> str:
        return short_answer(text, MAX_SHORT_TEXT, "post.ask_title")


class PostWhen(PostScene, state="post.when"):
    field, ask_key, next_state = "starts_at", "post.ask_when", "post.hours"

    def parse(self, text: str, data: dict, now: datetime, tz: ZoneInfo) -> str:
        return parse_start(text, now, tz).isoformat()


class PostHours(PostScene, state="post.hours"):
    field, ask_key, next_state = "hours", "post.ask_hours", "post.place"

    def choices(self, data: dict, tr: Translator) -> list[tuple[str, str]]:
        return [(str(h), str(h)) for h in (1, 2, 3, 4)]

    def parse(self, text: str, data: dict, now: datetime, tz: ZoneInfo) -> float:
        hours = parse_number(text, 0.25, MAX_HOURS, whole=False)
        return hours


class PostPlace(PostScene, state="post.place"):
    field, ask_key, next_state = "place", "post.ask_place", "post.people"

    def choices(self, data: dict, tr: Translator) -> list[tuple[str, str]]:
        place = data.get("default_place")
        return [(tr("post.use", value=place), place)] if place else []

    def parse(self, text: str, data: dict, now: datetime, tz: ZoneInfo) -> str:
        return short_answer(text, MAX_PLACE, "post.ask_place")


class PostPeople(PostScene, state="post.people"):
    field, ask_key, next_state = "capacity", "post.ask_people", "post.points"

    def choices(self, data: dict, tr: Translator) -> list[tuple[str, str]]:
        return [(str(n), str(n)) for n in (1, 2, 3, 5, 10)]

    def parse(self, text: str, data: dict, now: datetime, tz: ZoneInfo) -> int:
        return parse_number(text, 1, MAX_CAPACITY)


class PostPoints(PostScene, state="post.points"):
    field, ask_key, next_state = "points", "post.ask_points", "post.summary"

    def choices(self, data: dict, tr: Translator) -> list[tuple[str, str]]:
        return [(str(n), str(n)) for n in (5, 10, 20)]

    def parse(self, text: str, data: dict, now: datetime, tz: ZoneInfo) -> int:
        return parse_number(text, 0, MAX_POINTS_PER_PERSON)


def _hours_text(hours: float) -> str:
    return str(int(hours)) if float(hours).is_integer() else f"{hours:g}"


class PostSummary(Scene, state="post.summary", reset_data_on_enter=False, reset_history_on_enter=False):
    @on.message.enter()
    @on.callback_query.enter()
    async def enter(self, event: Message | CallbackQuery, tr: Translator, settings: Settings, now: datetime,
                    **_: Any) -> None:
        data = await self.wizard.get_data()
        starts = datetime.fromisoformat(data["starts_at"])
        text = tr("post.summary", title=data["title"], when=moment_text(tr.lang, starts, settings.tz, now),
                  hours=_hours_text(data["hours"]), place=data["place"], people=data["capacity"],
                  points=data["points"])
        if data.get("order"):
            text += "\n" + tr("post.from_order", order=data["order"])
        await message_of(event).answer(text, reply_markup=rows_of([
            [(tr("post.publish"), PostStep(action="publish"))], [(tr("report.cancel"), PostStep(action="cancel"))]]))

    @on.callback_query(PostStep.filter(F.action == "publish"))
    async def publish(self, query: CallbackQuery, tr: Translator, uow: UnitOfWork, person: Person, roles: Roles,
                      volunteer_policy, settings: Settings, now) -> None:
        data = await self.wizard.get_data()
        starts = datetime.fromisoformat(data["starts_at"])
        fields = dict(title=data["title"], starts_at=starts, ends_at=starts + timedelta(hours=float(data["hours"])),
                      place=data["place"], capacity=int(data["capacity"]), points_per_person=int(data["points"]))
        by = Actor.of(person, roles)
        if data.get("order"):
            post = await orders_services.dispatch_order(uow, volunteer_policy, by, data["order"], now, **fields)
        else:
            post = await posts_services.create_post(uow, volunteer_policy, by, int(data["community"]), now, **fields)
        await query.answer()
        await self.wizard.exit()
        await query.message.edit_reply_markup(reply_markup=None)
        # the roster stays reachable from here after the start (no-shows, confirmations)
        # in the quiet hours the members hear of it later: say when, not that they have
        held = volunteer_policy.held_until(now)
        said = (tr("post.published_later", number=post.number, title=post.title,
                   at=moment_text(tr.lang, held, settings.tz, now)) if held is not None
                else tr("post.published", number=post.number, title=post.title))
        await query.message.answer(said, reply_markup=roster_button(post.number, tr))

    @on.callback_query(PostStep.filter(F.action == "cancel"))
    async def cancel(self, query: CallbackQuery, tr: Translator) -> None:
        await query.answer()
        await self.wizard.exit()
        await query.message.edit_text(tr("post.draft_cancelled"), reply_markup=None)

    @on.message()
    async def anything_else(self, message: Message, tr: Translator) -> None:
        await message.answer(tr("report.pick_with_buttons"))


SCENES = (PostTitle, PostWhen, PostHours, PostPlace, PostPeople, PostPoints, PostSummary)
