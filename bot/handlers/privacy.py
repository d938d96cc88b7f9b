"""Personal information in the Telegram channel: the consent at the door, the location consent,
/privacy, /mydata and /forget. Each step is one call of core (core/consent_services.py,
core/personal_data_services.py); this module parses and renders.

`at_the_door` is not a routed handler: bot/middlewares.py calls it instead of the routers for someone
who has not agreed to the current notice (a newcomer, of whom nothing is kept, or someone asked again),
and `ask_for_location` instead of the routers for a location shared before its consent.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message, TelegramObject, Update, User

from bot.callbacks import ConsentAnswer, ForgetStep, LocationAnswer
from bot.commands import publish_commands
from bot.handlers.doors import after_agreeing, genuine, is_door_payload
from bot.handlers.start import join_by_invite, welcome_newcomer
from core.door_codes import BadDoorCode
from bot.keyboards import column
from core.cases import Actor
from core.consent import PrivacyPolicy
from core.errors import DomainError
from core.consent_services import Arrival, agree, agree_to_location, privacy_view
from core.people import Person, Roles
from core.personal_data_services import forget, forget_preview, my_data
from core.ports import PhotoFiles, UnitOfWork
from texts import Translator, moment_text
from texts.privacy import notice_text
from bot.config import Settings
from media.voice import VoiceStore

# What someone asked again to agree may still do before agreeing: read, copy or delete their data.
OPEN_BEFORE_AGREEING = ("/privacy", "/mydata", "/forget")
MAX_START_PAYLOAD = 40   # callback data holds 64 bytes: "cs:1:12:" and an invite's payload fit


def display_name(user: User) -> str:
    """The name the chat account shows: what is kept of it once the person agrees."""
    return " ".join(part for part in (user.first_name, user.last_name) if part) or (user.username or str(user.id))


def _notice_buttons(tr: Translator, policy: PrivacyPolicy, start: str = ""):
    return column([(tr("privacy.agree"), ConsentAnswer(yes=1, version=policy.notice_version, start=start)),
                   (tr("privacy.disagree"), ConsentAnswer(yes=0, version=policy.notice_version))])


def parts(event: TelegramObject) -> tuple[Message | None, CallbackQuery | None]:
    """The message or the press in an update (or the message or press itself, for a middleware
    registered on messages or presses)."""
    if isinstance(event, Update):
        return event.message, event.callback_query
    if isinstance(event, Message):
        return event, None
    if isinstance(event, CallbackQuery):
        return None, event
    return None, None


def lets_through(event: TelegramObject, arrival: Arrival) -> bool:
    """Someone known who has not agreed to this version may still read, copy or delete their data."""
    if arrival.account is None:
        return False
    message, query = parts(event)
    if message is not None and message.text:
        return message.text.split()[0].split("@")[0] in OPEN_BEFORE_AGREEING
    if query is not None and query.data:
        return query.data.startswith(ForgetStep.__prefix__ + ":")
    return False


async def at_the_door(event: TelegramObject, data: dict[str, Any]) -> None:
    """The notice (with its buttons) for anything sent before agreeing; the answer to it when pressed."""
    tr: Translator = data["tr"]
    policy: PrivacyPolicy = data["privacy"]
    bot: Bot = data["bot"]
    message, query = parts(event)
    if query is not None and query.data and query.data.startswith(ConsentAnswer.__prefix__ + ":"):
        try:
            answer = ConsentAnswer.unpack(query.data)
        except (TypeError, ValueError):
            answer = None
        if answer is not None and answer.version == policy.notice_version:
            await _answered(query, answer, data)
            return
    # a message, another button, or an answer to an older notice: (the current) notice first
    user = data["event_from_user"]
    start = ""
    if message is not None and message.text and message.text.startswith("/start "):
        payload = message.text.split(maxsplit=1)[1].strip()
        start = payload if len(payload) <= MAX_START_PAYLOAD else ""
        if is_door_payload(start) and not genuine(start, data.get("door_secret", b"")):
            await bot.send_message(user.id, tr(BadDoorCode.key))  # a forged or altered card: said, then dropped
            start = ""
    if query is not None:
        await query.answer(tr("privacy.answer_first"), show_alert=True)
    lines = [] if data.get("person") is None else [tr("privacy.notice_again")]
    await bot.send_message(user.id, "\n\n".join([*lines, notice_text(tr, policy)]),
                           reply_markup=_notice_buttons(tr, policy, start))


async def _answered(query: CallbackQuery, answer: ConsentAnswer, data: dict[str, Any]) -> None:
    tr: Translator = data["tr"]
    bot: Bot = data["bot"]
    uow: UnitOfWork = data["uow"]
    user = query.from_user
    known: Person | None = data.get("person")
    await query.answer()
    if not answer.yes:
        if isinstance(query.message, Message):
            await query.message.edit_reply_markup(reply_markup=None)
        await bot.send_message(user.id, tr("privacy.refused_known" if known else "privacy.refused"))
        return
    account = await agree(uow, data["privacy"], data["channel"], str(user.id), str(user.id), display_name(user),
                          data["now"])
    await uow.commit()  # agreed is agreed, whatever comes next (an invite that turns out used up)
    if isinstance(query.message, Message) and query.message.text:
        await query.message.edit_text(query.message.text + "\n\n" + tr("privacy.agreed"), reply_markup=None)
    person, settings = account.person, data["settings"]
    if known is not None:
        await bot.send_message(user.id, tr("privacy.thanks_known"))
        return
    if answer.start and is_door_payload(answer.start):  # a scanned door card: "do you live here?" in one tap
        try:
            await after_agreeing(bot, user.id, uow, answer.start, tr, data.get("door_secret", b""), settings)
        except DomainError as refusal:  # forged in the button, or the building is gone: the agreement stands
            await bot.send_message(user.id, tr(refusal.key, **refusal.params))
            await welcome_newcomer(bot, user.id, uow, person, tr, settings)
        await publish_commands(bot, user.id, account.roles, data["lang"])
        return
    if answer.start:
        try:
            await join_by_invite(bot, user.id, user.id, uow, person, answer.start, tr, data["lang"], data["now"],
                                 data["channel"])
        except DomainError as refusal:  # an invite used up or expired: said as a message, the agreement stands
            await uow.rollback()
            await bot.send_message(user.id, tr(refusal.key, **refusal.params))
        return
    await welcome_newcomer(bot, user.id, uow, person, tr, settings)
    await publish_commands(bot, user.id, account.roles, data["lang"])


# ---- a precise location: asked once, for that use ---------------------------------------------

def shares_location_first_time(event: TelegramObject, person: Person | None) -> bool:
    message, _ = parts(event)
    return (person is not None and person.location_agreed_at is None and message is not None
            and message.location is not None)


async def ask_for_location(event: TelegramObject, data: dict[str, Any]) -> None:
    """A location sent before its consent is not used (nor kept): the question instead."""
    tr: Translator = data["tr"]
    await data["bot"].send_message(data["event_from_user"].id, tr("location.ask"), reply_markup=column([
        (tr("location.agree"), LocationAnswer(yes=1)), (tr("location.disagree"), LocationAnswer(yes=0))]))


async def location_answered(query: CallbackQuery, callback_data: LocationAnswer, uow: UnitOfWork, person: Person,
                            tr: Translator, privacy: PrivacyPolicy, channel: str, now) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
    if not callback_data.yes:
        await query.bot.send_message(query.from_user.id, tr("location.refused"))
        return
    await agree_to_location(uow, privacy, person, channel, now)
    await query.bot.send_message(query.from_user.id, tr("location.agreed"))


# ---- /privacy, /mydata, /forget ---------------------------------------------------------------

async def show_privacy(message: Message, uow: UnitOfWork, person: Person, tr: Translator, privacy: PrivacyPolicy,
                       settings: Settings, now) -> None:
    view = await privacy_view(uow, privacy, person)
    lines = [notice_text(tr, privacy), "", tr("privacy.your_consents") if view.consents else tr("privacy.no_consents")]
    lines += [tr("privacy.consent_line", purpose=tr(f"privacy.purpose.{c.purpose.value}"), version=c.version,
                 at=moment_text(tr.lang, c.given_at, settings.tz, now), channel=c.channel)
              for c in view.consents]
    markup = None
    if person.notice_version is None or person.notice_version < privacy.notice_version:
        markup = _notice_buttons(tr, privacy)  # asked again and not agreed yet: the answer is here too
    await message.answer("\n".join(lines), reply_markup=markup)


async def send_my_data(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator,
                       now) -> None:
    export = await my_data(uow, Actor.of(person, roles), person.id, now)
    await message.answer_document(BufferedInputFile(export.content, filename=export.file_name),
                                  caption=tr("mydata.caption"))


def _forget_buttons(tr: Translator, go: str):
    label = tr("forget.btn_go_on") if go == "1" else tr("forget.btn_confirm")
    return column([(label, ForgetStep(step=go)), (tr("forget.btn_cancel"), ForgetStep(step="x"))])


async def ask_to_forget(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator,
                        now) -> None:
    preview = await forget_preview(uow, Actor.of(person, roles), person.id, now)  # refused here if they cannot go
    await message.answer(tr("forget.ask", reports=preview.reports, open=preview.open_reports),
                         reply_markup=_forget_buttons(tr, "1"))


async def forget_step(query: CallbackQuery, callback_data: ForgetStep, bot: Bot, uow: UnitOfWork, person: Person,
                      roles: Roles, tr: Translator, photos: PhotoFiles, state: FSMContext, settings: Settings,
                      now) -> None:
    step = callback_data.step
    edit = query.message.edit_text if isinstance(query.message, Message) else None
    if step == "x":
        await query.answer()
        if edit:
            await edit(tr("forget.cancelled"), reply_markup=None)
        return
    by = Actor.of(person, roles)
    if step == "1":
        await forget_preview(uow, by, person.id, now)
        await query.answer()
        if edit:
            await edit(tr("forget.ask_again"), reply_markup=_forget_buttons(tr, "2"))
        return
    # any dialog in progress ends first: in Redis its keys go with the commit; in the database `forget`
    # then deletes the rows (every dialog of theirs), the emptied one included
    await state.clear()
    done = await forget(uow, by, person.id, now, photos, VoiceStore(settings.data_dir))
    await query.answer()
    if edit:
        await edit(tr("forget.done", reports=done.reports), reply_markup=None)
    try:
        from aiogram.types import BotCommandScopeChat

        await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=query.from_user.id))  # a newcomer's menu
    except Exception:  # a menu is a convenience
        pass


def make_router() -> Router:
    """A fresh router each time; it goes before the dialogs (scenes), so these commands work inside one."""
    router = Router(name="privacy")
    router.message.register(show_privacy, Command("privacy"), StateFilter("*"))
    router.message.register(send_my_data, Command("mydata"), StateFilter("*"))
    router.message.register(ask_to_forget, Command("forget"), StateFilter("*"))
    router.callback_query.register(forget_step, ForgetStep.filter(), StateFilter("*"))
    router.callback_query.register(location_answered, LocationAnswer.filter(), StateFilter("*"))
    # a known person asked again who opens /privacy answers the notice's buttons there
    router.callback_query.register(_agree_known, ConsentAnswer.filter(), StateFilter("*"))
    return router


async def _agree_known(query: CallbackQuery, callback_data: ConsentAnswer, bot: Bot, uow: UnitOfWork,
                       person: Person, tr: Translator, privacy: PrivacyPolicy, channel: str, now) -> None:
    """The notice's buttons pressed by someone who has agreed to this version already: nothing twice."""
    await query.answer(tr("privacy.agreed"))
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
