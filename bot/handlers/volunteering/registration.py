"""Registration ("双报到") in the chat: /join_party, /members, approve or decline a request."""

from __future__ import annotations

from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.callbacks import Vol
from bot.handlers.volunteering.common import done, member_communities
from bot.keyboards import button
from bot.scenes.volunteer import JoinParty, Reason
from texts import Translator
from core.cases import Actor
from core.people import Person, Role, Roles
from core.ports import UnitOfWork
from core.volunteering import registration_services


# ---- buttons -------------------------------------------------------------------------------------

def registration_buttons(person_id: int, community_id: int, tr: Translator) -> InlineKeyboardMarkup:
    """✅ / ✖ on a "双报到" request; the community rides along (`arg`) so the press needs no search."""
    def press(label: str, action: str):
        return button(tr(label), Vol(action=action, person=person_id, arg=str(community_id) if community_id else ""))

    return InlineKeyboardMarkup(inline_keyboard=[[press("vol.btn.approve", "reg_ok"),
                                                  press("vol.btn.decline", "reg_no")]])


# ---- registration ("双报到") ----------------------------------------------------------------------

async def join_party(message: Message, scenes, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator) -> None:
    if member_communities(roles):
        community = await uow.places.community(member_communities(roles)[0])
        await message.answer(tr("party.already_member", community=community.name if community else ""))
        return
    if any(g.role == Role.PARTY_MEMBER for g in roles.pending):
        await message.answer(tr("party.registration_pending"))
        return
    home = next((g.community_id for g in roles.grants if g.role == Role.RESIDENT and g.community_id), 0)
    await scenes.enter(JoinParty, community=home)


async def pending_members(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator,
                          now) -> None:
    waiting = await registration_services.pending_members(uow, Actor.of(person, roles), now)
    for community, who, grant in waiting:
        await message.answer(tr("party.pending_line", name=who.display_name, work_unit=grant.work_unit or "—"),
                             reply_markup=registration_buttons(who.id, community, tr))
    if not waiting:
        await message.answer(tr("party.none_pending"))


async def on_registration(query: CallbackQuery, callback_data: Vol, scenes, uow: UnitOfWork, person: Person,
                          roles: Roles, tr: Translator, now) -> None:
    if callback_data.arg and not callback_data.arg.isdigit():
        await query.answer(tr("error.stale_button"), show_alert=True)
        return
    community, who = await registration_services.registration_to_decide(
        uow, Actor.of(person, roles), callback_data.person, int(callback_data.arg) if callback_data.arg else None)
    if callback_data.action == "reg_ok":
        await registration_services.approve_registration(uow, Actor.of(person, roles), callback_data.person, community,
                                                         now)
        await done(query, tr("party.approved_done", name=who.display_name if who else ""))
        return
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    await scenes.enter(Reason, what="registration", ref=who.display_name if who else "",
                       person_id=callback_data.person, community=community)
