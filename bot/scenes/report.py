"""The report dialog ("随手拍"): photos → category → place → a few words → summary and confirm.

One aiogram Scene per step; the dialog's data (photo hashes, category, building) lives in the
FSM storage, so Redis keeps it across processes. Wrong input gets a hint and the step stays.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, F
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.scene import Scene, on
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove

from bot.keyboards import location_request, rows_of
from bot.photos import photo_data, photo_from_data, photo_or_say_why
from bot.voice import voice_or_say_why
from texts import Translator, moment_text
from core.cases import MAX_DESCRIPTION, MAX_PHOTOS_PER_KIND, Actor, Category, PhotoKind
from core.errors import DomainError
from core.people import Person, Role, Roles
from core.places import nearest_buildings
from core.ports import UnitOfWork
from core.cases_services import ReportPolicy, join_same_problem, report_problem, similar_cases
from core.limits_services import may_report
from core.voice import VoiceClip, VoicePurpose, duration_text
from core.voice_services import keep_with_case
from bot.config import Settings

log = logging.getLogger(__name__)


class Step(CallbackData, prefix="rp"):
    """A button inside the report dialog: the action and its value."""

    action: str
    value: str = ""


async def ask(event: Message | CallbackQuery, text: str, markup=None, answered: str | None = None) -> None:
    """Put the next question in the chat. After a button, the message with that button becomes the
    question (what was answered stays on top of it): one Bot API call instead of removing the old
    buttons and sending a new message, and the dialog reads as one card."""
    if isinstance(event, CallbackQuery):
        await event.message.edit_text(f"{answered}\n\n{text}" if answered else text, reply_markup=markup)
    else:
        await event.answer(text, reply_markup=markup)


class ReportStep(Scene, reset_data_on_enter=False, reset_history_on_enter=False):
    """What every step shares: cancel, and a hint for anything unexpected."""

    async def answered(self) -> str | None:
        """What the previous step's button said, to keep above the next question (then forgotten)."""
        data = await self.wizard.get_data()
        said = data.get("answered")
        if said:
            await self.wizard.update_data(answered=None)
        return said

    @on.callback_query(Step.filter(F.action == "cancel"))
    async def cancel(self, query: CallbackQuery, tr: Translator) -> None:
        await query.answer()
        keyboard_shown = (await self.wizard.get_data()).get("location_keyboard")
        await self.wizard.exit()
        if keyboard_shown:  # the location keyboard goes only with a new message
            await query.message.edit_reply_markup(reply_markup=None)
            await query.message.answer(tr("report.cancelled"), reply_markup=ReplyKeyboardRemove())
        else:
            await query.message.edit_text(tr("report.cancelled"), reply_markup=None)


