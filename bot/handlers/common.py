"""Commands that work for everyone and from inside any dialog: /cancel, /help, /lang; any other command
inside a dialog is answered with how to leave it."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove

from bot.callbacks import SetLanguage
from bot.commands import publish_commands
from bot.handlers.start import greeting
from bot.keyboards import column
from texts import Translator
from core.onboarding import set_language
from core.people import Person, Roles
from core.ports import UnitOfWork



async def cancel(message: Message, state: FSMContext, tr: Translator) -> None:
    had_dialog = await state.get_state() is not None
    await state.clear()
    await message.answer(tr("cancel.done" if had_dialog else "cancel.nothing"), reply_markup=ReplyKeyboardRemove())


async def command_inside_dialog(message: Message, tr: Translator) -> None:
    """Another command typed in the middle of a dialog is not taken as its answer (a title "/themes",
    a description "/tasks"): the step stays, and the person learns how to leave it."""
    await message.answer(tr("dialog.command_inside", command=message.text.split()[0]))


async def help_(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator, lang: str) -> None:
    await message.answer(await greeting(uow, person, roles, tr, lang))


async def pick_language(message: Message, tr: Translator) -> None:
    await message.answer(tr("lang.pick"), reply_markup=column([
        ("中文", SetLanguage(lang="zh")), ("English", SetLanguage(lang="en"))]))


async def chose_language(query: CallbackQuery, callback_data: SetLanguage, bot: Bot, uow: UnitOfWork,
                         person: Person, roles: Roles, now) -> None:
    await set_language(uow, person, callback_data.lang, now)  # an unknown language is refused there
    tr = Translator(callback_data.lang)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(tr("lang.set"), reply_markup=None)
    await publish_commands(bot, query.from_user.id, roles, callback_data.lang)


def make_router() -> Router:
    """A fresh router each time, so every Dispatcher (tests make many) owns its own."""
    router = Router(name="common")
    router.message.register(cancel, Command("cancel"), StateFilter("*"))
    router.message.register(help_, Command("help"), StateFilter("*"))
    router.message.register(pick_language, Command("lang"), StateFilter("*"))
    # /start (an invite link) may always begin again; /privacy, /mydata, /forget work inside a dialog
    router.message.register(command_inside_dialog, F.text.regexp(r"^/(?!start\b|privacy\b|mydata\b|forget\b)"),
                            ~StateFilter(None))
    router.callback_query.register(chose_language, SetLanguage.filter())
    return router
