"""Staff add a theme-day activity (主题党日, the 28th): title → kind → place → people → points →
hours → the after-work start on a working day → confirm.

Opened from ➕ under /themes. Each step takes a typed answer or a button; a wrong answer gets a
hint and the step stays. On a rest day or a holiday the activity starts at 09:00 (the template's
default); on a working day it starts after work at the time picked here, or — "daylight only" — it
is not held in months whose 28th is a working day. Should core still refuse the activity (BadPost),
the dialog goes back to the step concerned with a hint.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from aiogram import F
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.scene import Scene, on
from aiogram.types import CallbackQuery, Message

from bot.callbacks import Theme
from bot.keyboards import message_of, rows_of
from texts.refusals import refusal_text
from bot.scenes.post import BadInput, parse_number, short_answer
from texts import Translator
from core import theme_day_services
from core.cases import Actor
from core.errors import DomainError
from core.people import Person, Roles
from core.ports import UnitOfWork
from core.theme_day import ThemeActivity, theme_day_for
from core.volunteering.common import BadPost, MAX_CAPACITY, MAX_PLACE, MAX_POINTS_PER_PERSON, MAX_SHORT_TEXT
from bot.config import Settings

MAX_HOURS = 12
DAYLIGHT_ONLY = "none"
REST_DAY_STARTS = time(9, 0)   # core's default; the dialog does not ask
_TIME = re.compile(r"^\s*(\d{1,2})\s*[:：点.]\s*(\d{2})?\s*分?\s*$")

# the step that asks again when core refuses the activity (BadPost's `why`)
STEP_OF_WHY = {"title": "theme.title", "place": "theme.place", "capacity": "theme.capacity",
               "points": "theme.points", "times": "theme.hours"}


class ThemeStep(CallbackData, prefix="tt"):
    action: str
    value: str = ""


def hours_text(hours: float) -> str:
    return f"{float(hours):g}"


def theme_card(tr: Translator, *, title: str, activity: str, place: str, capacity: int, points: int, hours: float,
               workday_starts: str | None, rest_day_starts: str) -> str:
    """A theme-day activity as staff read it, in /themes and in the dialog's summary."""
    return tr("theme.card", title=title, activity=tr(f"theme.activity.{activity}"), place=place, capacity=capacity,
              points=points, hours=hours_text(hours), workday=workday_starts or tr("theme.daylight_only"),
              rest_day=rest_day_starts)


def parse_time(text: str) -> str:
    """"19:00", "19：30", "19点" → "19:00"; the daylight-only choice passes as it is."""
    if text == DAYLIGHT_ONLY:
        return text
    found = _TIME.match(text)
    if found:
        try:
            return time(int(found.group(1)), int(found.group(2) or 0)).strftime("%H:%M")
        except ValueError:
            pass
    raise BadInput("theme.bad_time")


class ThemeScene(Scene, reset_data_on_enter=False, reset_history_on_enter=False):
    """One question of the dialog: typed, or picked from a few buttons."""

    field = ""
    ask_key = ""
    next_state = ""
    columns = 3

    def choices(self, data: dict, tr: Translator) -> list[tuple[str, str]]:
        return []

    def parse(self, text: str, data: dict, tr: Translator) -> Any:
        raise NotImplementedError

    async def ask(self, message: Message, tr: Translator) -> None:
        data = await self.wizard.get_data()
        picks = [(label, ThemeStep(action="pick", value=str(i)))
                 for i, (label, _) in enumerate(self.choices(data, tr))]
        rows = [picks[i:i + self.columns] for i in range(0, len(picks), self.columns)]
        rows.append([(tr("report.cancel"), ThemeStep(action="cancel"))])
        await message.answer(tr(self.ask_key), reply_markup=rows_of(rows))

    @on.message.enter()
    @on.callback_query.enter()
    async def enter(self, event: Message | CallbackQuery, tr: Translator, **_: Any) -> None:
        await self.ask(message_of(event), tr)

    async def _take(self, message: Message, text: str, tr: Translator) -> None:
        try:
            value = self.parse(text, await self.wizard.get_data(), tr)
        except BadInput as problem:
            await message.answer(tr(problem.key, **problem.params))
            return
        await self.wizard.update_data(**{self.field: value})
        await self.wizard.goto(self.next_state)

    @on.callback_query(ThemeStep.filter(F.action == "pick"))
    async def picked(self, query: CallbackQuery, callback_data: ThemeStep, tr: Translator) -> None:
        options = self.choices(await self.wizard.get_data(), tr)
        if not callback_data.value.isdigit() or int(callback_data.value) >= len(options):
            await query.answer(tr("error.stale_button"), show_alert=True)
            return
        await query.answer()
        await query.message.edit_reply_markup(reply_markup=None)
        await self._take(query.message, options[int(callback_data.value)][1], tr)

    @on.callback_query(ThemeStep.filter(F.action == "cancel"))
    async def cancel(self, query: CallbackQuery, tr: Translator) -> None:
        await query.answer()
        await self.wizard.exit()
        await query.message.edit_text(tr("theme.draft_cancelled"), reply_markup=None)

    @on.message(F.text)
    async def typed(self, message: Message, tr: Translator) -> None:
        await self._take(message, message.text, tr)

    @on.message()
    async def not_text(self, message: Message, tr: Translator) -> None:
        await message.answer(tr(self.ask_key))