class ReportPhotos(ReportStep, state="report.photos"):
    """Photos, one by one or as an album (one message per photo, sharing a media_group_id, all at
    once): one count message, edited as the album comes in. A caption is the resident's words."""

    @on.message.enter()
    async def enter(self, message: Message, bot: Bot, tr: Translator, settings: Settings, photos,
                    roles: Roles, door_building: int | None = None, door_compound: int | None = None,
                    **_: Any) -> None:
        data = await self.wizard.get_data()
        album = message.media_group_id
        # A photo of the album being collected never starts over: with several processes an album's
        # photo may still have read "no dialog" while another process was storing its first photo.
        if not (album and data.get("album") == album and data.get("photos")):
            fresh: dict[str, Any] = {"photos": []}
            if door_building is not None:  # a scanned door card (bot/handlers/doors.py): the place is known
                fresh.update(building_id=door_building, door_placed=True)
            elif door_compound is not None:  # a compound's gate or garage: the place step lists its buildings
                fresh["door_compound"] = door_compound
            await self.wizard.set_data(fresh)
        if message.photo or message.document:
            await self.photo(message, bot, tr, settings, photos)
        else:
            await message.answer(tr("report.ask_photos"))

    @on.callback_query.enter()
    async def enter_by_button(self, query: CallbackQuery, tr: Translator, **_: Any) -> None:
        await query.answer()
        await self.wizard.set_data({"photos": []})
        await query.message.answer(tr("report.ask_photos"))

    @on.message(F.photo | F.document)
    async def photo(self, message: Message, bot: Bot, tr: Translator, settings: Settings, photos) -> None:
        await self.take_caption(message)
        data = await self.wizard.get_data()
        stored: list[dict] = data.get("photos", [])
        album = message.media_group_id
        if len(stored) >= MAX_PHOTOS_PER_KIND:
            if album is None or data.get("told_too_many") != album:  # once per album
                await message.answer(tr("report.too_many_photos", max=MAX_PHOTOS_PER_KIND))
                await self.wizard.update_data(told_too_many=album)
            return
        photo = await photo_or_say_why(message, bot, photos, PhotoKind.BEFORE, tr)
        if photo is None:
            return
        before = len(stored)
        if photo.sha256 not in {p["sha256"] for p in stored}:
            stored.append(photo_data(photo))
        await self.wizard.update_data(photos=stored)
        if len(stored) >= MAX_PHOTOS_PER_KIND:
            text = tr("report.photos_full", count=len(stored), max=MAX_PHOTOS_PER_KIND)
        else:
            text = tr("report.photos_received", count=len(stored))
        markup = rows_of([[(tr("report.next"), Step(action="next")), (tr("report.cancel"), Step(action="cancel"))]])
        prompt = data.get("prompt")
        if prompt and album and data.get("album") == album:  # the album's count message
            if len(stored) != before:  # an unchanged edit fails ("message is not modified")
                await bot.edit_message_text(text, chat_id=message.chat.id, message_id=prompt, reply_markup=markup)
        else:
            sent = await message.answer(text, reply_markup=markup)
            await self.wizard.update_data(prompt=sent.message_id, album=album)

    async def take_caption(self, message: Message) -> None:
        """A caption is the resident's words: the description, so the words step is skipped. Several
        captions in one album are kept together; too long, and the words step says so and asks."""
        caption = (message.caption or "").strip()
        if not caption:
            return
        data = await self.wizard.get_data()
        earlier = data.get("description") if data.get("words_from_caption") else ""
        words = f"{earlier}\n{caption}" if earlier and caption not in earlier else (earlier or caption)
        if len(words) > MAX_DESCRIPTION:
            await self.wizard.update_data(caption_too_long=True)
        else:
            await self.wizard.update_data(description=words, words_from_caption=True, caption_too_long=False)

    @on.message(F.voice)
    async def voice_too_early(self, message: Message, tr: Translator) -> None:
        await message.answer(tr("voice.photo_first"))

    @on.message()
    async def not_a_photo(self, message: Message, tr: Translator) -> None:
        await message.answer(tr("report.photo_expected"))

    @on.callback_query(Step.filter(F.action == "next"))
    async def next(self, query: CallbackQuery, tr: Translator) -> None:
        if not (await self.wizard.get_data()).get("photos"):
            await query.answer(tr("report.no_photo_yet"), show_alert=True)
            return
        await query.answer()
        await self.wizard.goto(ReportCategory)  # the photo count message becomes the category question


class ReportCategory(ReportStep, state="report.category"):
    @on.message.enter()
    @on.callback_query.enter()
    async def enter(self, event: Message | CallbackQuery, tr: Translator, **_: Any) -> None:
        labels = [(tr(f"category.{c.value}"), Step(action="category", value=c.value)) for c in Category]
        rows = [labels[i:i + 2] for i in range(0, len(labels), 2)] + [[(tr("report.cancel"), Step(action="cancel"))]]
        await ask(event, tr("report.ask_category"), rows_of(rows), await self.answered())

    @on.callback_query(Step.filter(F.action == "category"))
    async def chosen(self, query: CallbackQuery, callback_data: Step, tr: Translator) -> None:
        if callback_data.value not in {c.value for c in Category}:
            await query.answer(tr("error.stale_button"), show_alert=True)
            return
        await query.answer()
        await self.wizard.update_data(category=callback_data.value,
                                      answered=f"{tr('report.ask_category')} {tr('category.' + callback_data.value)}")
        data = await self.wizard.get_data()
        if data.get("door_placed") and data.get("building_id") and not data.get("description"):
            await self.wizard.goto(ReportWords)  # placed by a scanned door card: the words come next
            return
        await self.wizard.goto(ReportSummary if data.get("building_id") else ReportPlace)

    @on.message()
    async def text_instead(self, message: Message, tr: Translator) -> None:
        await message.answer(tr("report.pick_with_buttons"))


