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
from bot.texts import Translator
from core.errors import NotAllowed
from core.people import Person, Role, Roles
from core.ports import UnitOfWork

NOTICE_KIND = "notice.community"
MAX_NOTICE = 1000


class Notice(CallbackData, prefix="nt"):
    action: str
    community: int = 0


async def draft_notice(message: Message, command: CommandObject, state: FSMContext, uow: UnitOfWork,
                       roles: Roles, tr: Translator) -> None:
    communities = sorted(roles.staff_communities())
    if not communities:
        raise NotAllowed(action="notice")
    words = (command.args or "").strip()
    if not words:
        await message.answer(tr("notice.usage"))
        return
    if len(words) > MAX_NOTICE:
        await message.answer(tr("report.words_too_long", max=MAX_NOTICE))
        return
    community = await uow.places.community(communities[0])
    residents = await uow.people.with_role(Role.RESIDENT, community.id)
    await state.update_data(notice=words)
    await message.answer(tr("notice.confirm", count=len(residents), community=community.name, text=words),
                         reply_markup=column([(tr("notice.send"), Notice(action="send", community=community.id)),
                                              (tr("report.cancel"), Notice(action="cancel"))]))


async def send_notice(query: CallbackQuery, callback_data: Notice, state: FSMContext, uow: UnitOfWork,
                      person: Person, roles: Roles, tr: Translator, now) -> None:
    words = (await state.get_data()).get("notice")
    await state.update_data(notice=None)
    if callback_data.action != "send" or not words:
        await query.answer()
        await query.message.edit_text(tr("cancel.done"), reply_markup=None)
        return
    if not roles.is_staff_of(callback_data.community) or not roles.staff_communities():
        raise NotAllowed(action="notice")
    community = await uow.places.community(callback_data.community)
    residents = [p.id for p in await uow.people.with_role(Role.RESIDENT, community.id)]
    await query.answer()
    # The progress message is this very message: the worker edits it as the notice goes out.
    await query.message.edit_text(tr("notice.queued", count=len(residents)), reply_markup=None)
    # In the update's own transaction: the notice is queued with the dialog's change, or not at all
    # (on SQLite a second transaction would also wait for the write lock this one holds).
    await uow.broadcasts.start(f"{community.name}: {words[:40]}", residents, NOTICE_KIND,
                               {"community": community.name, "text": words}, person.id, now=now,
                               progress_chat_id=str(query.message.chat.id),
                               progress_message_id=query.message.message_id)


def make_router() -> Router:
    """A fresh router each time, so every Dispatcher (tests make many) owns its own."""
    router = Router(name="notices")
    router.message.register(draft_notice, Command("notice"), StateFilter(None))
    router.callback_query.register(send_notice, Notice.filter(F.action.in_({"send", "cancel"})))
    return router
