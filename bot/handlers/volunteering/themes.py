"""Theme-day activities (主题党日 templates) in the chat: /themes — list, ➕ add, 🗑 retire."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message

from bot.callbacks import Theme
from bot.handlers.volunteering.common import done
from bot.keyboards import column, rows_of
from bot.scenes.theme import ThemeTitle, theme_card
from texts import Translator
from core import theme_day_services
from core.cases import Actor
from core.people import Person, Roles
from core.ports import UnitOfWork
from core.theme_day import ThemeDayTemplate


# ---- theme-day activities (主题党日 templates) ---------------------------------------------------

def theme_text(template: ThemeDayTemplate, tr: Translator) -> str:
    return theme_card(tr, title=template.title, activity=template.activity.value, place=template.place,
                      capacity=template.capacity, points=template.points_per_person,
                      hours=template.duration.total_seconds() / 3600,
                      workday_starts=template.workday_starts.strftime("%H:%M") if template.workday_starts else None,
                      rest_day_starts=template.rest_day_starts.strftime("%H:%M"))


async def show_themes(message: Message, uow: UnitOfWork, by: Actor, community_id: int, tr: Translator) -> None:
    """The community's active activities, each with 🗑, then ➕ to add one."""
    community, templates = await theme_day_services.theme_desk(uow, by, community_id)
    name = community.name if community else ""
    if templates:
        await message.answer(tr("theme.list_title", community=name, count=len(templates)))
    else:
        await message.answer(tr("theme.none", community=name))
    for template in templates:
        await message.answer(theme_text(template, tr),
                             reply_markup=column([(tr("theme.btn.retire"), Theme(action="retire", ref=template.id))]))
    await message.answer(tr("theme.add_hint"), reply_markup=column([(tr("theme.btn.add"),
                                                                    Theme(action="add", ref=community_id))]))


async def themes(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator) -> None:
    communities = await theme_day_services.template_communities(uow, Actor.of(person, roles))
    if len(communities) == 1:
        await show_themes(message, uow, Actor.of(person, roles), communities[0], tr)
        return
    names = [(await uow.places.community(c), c) for c in communities]
    await message.answer(tr("theme.pick_community"), reply_markup=column(
        [(place.name, Theme(action="list", ref=c)) for place, c in names if place]))


async def on_theme_list(query: CallbackQuery, callback_data: Theme, uow: UnitOfWork, person: Person, roles: Roles,
                        tr: Translator) -> None:
    by = Actor.of(person, roles)
    theme_day_services.may_define_template(by, callback_data.ref)  # refused before the press is answered
    await query.answer()
    await show_themes(query.message, uow, by, callback_data.ref, tr)


async def on_theme_add(query: CallbackQuery, callback_data: Theme, scenes, person: Person, roles: Roles) -> None:
    theme_day_services.may_define_template(Actor.of(person, roles), callback_data.ref)
    await query.answer()
    await scenes.enter(ThemeTitle, community=callback_data.ref)


async def on_theme_retire(query: CallbackQuery, callback_data: Theme, uow: UnitOfWork, person: Person, roles: Roles,
                          tr: Translator) -> None:
    """🗑 asks first (the press changes nothing); ✅ retires through core, which checks who may."""
    template = await theme_day_services.template_to_retire(uow, Actor.of(person, roles), callback_data.ref)
    if not template.active:
        await query.answer(tr("theme.already_retired", title=template.title), show_alert=True)
        return
    await query.answer()
    await query.message.answer(tr("theme.ask_retire", title=template.title), reply_markup=rows_of([[
        (tr("theme.btn.retire_yes"), Theme(action="retire_yes", ref=template.id)),
        (tr("theme.btn.keep"), Theme(action="keep", ref=template.id))]]))


async def on_theme_retire_yes(query: CallbackQuery, callback_data: Theme, uow: UnitOfWork, person: Person,
                              roles: Roles, tr: Translator, now) -> None:
    template = await theme_day_services.retire_template(uow, Actor.of(person, roles), callback_data.ref, now)
    await done(query, tr("theme.retired", title=template.title))


async def on_theme_keep(query: CallbackQuery, tr: Translator) -> None:
    await query.answer()
    await query.message.edit_text(tr("theme.kept"), reply_markup=None)