class ReportPlace(ReportStep, state="report.place"):
    @on.message.enter()
    @on.callback_query.enter()
    async def enter(self, event: Message | CallbackQuery, tr: Translator, uow: UnitOfWork, roles: Roles,
                    **_: Any) -> None:
        rows = []
        door_compound = (await self.wizard.get_data()).get("door_compound")
        if door_compound:  # scanned at a compound's gate or garage: that compound's buildings first
            buttons = [(b.name, Step(action="building", value=str(b.id)))
                       for b in await uow.places.buildings_of_compound(int(door_compound))]
            grid = [buttons[i:i + 3] for i in range(0, len(buttons), 3)]
            grid.append([(tr("report.other_building"), Step(action="other")), (tr("report.cancel"), Step(action="cancel"))])
            await ask(event, tr("report.ask_place"), rows_of(grid), await self.answered())
            return
        home = roles.home_building_id()
        if home is not None:
            address = await uow.places.address(home)
            rows.append([(tr("report.my_building", address=address.short()), Step(action="building", value=str(home)))])
        rows.append([(tr("report.other_building"), Step(action="other"))])
        rows.append([(tr("report.cancel"), Step(action="cancel"))])
        await ask(event, tr("report.ask_place"), rows_of(rows), await self.answered())
        if home is None:  # nowhere to suggest: offer the location at once
            await self.offer_location(event.message if isinstance(event, CallbackQuery) else event, tr)

    async def offer_location(self, message: Message, tr: Translator) -> None:
        """The "send my location" keyboard, shown only when the place is not the resident's own building
        (it needs a message of its own, and another one to take it away)."""
        await message.answer(tr("onboard.or_location"), reply_markup=location_request(tr))
        await self.wizard.update_data(location_keyboard=True)

    @on.callback_query(Step.filter(F.action == "other"))
    async def other(self, query: CallbackQuery, tr: Translator, uow: UnitOfWork, roles: Roles) -> None:
        await query.answer()
        home = roles.home_building_id()
        address = await uow.places.address(home) if home else None
        communities = [address.community] if address else list(await uow.places.communities())
        rows = []
        for community in communities:
            for compound in await uow.places.compounds(community.id):
                for b in await uow.places.buildings_of_compound(compound.id):
                    rows.append((f"{compound.name} {b.name}", Step(action="building", value=str(b.id))))
        grid = [rows[i:i + 2] for i in range(0, len(rows), 2)] + [[(tr("report.cancel"), Step(action="cancel"))]]
        await query.message.edit_text(tr("report.ask_place"), reply_markup=rows_of(grid))
        if not (await self.wizard.get_data()).get("location_keyboard"):
            await self.offer_location(query.message, tr)

    @on.callback_query(Step.filter(F.action == "building"))
    async def building(self, query: CallbackQuery, callback_data: Step, tr: Translator, uow: UnitOfWork) -> None:
        address = await uow.places.address(int(callback_data.value)) if callback_data.value.isdigit() else None
        if address is None:
            await query.answer(tr("error.not_found"), show_alert=True)
            return
        await query.answer()
        chosen = f"{tr('report.ask_place')} {address.full()}"
        data = await self.wizard.get_data()
        words_known = bool(data.get("words_from_caption") and data.get("description"))  # from a caption
        if data.get("location_keyboard"):
            # the location keyboard goes only with a new message; the next question then comes as one too
            await query.message.edit_text(chosen, reply_markup=None)
            await query.message.answer("📍 " + address.full(), reply_markup=ReplyKeyboardRemove())
            await self.wizard.update_data(building_id=address.building.id, location_keyboard=False,
                                          words_as_new_message=not words_known)
        else:
            await self.wizard.update_data(building_id=address.building.id, answered=None if words_known else chosen)
        await self.wizard.goto(ReportSummary if words_known else ReportWords)

    @on.message(F.location)
    async def location(self, message: Message, tr: Translator, uow: UnitOfWork, settings: Settings) -> None:
        try:
            near = nearest_buildings(await uow.places.buildings_with_position(), message.location.latitude,
                                     message.location.longitude, max_m=settings.nearest_building_max_m)
        except DomainError as problem:
            await message.answer(tr(problem.key, **problem.params))
            return
        rows = []
        for b, meters in near:
            address = await uow.places.address(b.id)
            rows.append([(f"{address.short()}（{round(meters)} m）", Step(action="building", value=str(b.id)))])
        rows.append([(tr("report.cancel"), Step(action="cancel"))])
        await message.answer(tr("report.ask_place"), reply_markup=rows_of(rows))

    @on.message()
    async def text_instead(self, message: Message, tr: Translator) -> None:
        await message.answer(tr("report.pick_with_buttons"))


