"""Whatever no other handler took: a hint, never silence."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from bot.handlers.start import community_picker
from texts import Translator
from core.people import Roles
from core.ports import UnitOfWork
from bot.config import Settings



async def unknown_message(message: Message, uow: UnitOfWork, roles: Roles, tr: Translator,
                          settings: Settings) -> None:
    if not roles.names:  # not registered yet: the one useful next step is choosing a building
        await message.answer(tr("onboard.choose_first"))
        text, markup = await community_picker(uow, tr, settings, page=0)
        await message.answer(text, reply_markup=markup)
        return
    await message.answer(tr("fallback.unknown"))


async def unknown_button(query: CallbackQuery, tr: Translator) -> None:
    """Data no handler understands: an old keyboard from an earlier version, or forged."""
    await query.answer(tr("error.stale_button"), show_alert=True)


def make_router() -> Router:
    """A fresh router each time, so every Dispatcher (tests make many) owns its own."""
    router = Router(name="fallback")
    router.message.register(unknown_message)
    router.callback_query.register(unknown_button)
    return router
