"""/invite: staff and admins make invite links for grid members, party members and colleagues."""

from __future__ import annotations

from datetime import datetime

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.callbacks import InviteGrid, InviteRole
from bot.handlers.start import place_of
from bot.keyboards import column
from texts import Translator, moment_text
from core import binding_services, onboarding
from core.cases import Actor
from core.invites import Invite
from core.onboarding import STAFF_INVITES, create_invite
from core.people import Person, Role, RoleGrant, Roles
from core.ports import UnitOfWork
from bot.config import Settings

def _role_buttons(tr: Translator, community_id: int, roles=STAFF_INVITES) -> list:
    return [(tr(f"role.{r.value}"), InviteRole(role=r.value, community=community_id)) for r in roles]


async def invite(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator) -> None:
    communities = await onboarding.invite_communities(uow, Actor.of(person, roles))
    if len(communities) == 1:
        await message.answer(tr("invite.pick_role"), reply_markup=column(_role_buttons(tr, communities[0].id)))
    else:
        await message.answer(tr("invite.pick_community"), reply_markup=column(
            [(c.name, InviteRole(role="", community=c.id)) for c in communities]))


async def chose_role(query: CallbackQuery, callback_data: InviteRole, bot: Bot, uow: UnitOfWork, person: Person,
                     roles: Roles, tr: Translator, now, settings: Settings) -> None:
    step = await onboarding.choose_invite(uow, Actor.of(person, roles), callback_data.community, callback_data.role,
                                          now, ttl_hours=settings.invite_ttl_hours, max_uses=settings.invite_max_uses)
    if step.invite is not None:
        await _send_link(query, bot, uow, step.invite, tr, settings, now)
        return
    await query.answer()
    if step.roles:
        await query.message.edit_text(tr("invite.pick_role"),
                                      reply_markup=column(_role_buttons(tr, callback_data.community, step.roles)))
    else:
        await query.message.edit_text(tr("invite.pick_grid"), reply_markup=column(
            [(g.name, InviteGrid(grid=g.id)) for g in step.grids]))


async def chose_grid(query: CallbackQuery, callback_data: InviteGrid, bot: Bot, uow: UnitOfWork, person: Person,
                     tr: Translator, now, settings: Settings) -> None:
    # create_invite checks the grid lies in a community this person staffs
    invite = await create_invite(uow, person, Role.GRID_MEMBER, now, ttl_hours=settings.invite_ttl_hours,
                                 max_uses=settings.invite_max_uses, grid_id=callback_data.grid)
    await _send_link(query, bot, uow, invite, tr, settings, now)


async def invite_text(username: str, uow: UnitOfWork, invite: Invite, tr: Translator, settings: Settings,
                      now: datetime) -> str:
    """The message that carries an invite: a t.me deep link when the bot's username is known."""
    place = await place_of(uow, RoleGrant(None, 0, invite.role, community_id=invite.community_id,
                                          grid_id=invite.grid_id, department_id=invite.department_id))
    fields = dict(role=tr(f"role.{invite.role.value}"), place=place or "—", payload=invite.deep_link_payload,
                  expires=moment_text(tr.lang, invite.expires_at, settings.tz, now), uses=invite.max_uses)
    if username:
        return tr("invite.link", link=f"https://t.me/{username}?start={invite.deep_link_payload}", **fields)
    return tr("invite.link_no_username", **fields)


async def _send_link(query: CallbackQuery, bot: Bot, uow: UnitOfWork, invite: Invite, tr: Translator,
                     settings: Settings, now: datetime) -> None:
    await query.answer()
    username = settings.bot_username or (await bot.me()).username or ""
    await query.message.edit_text(await invite_text(username, uow, invite, tr, settings, now), reply_markup=None)


# ---- /bind: the same person on WeChat or WeCom ------------------------------------------------------

async def bind(message: Message, command: CommandObject, uow: UnitOfWork, person: Person, roles: Roles,
               tr: Translator, now, settings: Settings) -> None:
    """/bind: a one-time code to send from WeChat ("绑定 123456"); staff: /bind 名字 for someone on their
    roster who has no chat yet (an imported grid member joining on WeCom)."""
    by = Actor.of(person, roles)
    whom = (command.args or "").strip()
    target: Person = person
    if whom:
        found = await binding_services.roster_named(uow, by, whom)
        if len(found) != 1:
            names = "、".join(p.display_name for p in found[:10])
            await message.answer(tr("bind.pick_one", name=whom, names=names) if found else
                                 tr("bind.nobody", name=whom))
            return
        target = found[0]
    code = await binding_services.issue_bind_code(uow, by, now, target.id)
    expires = moment_text(tr.lang, code.expires_at, settings.tz, now)
    if target.id == person.id:
        await message.answer(tr("bind.code", code=code.code, expires=expires))
    else:
        await message.answer(tr("bind.code_for", name=target.display_name, code=code.code, expires=expires))


def make_router() -> Router:
    """A fresh router each time, so every Dispatcher (tests make many) owns its own."""
    router = Router(name="invites")
    router.message.register(invite, Command("invite"))
    router.message.register(bind, Command("bind"))
    router.callback_query.register(chose_role, InviteRole.filter())
    router.callback_query.register(chose_grid, InviteGrid.filter())
    return router