class ReportWords(ReportStep, state="report.words"):
    @on.message.enter()
    @on.callback_query.enter()
    async def enter(self, event: Message | CallbackQuery, tr: Translator, **_: Any) -> None:
        markup = rows_of([[(tr("report.skip"), Step(action="skip")), (tr("report.cancel"), Step(action="cancel"))]])
        data = await self.wizard.get_data()
        question = tr("report.ask_words_voice")
        if data.get("caption_too_long"):
            question = f"{tr('report.caption_too_long', max=MAX_DESCRIPTION)}\n{question}"
            await self.wizard.update_data(caption_too_long=False)
        if data.get("words_as_new_message") and isinstance(event, CallbackQuery):
            await self.wizard.update_data(words_as_new_message=False)
            await event.message.answer(question, reply_markup=markup)
            return
        await ask(event, question, markup, await self.answered())

    @on.message(F.text)
    async def words(self, message: Message, tr: Translator) -> None:
        if len(message.text) > MAX_DESCRIPTION:
            await message.answer(tr("report.words_too_long", max=MAX_DESCRIPTION))
            return
        await self.wizard.update_data(description=message.text.strip(), voice=None)
        await self.wizard.goto(ReportSummary)

    @on.message(F.voice)
    async def spoken(self, message: Message, bot: Bot, tr: Translator, settings: Settings) -> None:
        """A voice note stands for the words: kept as sent, played to the grid member with the case.
        Too long or too big: said politely, and the step (with all answered so far) stays."""
        clip = await voice_or_say_why(message, bot, settings, tr)
        if clip is None:
            return
        await self.wizard.update_data(voice=clip.as_data(), description="")
        await self.wizard.goto(ReportSummary)

    @on.callback_query(Step.filter(F.action == "skip"))
    async def skip(self, query: CallbackQuery) -> None:
        await query.answer()
        await self.wizard.update_data(description="", voice=None)
        await self.wizard.goto(ReportSummary)

    @on.message()
    async def not_text(self, message: Message, tr: Translator) -> None:
        await message.answer(tr("report.ask_words"))