class ThemeTitle(ThemeScene, state="theme.title"):
    field, ask_key, next_state = "title", "theme.ask_title", "theme.activity"

    @on.message.enter()
    @on.callback_query.enter()
    async def enter(self, event: Message | CallbackQuery, tr: Translator, community: int = 0, **_: Any) -> None:
        if community:  # a fresh start from ➕; a BadPost coming back here keeps the draft
            await self.wizard.set_data({"community": community})
        await self.ask(message_of(event), tr)

    def parse(self, text: str, data: dict, tr: Translator) -> str:
        return short_answer(text, MAX_SHORT_TEXT, "theme.ask_title")


class ThemeKind(ThemeScene, state="theme.activity"):
    field, ask_key, next_state, columns = "activity", "theme.ask_activity", "theme.place", 2

    def choices(self, data: dict, tr: Translator) -> list[tuple[str, str]]:
        return [(tr(f"theme.activity.{a.value}"), a.value) for a in ThemeActivity]

    def parse(self, text: str, data: dict, tr: Translator) -> str:
        for label, value in self.choices(data, tr):
            if text.strip() in (label, value):
                return value
        raise BadInput("theme.ask_activity")


class ThemePlace(ThemeScene, state="theme.place"):
    field, ask_key, next_state = "place", "theme.ask_place", "theme.capacity"

    def parse(self, text: str, data: dict, tr: Translator) -> str:
        return short_answer(text, MAX_PLACE, "theme.ask_place")


class ThemeCapacity(ThemeScene, state="theme.capacity"):
    field, ask_key, next_state = "capacity", "theme.ask_capacity", "theme.points"

    def choices(self, data: dict, tr: Translator) -> list[tuple[str, str]]:
        return [(str(n), str(n)) for n in (5, 10, 20)]

    def parse(self, text: str, data: dict, tr: Translator) -> int:
        return parse_number(text, 1, MAX_CAPACITY)


class ThemePoints(ThemeScene, state="theme.points"):
    field, ask_key, next_state = "points", "theme.ask_points", "theme.hours"

    def choices(self, data: dict, tr: Translator) -> list[tuple[str, str]]:
        return [(str(n), str(n)) for n in (5, 10, 20)]

    def parse(self, text: str, data: dict, tr: Translator) -> int:
        return parse_number(text, 0, MAX_POINTS_PER_PERSON)


class ThemeHours(ThemeScene, state="theme.hours"):
    field, ask_key, next_state = "hours", "theme.ask_hours", "theme.workday"

    def choices(self, data: dict, tr: Translator) -> list[tuple[str, str]]:
        return [(str(h), str(h)) for h in (1, 2, 3)]

    def parse(self, text: str, data: dict, tr: Translator) -> float:
        return parse_number(text, 0.25, MAX_HOURS, whole=False)


