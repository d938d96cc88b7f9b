"""/notice: staff send an urgent notice to every resident of their community, and watch it go out.

It is a broadcast through the outbox: one row per resident, paced within Telegram's limits, with a
progress message for the sender that updates (sent / left / failed / time to go) and a summary.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.keyboards import column
from texts import Translator
from core import notices
from core.cases import Actor
from core.notices import MAX_NOTICE
from core.people import Person, Roles
from core.ports import UnitOfWork


class Notice(CallbackData, prefix="nt"):
    action: str
    community: int = 0


async def draft_notice(message: Message, command: CommandObject, state: FSMContext, uow: UnitOfWork,
                       person: Person, roles: Roles, tr: Translator) -> None:
    audience = await notices.notice_audience(uow, Actor.of(person, roles))
    words = (command.args or "").strip()
    if not words:
        await message.answer(tr("notice.usage"))
        return
    if len(words) > MAX_NOTICE:
        await message.answer(tr("report.words_too_long", max=MAX_NOTICE))
        return
    community = audience.community
    await state.update_data(notice=words)
    await message.answer(tr("notice.confirm", count=len(audience.resident_ids), community=community.name, text=words),
                         reply_markup=column([(tr("notice.send"), Notice(action="send", community=community.id)),
                                              (tr("report.cancel"), Notice(action="cancel"))]))


async def send_notice(query: CallbackQuery, callback_data: Notice, state: FSMContext, uow: UnitOfWork,
                      person: Person, roles: Roles, tr: Translator, now) -> None:
    words = (await state.get_data()).get("notice")
    await state.update_data(notice=None)
    if callback_data.action == "send" and not words:  # a second press while it sends: nothing is cancelled
        await query.answer(tr("notice.already_sent"))
        return
    if callback_data.action != "send":
        await query.answer()
        await query.message.edit_text(tr("cancel.done"), reply_markup=None)
        return
    # In the update's own transaction: the notice is queued with the dialog's change, or not at all
    # (on SQLite a second transaction would also wait for the write lock this one holds).
    # The progress message is this very message: the worker edits it as the notice goes out.
    audience = await notices.start_notice(uow, Actor.of(person, roles), callback_data.community, words, now,
                                          progress_chat_id=str(query.message.chat.id),
                                          progress_message_id=query.message.message_id)
    await query.answer()
    await query.message.edit_text(tr("notice.queued", count=len(audience.resident_ids)), reply_markup=None)


def make_router() -> Router:
    """A fresh router each time, so every Dispatcher (tests make many) owns its own."""
    router = Router(name="notices")
    router.message.register(draft_notice, Command("notice"), StateFilter(None))
    router.callback_query.register(send_notice, Notice.filter(F.action.in_({"send", "cancel"})))
    return router
