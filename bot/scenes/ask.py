"""The resident's service order ("群众点单"): kind → a few words → preferred time → place → confirm.

One aiogram Scene per step, like the report dialog; the answers ride in the dialog's data, so
Redis keeps them across processes. Wrong input gets a hint and the step stays.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.scene import Scene, on
from aiogram.types import CallbackQuery, Message

from bot.keyboards import message_of, rows_of
from bot.voice import voice_or_say_why
from texts import Translator
from core.volunteering import orders_services
from core.cases import Actor
from core.people import Person, Role, Roles
from core.ports import UnitOfWork
from core.volunteering.common import MAX_DESCRIPTION, MAX_PLACE, MAX_SHORT_TEXT, ServiceKind
from core.volunteering.common_services import VolunteerPolicy
from core.voice import VoiceClip, duration_text
from core.voice_services import keep_with_order

WHEN_CHOICES = ("soon", "weekday", "weekend")


class AskStep(CallbackData, prefix="as"):
    action: str
    value: str = ""


def _cancel_row(tr: Translator) -> list[tuple[str, CallbackData]]:
    return [(tr("report.cancel"), AskStep(action="cancel"))]


def home_community(roles: Roles) -> int | None:
    """The community of the person's home building (a resident grant), if any."""
    return roles.home_community_id()


class AskScene(Scene, reset_data_on_enter=False, reset_history_on_enter=False):
    """What every step shares: cancel, and a hint for anything unexpected."""

    @on.callback_query(AskStep.filter(F.action == "cancel"))
    async def cancel(self, query: CallbackQuery, tr: Translator) -> None:
        await query.answer()
        await self.wizard.exit()
        await query.message.edit_text(tr("ask.cancelled"), reply_markup=None)

    @on.message()
    async def anything_else(self, message: Message, tr: Translator) -> None:
        await message.answer(tr("report.pick_with_buttons"))


class AskKind(AskScene, state="ask.kind"):
    @on.message.enter()
    async def enter(self, message: Message, tr: Translator, **_: Any) -> None:
        await self.wizard.set_data({})
        labels = [(tr(f"service.{k.value}"), AskStep(action="kind", value=k.value)) for k in ServiceKind]
        rows = [labels[i:i + 2] for i in range(0, len(labels), 2)] + [_cancel_row(tr)]
        await message.answer(tr("ask.kind"), reply_markup=rows_of(rows))

    @on.callback_query(AskStep.filter(F.action == "kind"))
    async def chosen(self, query: CallbackQuery, callback_data: AskStep, tr: Translator) -> None:
        if callback_data.value not in {k.value for k in ServiceKind}:
            await query.answer(tr("error.stale_button"), show_alert=True)
            return
        await query.answer()
        await query.message.edit_text(f"{tr('ask.kind')} {tr('service.' + callback_data.value)}", reply_markup=None)
        await self.wizard.update_data(kind=callback_data.value)
        await self.wizard.goto(AskWords)


class AskWords(AskScene, state="ask.words"):
    @on.callback_query.enter()
    async def enter(self, query: CallbackQuery, tr: Translator, **_: Any) -> None:
        other = (await self.wizard.get_data()).get("kind") == ServiceKind.OTHER.value
        rows = [_cancel_row(tr)] if other else [[(tr("report.skip"), AskStep(action="skip")), *_cancel_row(tr)]]
        await query.message.answer(tr("ask.words_required" if other else "ask.words"), reply_markup=rows_of(rows))

    @on.message(F.text)
    async def words(self, message: Message, tr: Translator) -> None:
        if len(message.text) > MAX_DESCRIPTION:
            await message.answer(tr("report.words_too_long", max=MAX_DESCRIPTION))
            return
        await self.wizard.update_data(description=message.text.strip())
        await self.wizard.goto(AskWhen)

    @on.message(F.voice)
    async def spoken(self, message: Message, bot: Bot, tr: Translator, settings) -> None:
        """The description said in a voice note: kept with the order; its words say "🎤 0:42"."""
        clip = await voice_or_say_why(message, bot, settings, tr)
        if clip is None:
            return
        await self.wizard.update_data(voice=clip.as_data(),
                                      description=tr("voice.label", duration=duration_text(clip.duration)))
        await self.wizard.goto(AskWhen)

    @on.callback_query(AskStep.filter(F.action == "skip"))
    async def skip(self, query: CallbackQuery, tr: Translator) -> None:
        if (await self.wizard.get_data()).get("kind") == ServiceKind.OTHER.value:
            await query.answer(tr("ask.words_required"), show_alert=True)
            return
        await query.answer()
        await query.message.edit_reply_markup(reply_markup=None)
        await self.wizard.update_data(description="")
        await self.wizard.goto(AskWhen)

    @on.message()
    async def not_text(self, message: Message, tr: Translator) -> None:
        await message.answer(tr("ask.words"))