class ThemeWorkday(ThemeScene, state="theme.workday"):
    field, ask_key, next_state, columns = "workday_starts", "theme.ask_workday", "theme.summary", 2

    def choices(self, data: dict, tr: Translator) -> list[tuple[str, str]]:
        return [("18:30", "18:30"), ("19:00", "19:00"), (tr("theme.btn.daylight_only"), DAYLIGHT_ONLY)]

    def parse(self, text: str, data: dict, tr: Translator) -> str:
        return parse_time(text)


def _draft(data: dict) -> dict[str, Any]:
    """The dialog's answers as core.theme_day.define_template takes them."""
    workday = data["workday_starts"]
    return dict(title=data["title"], activity=ThemeActivity(data["activity"]), place=data["place"],
                capacity=int(data["capacity"]), points_per_person=int(data["points"]),
                duration=timedelta(hours=float(data["hours"])), rest_day_starts=REST_DAY_STARTS,
                workday_starts=None if workday == DAYLIGHT_ONLY else time.fromisoformat(workday))


class ThemeSummary(Scene, state="theme.summary", reset_data_on_enter=False, reset_history_on_enter=False):
    @on.message.enter()
    @on.callback_query.enter()
    async def enter(self, event: Message | CallbackQuery, tr: Translator, uow: UnitOfWork, **_: Any) -> None:
        data = await self.wizard.get_data()
        community = await uow.places.community(int(data["community"]))
        workday = data["workday_starts"]
        card = theme_card(tr, title=data["title"], activity=data["activity"], place=data["place"],
                          capacity=data["capacity"], points=data["points"], hours=data["hours"],
                          workday_starts=None if workday == DAYLIGHT_ONLY else workday,
                          rest_day_starts=REST_DAY_STARTS.strftime("%H:%M"))
        await message_of(event).answer(
            tr("theme.summary", community=community.name if community else "", card=card),
            reply_markup=rows_of([[(tr("theme.save"), ThemeStep(action="save"))],
                                  [(tr("report.cancel"), ThemeStep(action="cancel"))]]))

    @on.callback_query(ThemeStep.filter(F.action == "save"))
    async def save(self, query: CallbackQuery, tr: Translator, uow: UnitOfWork, person: Person, roles: Roles,
                   volunteer_policy, settings: Settings, now: datetime) -> None:
        data = await self.wizard.get_data()
        community = int(data["community"])
        await query.answer()
        await query.message.edit_reply_markup(reply_markup=None)
        try:
            template = await theme_day_services.define_template(uow, Actor.of(person, roles), community, now,
                                                                policy=volunteer_policy, **_draft(data))
        except BadPost as problem:  # the step concerned asks again
            await uow.rollback()
            why = str(problem.params.get("why", ""))
            if why in STEP_OF_WHY:
                await query.message.answer(tr(f"theme.bad.{why}", **problem.params))
                await self.wizard.goto(STEP_OF_WHY[why])
                return
            await self._refused(query.message, tr, problem)
            return
        except DomainError as problem:  # no longer staff of the community, the community gone …
            await uow.rollback()
            await self._refused(query.message, tr, problem)
            return
        await self.wizard.exit()
        text = tr("theme.saved", title=template.title)
        local = now.astimezone(settings.tz)
        day: date = theme_day_for(local.year, local.month)
        made = [p for p in await uow.volunteering.theme_posts(community, day) if p.template_id == template.id]
        if made:
            text += "\n" + tr("theme.saved_post", number=made[0].number, month=day.month, day=day.day)
        await query.message.answer(text, reply_markup=rows_of(
            [[(tr("theme.btn.list"), Theme(action="list", ref=community))]]))

    async def _refused(self, message: Message, tr: Translator, problem: DomainError) -> None:
        await self.wizard.exit()
        await message.answer(refusal_text(tr, problem))

    @on.callback_query(ThemeStep.filter(F.action == "cancel"))
    async def cancel(self, query: CallbackQuery, tr: Translator) -> None:
        await query.answer()
        await self.wizard.exit()
        await query.message.edit_text(tr("theme.draft_cancelled"), reply_markup=None)

    @on.message()
    async def anything_else(self, message: Message, tr: Translator) -> None:
        await message.answer(tr("report.pick_with_buttons"))


SCENES = (ThemeTitle, ThemeKind, ThemePlace, ThemeCapacity, ThemePoints, ThemeHours, ThemeWorkday, ThemeSummary)
