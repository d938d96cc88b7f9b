"""The short dialogs of volunteering: registering as a party member ("双报到"), checking in and
out of a post with a photo, a reason for saying no, and recording a points-shop redemption.

A refusal from core ends the dialog with the polite text (the person starts again from the
list); a wrong kind of input (text where a photo is expected, a PDF) gets a hint and the step
stays.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.scene import Scene, on
from aiogram.types import CallbackQuery, KeyboardButton, Message, ReplyKeyboardMarkup, \
    ReplyKeyboardRemove

from bot.callbacks import Vol
from bot.keyboards import rows_of
from texts.refusals import refusal_text
from bot.photos import photo_or_say_why
from bot.config import Settings
from texts import Translator
from core import points_services
from core.volunteering import attendance_services, orders_services, registration_services
from core.cases import Actor, PhotoKind
from core.errors import DomainError
from core.people import Person, Role, Roles
from core.points import AlreadyCredited
from core.ports import UnitOfWork
from core.volunteering.common import MAX_DESCRIPTION, MAX_SHORT_TEXT, PhotoReused

MAX_REDEEM_MATCHES = 8


class VolStep(CallbackData, prefix="vs"):
    action: str
    value: str = ""


def refusal(tr: Translator, problem: DomainError, data: dict | None = None) -> str:
    """`data` (the update's) lets a moment in the refusal read in the person's time zone."""
    data = data or {}
    return refusal_text(tr, problem, getattr(data.get("settings"), "tz", None), data.get("now"))


class VolScene(Scene, reset_data_on_enter=True, reset_history_on_enter=False):
    """Cancel by button, and end the dialog politely when core says no."""

    @on.callback_query(VolStep.filter(F.action == "cancel"))
    async def cancel(self, query: CallbackQuery, tr: Translator) -> None:
        await query.answer()
        await self.wizard.exit()
        await query.message.edit_text(tr("cancel.done"), reply_markup=None)

    async def refused(self, message: Message, uow: UnitOfWork, tr: Translator, problem: DomainError) -> None:
        await uow.rollback()
        await self.wizard.exit()
        await message.answer(refusal(tr, problem, self.wizard.data), reply_markup=ReplyKeyboardRemove())


def _cancel(tr: Translator) -> list[tuple[str, CallbackData]]:
    return [(tr("report.cancel"), VolStep(action="cancel"))]


# ---- "双报到": a party member registers with their home community -------------------------------

class JoinParty(VolScene, state="party.join"):
    @on.message.enter()
    async def enter(self, message: Message, tr: Translator, uow: UnitOfWork, community: int = 0, **_: Any) -> None:
        if community:
            await self.wizard.update_data(community=community)
            place = await uow.places.community(community)
            await message.answer(tr("party.ask_work_unit", community=place.name if place else ""),
                                 reply_markup=rows_of([_cancel(tr)]))
            return
        rows = [[(c.name, VolStep(action="community", value=str(c.id)))] for c in await uow.places.communities()]
        await message.answer(tr("party.pick_community"), reply_markup=rows_of(rows + [_cancel(tr)]))

    @on.callback_query(VolStep.filter(F.action == "community"))
    async def community(self, query: CallbackQuery, callback_data: VolStep, tr: Translator, uow: UnitOfWork) -> None:
        place = await uow.places.community(int(callback_data.value)) if callback_data.value.isdigit() else None
        if place is None:
            await query.answer(tr("error.stale_button"), show_alert=True)
            return
        await query.answer()
        await query.message.edit_text(f"{tr('party.pick_community')} {place.name}", reply_markup=None)
        await self.wizard.update_data(community=place.id)
        await query.message.answer(tr("party.ask_work_unit", community=place.name), reply_markup=rows_of([_cancel(tr)]))

    @on.message(F.text)
    async def work_unit(self, message: Message, tr: Translator, uow: UnitOfWork, person: Person, now) -> None:
        community = (await self.wizard.get_data()).get("community")
        if not community:
            await message.answer(tr("report.pick_with_buttons"))
            return
        if len(message.text) > MAX_SHORT_TEXT:
            await message.answer(tr("report.words_too_long", max=MAX_SHORT_TEXT))
            return
        try:
            await registration_services.ask_to_register(uow, person.id, int(community), message.text, now)
        except DomainError as problem:
            await self.refused(message, uow, tr, problem)
            return
        await self.wizard.exit()
        place = await uow.places.community(int(community))
        await message.answer(tr("party.requested", community=place.name if place else ""))

    @on.message()
    async def not_text(self, message: Message, tr: Translator) -> None:
        await message.answer(tr("party.work_unit_required"))


# ---- on the day: check in and out with a photo --------------------------------------------------

def _location_keyboard(tr: Translator) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text=tr("duty.send_location"), request_location=True)]],
                               resize_keyboard=True, one_time_keyboard=True)


class CheckIn(VolScene, state="duty.check_in"):
    @on.callback_query.enter()
    async def enter(self, query: CallbackQuery, tr: Translator, post: str = "", **_: Any) -> None:
        await self.wizard.update_data(post=post)
        await query.message.answer(tr("duty.ask_check_in_photo", post=post), reply_markup=_location_keyboard(tr))

    @on.message(F.location)
    async def location(self, message: Message, tr: Translator) -> None:
        await self.wizard.update_data(lat=message.location.latitude, lon=message.location.longitude)
        await message.answer(tr("duty.location_saved"), reply_markup=ReplyKeyboardRemove())

    @on.message(F.photo | F.document)
    async def photo(self, message: Message, bot: Bot, uow: UnitOfWork, person: Person, roles: Roles,
                    tr: Translator, photos, settings: Settings, now) -> None:
        photo = await photo_or_say_why(message, bot, photos, PhotoKind.DURING, tr)
        if photo is None:
            return
        data = await self.wizard.get_data()
        try:
            claim_ = await attendance_services.check_in(uow, Actor.of(person, roles), data["post"], photo, now,
                                                        lat=data.get("lat"), lon=data.get("lon"),
                                                        radius_m=settings.proof_radius_m)
        except DomainError as problem:
            await self.refused(message, uow, tr, problem)
            return
        await self.wizard.exit()
        said = tr("duty.checked_in", post=data["post"])
        if claim_.check_in_on_site is False and claim_.check_in_distance_m is not None:  # core.proof: flagged
            said = f"{said}\n{tr('duty.check_in_far', metres=round(claim_.check_in_distance_m))}"
        await message.answer(said, reply_markup=rows_of(
            [[(tr("vol.btn.check_out"), Vol(action="checkout", ref=data["post"]))]]))

    @on.message()
    async def not_a_photo(self, message: Message, tr: Translator) -> None:
        await message.answer(tr("duty.photo_expected"))


class CheckOut(VolScene, state="duty.check_out"):
    @on.callback_query.enter()
    async def enter(self, query: CallbackQuery, tr: Translator, post: str = "", **_: Any) -> None:
        await self.wizard.update_data(post=post)
        await query.message.answer(tr("duty.ask_check_out_photo", post=post), reply_markup=rows_of([_cancel(tr)]))

    @on.message(F.photo | F.document)
    async def photo(self, message: Message, bot: Bot, uow: UnitOfWork, person: Person, roles: Roles,
                    tr: Translator, photos, now) -> None:
        photo = await photo_or_say_why(message, bot, photos, PhotoKind.AFTER, tr)
        if photo is None:
            return
        post = (await self.wizard.get_data())["post"]
        try:
            claim = await attendance_services.check_out(uow, Actor.of(person, roles), post, photo, now)
        except PhotoReused as problem:  # the check-in photo again: ask for another, stay in the step
            await uow.rollback()
            await message.answer(refusal(tr, problem, self.wizard.data), reply_markup=rows_of([_cancel(tr)]))
            return
        except DomainError as problem:
            await self.refused(message, uow, tr, problem)
            return
        await self.wizard.exit()
        served = (claim.checked_out_at - claim.checked_in_at) if claim.checked_in_at and claim.checked_out_at else None
        hours = f"{served.total_seconds() / 3600:.1f}" if served is not None else "—"
        await message.answer(tr("duty.checked_out", post=post, hours=hours))

    @on.message()
    async def not_a_photo(self, message: Message, tr: Translator) -> None:
        await message.answer(tr("duty.photo_expected"))


# ---- staff say no, with a reason ------------------------------------------------------------------

class Reason(VolScene, state="vol.reason"):
    """The reason for declining an order (required) or a registration (may be skipped)."""

    @on.callback_query.enter()
    async def enter(self, query: CallbackQuery, tr: Translator, what: str = "", ref: str = "", person_id: int = 0,
                    community: int = 0, **_: Any) -> None:
        # not `person`: that name is the handler data's acting Person, which an order's decline
        # (no person to name) got here, and which no dialog storage but memory can keep
        await self.wizard.update_data(what=what, ref=ref, person=person_id, community=community)
        rows = [_cancel(tr)] if what == "order" else [[(tr("report.skip"), VolStep(action="skip")), *_cancel(tr)]]
        await query.message.answer(tr(f"vol.ask_reason.{what}", ref=ref), reply_markup=rows_of(rows))

    async def _decide(self, message: Message, reason: str, uow: UnitOfWork, person: Person, roles: Roles,
                      tr: Translator, now) -> None:
        data = await self.wizard.get_data()
        by = Actor.of(person, roles)
        try:
            if data["what"] == "order":
                await orders_services.decline_order(uow, by, data["ref"], reason, now)
                done = tr("order.declined_done", order=data["ref"])
            else:
                await registration_services.decline_registration(uow, by, int(data["person"]), int(data["community"]),
                                                                 reason, now)
                who = await uow.people.get(int(data["person"]))
                done = tr("party.declined_done", name=who.display_name if who else "")
        except DomainError as problem:
            await self.refused(message, uow, tr, problem)
            return
        await self.wizard.exit()
        await message.answer(done)

    @on.message(F.text)
    async def typed(self, message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator,
                    now) -> None:
        if len(message.text) > MAX_DESCRIPTION:
            await message.answer(tr("report.words_too_long", max=MAX_DESCRIPTION))
            return
        await self._decide(message, message.text, uow, person, roles, tr, now)

    @on.callback_query(VolStep.filter(F.action == "skip"))
    async def skip(self, query: CallbackQuery, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator,
                   now) -> None:
        if (await self.wizard.get_data()).get("what") == "order":
            await query.answer(tr("volunteer.reason_required"), show_alert=True)
            return
        await query.answer()
        await query.message.edit_reply_markup(reply_markup=None)
        await self._decide(query.message, "", uow, person, roles, tr, now)

    @on.message()
    async def not_text(self, message: Message, tr: Translator) -> None:
        await message.answer(tr("volunteer.reason_required"))


# ---- the points shop: staff record what a person bought -------------------------------------------

class Redeem(VolScene, state="points.redeem"):
    """/redeem: whose points (a name, then a button), how many, for what.

    The dialog names its redemption when it starts (the /redeem message: chat and message id)
    and passes that `ref` to core, so if its last step is taken twice — the dialog outlived
    the redemption after a restart, or a second bot process took the words sent again — the
    points are spent once and the staff member is told it was already recorded.
    """

    @on.message.enter()
    async def enter(self, message: Message, tr: Translator, community: int = 0, **_: Any) -> None:
        await self.wizard.update_data(community=community, step="who",
                                      ref=f"redeem:{message.chat.id}:{message.message_id}")
        await message.answer(tr("redeem.ask_who"), reply_markup=rows_of([_cancel(tr)]))

    @on.message(F.text)
    async def typed(self, message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator,
                    now) -> None:
        data = await self.wizard.get_data()
        community, words = int(data["community"]), message.text.strip()
        if data.get("step") == "who":
            found = await people_named(uow, community, words)
            if not found:
                await message.answer(tr("redeem.nobody", name=words))
                return
            rows = []
            for p in found[:MAX_REDEEM_MATCHES]:
                balance = await points_services.points_balance(uow, p.id, community)
                rows.append([(tr("redeem.pick", name=p.display_name, balance=balance),
                              VolStep(action="who", value=str(p.id)))])
            await message.answer(tr("redeem.pick_who"), reply_markup=rows_of(rows + [_cancel(tr)]))
        elif data.get("step") == "points":
            if not words.isdigit() or int(words) < 1:
                await message.answer(tr("points.bad_amount"))
                return
            await self.wizard.update_data(points=int(words), step="item")
            await message.answer(tr("redeem.ask_item"))
        elif data.get("step") == "item":
            try:
                entry = await points_services.redeem(uow, Actor.of(person, roles), int(data["person"]), community,
                                                     int(data["points"]), words, now, ref=data.get("ref"))
            except AlreadyCredited:
                await uow.rollback()
                await self.wizard.exit()
                balance = await points_services.points_balance(uow, int(data["person"]), community)
                await message.answer(tr("redeem.already_done", name=data.get("name", ""), balance=balance))
                return
            except DomainError as problem:
                await self.refused(message, uow, tr, problem)
                return
            await self.wizard.exit()
            balance = await points_services.points_balance(uow, int(data["person"]), community)
            await message.answer(tr("redeem.done", name=data.get("name", ""), points=-entry.delta, item=words,
                                    balance=balance))
        else:
            await message.answer(tr("report.pick_with_buttons"))

    @on.callback_query(VolStep.filter(F.action == "who"))
    async def who(self, query: CallbackQuery, callback_data: VolStep, uow: UnitOfWork, tr: Translator) -> None:
        data = await self.wizard.get_data()
        candidate = await uow.people.get(int(callback_data.value)) if callback_data.value.isdigit() else None
        if candidate is None or data.get("step") != "who":
            await query.answer(tr("error.stale_button"), show_alert=True)
            return
        balance = await points_services.points_balance(uow, candidate.id, int(data["community"]))
        await query.answer()
        await query.message.edit_reply_markup(reply_markup=None)
        await self.wizard.update_data(person=candidate.id, name=candidate.display_name, step="points")
        await query.message.answer(tr("redeem.ask_points", name=candidate.display_name, balance=balance))

    @on.message()
    async def not_text(self, message: Message, tr: Translator) -> None:
        await message.answer(tr("report.pick_with_buttons"))


async def people_named(uow: UnitOfWork, community_id: int, words: str) -> list[Person]:
    """Residents and party members of the community whose name contains `words`."""
    found: dict[int, Person] = {}
    for role in (Role.PARTY_MEMBER, Role.RESIDENT):
        for p in await uow.people.with_role(role, community_id):
            if words and words.lower() in p.display_name.lower():
                found.setdefault(p.id, p)
    return sorted(found.values(), key=lambda p: p.display_name)


SCENES = (JoinParty, CheckIn, CheckOut, Reason, Redeem)