class ReportSummary(ReportStep, state="report.summary"):
    @on.message.enter()
    @on.callback_query.enter()
    async def enter(self, event: Message | CallbackQuery, tr: Translator, uow: UnitOfWork, policy: ReportPolicy,
                    now, **_: Any) -> None:
        data = await self.wizard.get_data()
        address = await uow.places.address(data["building_id"])
        category = Category(data["category"])
        rows = []
        voice = data.get("voice")
        words = tr("voice.label", duration=duration_text(voice["duration"])) if voice else None
        summary = tr("report.summary", photos=len(data["photos"]), category=tr(f"category.{category.value}"),
                     address=address.full(), words=words or data.get("description") or tr("report.no_words"))
        if data.get("anonymous"):  # kept with the summary when it is submitted
            summary = f"{summary}\n{tr('report.anonymous_note')}"
        similar = await similar_cases(uow, policy, address.building.id, category, now)
        if similar:
            summary = f"{summary}\n\n{tr('report.similar')}"
            rows += [[(tr("report.same_problem", number=c.number), Step(action="join", value=c.number))]
                     for c in similar]
        # anonymous to the grid member (staff still see who): a toggle, the summary says which it is
        rows.append([(tr("report.anonymous_on" if data.get("anonymous") else "report.anonymous_off"),
                      Step(action="anonymous"))])
        rows.append([(tr("report.confirm"), Step(action="confirm"))])
        rows.append([(tr("report.edit"), Step(action="edit")), (tr("report.cancel"), Step(action="cancel"))])
        await ask(event, summary, rows_of(rows))

    @on.callback_query(Step.filter(F.action == "anonymous"))
    async def anonymous(self, query: CallbackQuery, tr: Translator, uow: UnitOfWork, policy: ReportPolicy,
                        now, **_: Any) -> None:
        await query.answer()
        await self.wizard.update_data(anonymous=not (await self.wizard.get_data()).get("anonymous"))
        await self.enter(query, tr, uow, policy, now)

    @on.callback_query(Step.filter(F.action == "confirm"))
    async def confirm(self, query: CallbackQuery, tr: Translator, uow: UnitOfWork, person: Person, roles: Roles,
                      policy: ReportPolicy, settings: Settings, now) -> None:
        data = await self.wizard.get_data()
        photos = [photo_from_data(p, PhotoKind.BEFORE) for p in data["photos"]]
        case = await report_problem(uow, policy, Actor.of(person, roles), data["building_id"],
                                    Category(data["category"]), photos, data.get("description", ""), now,
                                    anonymous=bool(data.get("anonymous")))
        if data.get("voice"):  # after the case: its grid member hears it right after the report's message
            await keep_with_case(uow, Actor.of(person, roles), case.number, VoiceClip.from_data(data["voice"]),
                                 VoicePurpose.REPORT, now)
        await query.answer()
        await self.wizard.exit()
        summary = (query.message.text or "").split("\n\n")[0]  # what was sent, without the similar-cases hint
        await query.message.edit_text(f"{summary}\n\n" + tr(
            "report.submitted", number=case.number, deadline=moment_text(tr.lang, case.deadline, settings.tz, now)),
            reply_markup=None)

    @on.callback_query(Step.filter(F.action == "join"))
    async def join(self, query: CallbackQuery, callback_data: Step, tr: Translator, uow: UnitOfWork, person: Person,
                   roles: Roles, policy: ReportPolicy, now) -> None:
        data = await self.wizard.get_data()
        case = await join_same_problem(uow, policy, Actor.of(person, roles), callback_data.value,
                                       data["building_id"], Category(data["category"]), now)
        await query.answer()
        await self.wizard.exit()
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(tr("report.joined", number=case.number))

    @on.callback_query(Step.filter(F.action == "edit"))
    async def edit(self, query: CallbackQuery) -> None:
        await query.answer()
        await self.wizard.update_data(building_id=None)
        await self.wizard.goto(ReportCategory)

    @on.message()
    async def text_instead(self, message: Message, tr: Translator) -> None:
        await message.answer(tr("report.pick_with_buttons"))


SCENES = (ReportPhotos, ReportCategory, ReportPlace, ReportWords, ReportSummary)


async def start_report(message: Message, scenes, roles: Roles, tr: Translator, uow: UnitOfWork, person: Person,
                       policy: ReportPolicy, now) -> None:
    """A resident's photo (or /report) opens the dialog; others are told who it is for. A suspended
    resident, or one past the hour's or the day's reports, is told so before sending anything."""
    if not roles.has(Role.RESIDENT):
        await message.answer(tr("report.residents_only"))
        return
    await may_report(uow, policy.limits, Actor.of(person, roles), now)  # refused politely by the middleware
    await scenes.enter(ReportPhotos)