class AskWhen(AskScene, state="ask.when"):
    @on.message.enter()
    @on.callback_query.enter()
    async def enter(self, event: Message | CallbackQuery, tr: Translator, **_: Any) -> None:
        rows = [[(tr(f"ask.when.{w}"), AskStep(action="when", value=w))] for w in WHEN_CHOICES]
        await message_of(event).answer(tr("ask.when"), reply_markup=rows_of(rows + [_cancel_row(tr)]))

    @on.callback_query(AskStep.filter(F.action == "when"))
    async def picked(self, query: CallbackQuery, callback_data: AskStep, tr: Translator) -> None:
        if callback_data.value not in WHEN_CHOICES:
            await query.answer(tr("error.stale_button"), show_alert=True)
            return
        await query.answer()
        words = tr(f"ask.when.{callback_data.value}")
        await query.message.edit_text(f"{tr('ask.when')} {words}", reply_markup=None)
        await self.wizard.update_data(preferred_time=words)
        await self.wizard.goto(AskPlace)

    @on.message(F.text)
    async def typed(self, message: Message, tr: Translator) -> None:
        if len(message.text) > MAX_SHORT_TEXT:
            await message.answer(tr("report.words_too_long", max=MAX_SHORT_TEXT))
            return
        await self.wizard.update_data(preferred_time=message.text.strip())
        await self.wizard.goto(AskPlace)


class AskPlace(AskScene, state="ask.place"):
    @on.message.enter()
    @on.callback_query.enter()
    async def enter(self, event: Message | CallbackQuery, tr: Translator, uow: UnitOfWork, roles: Roles,
                    **_: Any) -> None:
        rows = []
        home = roles.home_building_id()
        address = await uow.places.address(home) if home else None
        if address is not None:
            rows.append([(tr("ask.at_home", address=address.short()), AskStep(action="home"))])
        await message_of(event).answer(tr("ask.place"), reply_markup=rows_of(rows + [_cancel_row(tr)]))

    @on.callback_query(AskStep.filter(F.action == "home"))
    async def at_home(self, query: CallbackQuery, tr: Translator, uow: UnitOfWork, roles: Roles) -> None:
        home = roles.home_building_id()
        address = await uow.places.address(home) if home else None
        if address is None:
            await query.answer(tr("error.stale_button"), show_alert=True)
            return
        await query.answer()
        await query.message.edit_text(f"{tr('ask.place')} {address.short()}", reply_markup=None)
        await self.wizard.update_data(place=address.short())
        await self.wizard.goto(AskSummary)

    @on.message(F.text)
    async def typed(self, message: Message, tr: Translator) -> None:
        if len(message.text) > MAX_PLACE:
            await message.answer(tr("report.words_too_long", max=MAX_PLACE))
            return
        await self.wizard.update_data(place=message.text.strip())
        await self.wizard.goto(AskSummary)


class AskSummary(AskScene, state="ask.summary"):
    @on.message.enter()
    @on.callback_query.enter()
    async def enter(self, event: Message | CallbackQuery, tr: Translator, **_: Any) -> None:
        data = await self.wizard.get_data()
        await message_of(event).answer(
            tr("ask.summary", kind=tr(f"service.{data['kind']}"), words=data.get("description") or tr("report.no_words"),
               when=data.get("preferred_time", ""), place=data.get("place", "")),
            reply_markup=rows_of([[(tr("ask.confirm"), AskStep(action="confirm"))], _cancel_row(tr)]))

    @on.callback_query(AskStep.filter(F.action == "confirm"))
    async def confirm(self, query: CallbackQuery, tr: Translator, uow: UnitOfWork, person: Person, roles: Roles,
                      now, volunteer_policy: VolunteerPolicy | None = None) -> None:
        data = await self.wizard.get_data()
        community = home_community(roles)
        order = await orders_services.order_service(uow, Actor.of(person, roles), community or 0,
                                                    ServiceKind(data["kind"]),
                                                    data.get("description", ""), data.get("preferred_time", ""),
                                                    data.get("place", ""), now,
                                                    limits=volunteer_policy.limits if volunteer_policy else None)
        if data.get("voice") and order.id is not None:
            await keep_with_order(uow, Actor.of(person, roles).person_id, order,
                                  VoiceClip.from_data(data["voice"]), now)
        await query.answer()
        await self.wizard.exit()
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(tr("ask.submitted", number=order.number))


SCENES = (AskKind, AskWords, AskWhen, AskPlace, AskSummary)


async def start_ask(message: Message, scenes, roles: Roles, tr: Translator) -> None:
    """/ask: residents order a service; others are told who it is for."""
    if home_community(roles) is None:
        await message.answer(tr("ask.residents_only"))
        return
    await scenes.enter(AskKind)
