"""/start: residents choose their building (or share a location); invite links give roles."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, ReplyKeyboardRemove

from bot.callbacks import ChangeHome, NearestBuilding, PickBuilding, PickCommunity, PickCompound, PickPage
from bot.commands import help_lines, publish_commands
from bot.keyboards import column, location_request, paged
from texts import Translator
from core.errors import UnknownInvite
from core.invites import code_from_payload
from core.onboarding import redeem_invite, register_resident, roles_of
from core.people import Person, Role, RoleGrant, Roles
from core.places import nearest_buildings
from core.ports import UnitOfWork
from bot.config import Settings



# ---- /start -------------------------------------------------------------------------------

async def start(message: Message, command: CommandObject, bot: Bot, uow: UnitOfWork, person: Person,
                roles: Roles, tr: Translator, lang: str, now, channel: str, settings: Settings) -> None:
    if command.args:
        await join_by_invite(bot, message.chat.id, message.from_user.id, uow, person, command.args, tr, lang, now,
                             channel)
        return
    if not roles.names:
        await welcome_newcomer(bot, message.chat.id, uow, person, tr, settings)
        return
    await message.answer(await greeting(uow, person, roles, tr, lang), reply_markup=_change_home(roles, tr))


async def welcome_newcomer(bot: Bot, chat_id: int, uow: UnitOfWork, person: Person, tr: Translator,
                           settings: Settings) -> None:
    """Someone with no role yet (just agreed to the privacy notice, or came back): where do you live?"""
    await bot.send_message(chat_id, tr("start.welcome", name=person.display_name) + "\n\n" + tr("onboard.or_location"),
                           reply_markup=location_request(tr))
    text, markup = await community_picker(uow, tr, settings, page=0)
    await bot.send_message(chat_id, text, reply_markup=markup)


async def greeting(uow: UnitOfWork, person: Person, roles: Roles, tr: Translator, lang: str) -> str:
    lines = [tr("start.welcome_back", name=person.display_name)]
    building_id = roles.home_building_id()
    if building_id is not None:
        address = await uow.places.address(building_id)
        if address is not None:
            lines.append(tr("start.your_home", address=address.full()))
    role_names = "、".join(tr(f"role.{r.value}") for r in roles.names) or tr("role.none")
    lines += ["", tr("help.title", roles=role_names), *help_lines(roles, lang)]
    return "\n".join(lines)


def _change_home(roles: Roles, tr: Translator) -> InlineKeyboardMarkup | None:
    return column([(tr("start.change_home"), ChangeHome())]) if roles.has(Role.RESIDENT) else None


# ---- invites ------------------------------------------------------------------------------

async def join_by_invite(bot: Bot, chat_id: int, user_id: int, uow: UnitOfWork, person: Person, payload: str,
                         tr: Translator, lang: str, now, channel: str) -> None:
    """A deep link's payload (/start <invite>): the invite's role for whoever opened it."""
    code = code_from_payload(payload)
    if code is None:
        raise UnknownInvite()
    person, grant = await redeem_invite(uow, person, channel, str(user_id), code, now)
    roles = await roles_of(uow, person)
    if person.language in ("zh", "en"):
        tr, lang = Translator(person.language), person.language
    await bot.send_message(chat_id, tr(f"invite.welcome.{grant.role.value}", place=await place_of(uow, grant)))
    await publish_commands(bot, chat_id, roles, lang)


async def place_of(uow: UnitOfWork, grant: RoleGrant) -> str:
    """The place a role applies to, as its holder reads it."""
    if grant.grid_id is not None:
        grid = await uow.places.grid(grant.grid_id)
        compound = await uow.places.compound(grid.compound_id) if grid else None
        return f"{compound.name} {grid.name}" if grid and compound else ""
    if grant.community_id is not None:
        community = await uow.places.community(grant.community_id)
        return community.name if community else ""
    if grant.department_id is not None:
        department = await uow.people.department(grant.department_id)
        return department.name if department else ""
    return ""


# ---- choosing a building by hand -------------------------------------------------------------

async def community_picker(uow: UnitOfWork, tr: Translator, settings: Settings, page: int):
    communities = await uow.places.communities()
    if not communities:
        return tr("onboard.no_places"), None
    if len(communities) == 1:  # one choice is no choice: go straight to its compounds
        return await compound_picker(uow, tr, settings, communities[0].id, page=0, back=False)
    items = [(c.name, PickCommunity(community=c.id)) for c in communities]
    return tr("onboard.pick_community"), paged(items, page=page, page_size=settings.page_size,
                                               level="community", parent=0, tr=tr)


async def compound_picker(uow: UnitOfWork, tr: Translator, settings: Settings, community_id: int, page: int,
                          back: bool = True):
    community = await uow.places.community(community_id)
    if community is None:
        return tr("error.not_found"), None
    compounds = await uow.places.compounds(community_id)
    items = [(c.name, PickCompound(community=community_id, compound=c.id)) for c in compounds]
    return tr("onboard.pick_compound", community=community.name), paged(
        items, page=page, page_size=settings.page_size, level="compound", parent=community_id, tr=tr,
        back=PickPage(level="community") if back else None)


async def building_picker(uow: UnitOfWork, tr: Translator, settings: Settings, compound_id: int, page: int):
    compound = await uow.places.compound(compound_id)
    if compound is None:
        return tr("error.not_found"), None
    buildings = await uow.places.buildings_of_compound(compound_id)
    items = [(b.name, PickBuilding(community=compound.community_id, compound=compound_id, building=b.id))
             for b in buildings]
    return tr("onboard.pick_building", compound=compound.name), paged(
        items, page=page, page_size=settings.page_size, level="building", parent=compound_id, tr=tr, columns=3,
        back=PickPage(level="compound", parent=compound.community_id))


async def _show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)
    else:  # the message is too old to edit (Telegram: 48 h): send a fresh one
        await query.bot.send_message(query.from_user.id, text, reply_markup=markup)


async def turn_page(query: CallbackQuery, callback_data: PickPage, uow: UnitOfWork, tr: Translator,
                    settings: Settings) -> None:
    level, parent, page = callback_data.level, callback_data.parent, callback_data.page
    if level == "compound":
        await _show(query, *await compound_picker(uow, tr, settings, parent, page))
    elif level == "building":
        await _show(query, *await building_picker(uow, tr, settings, parent, page))
    else:
        await _show(query, *await community_picker(uow, tr, settings, page))


async def chose_community(query: CallbackQuery, callback_data: PickCommunity, uow: UnitOfWork, tr: Translator,
                          settings: Settings) -> None:
    await _show(query, *await compound_picker(uow, tr, settings, callback_data.community, page=0))


async def chose_compound(query: CallbackQuery, callback_data: PickCompound, uow: UnitOfWork, tr: Translator,
                         settings: Settings) -> None:
    compound = await uow.places.compound(callback_data.compound)
    if compound is not None and compound.community_id != callback_data.community:
        community = await uow.places.community(callback_data.community)
        await query.answer(tr("place.mismatch", building=compound.name,
                              community=community.name if community else "?"), show_alert=True)
        return
    await _show(query, *await building_picker(uow, tr, settings, callback_data.compound, page=0))


async def chose_building(query: CallbackQuery, callback_data: PickBuilding, bot: Bot, uow: UnitOfWork,
                         person: Person, roles: Roles, tr: Translator, lang: str, now) -> None:
    await _settle(query, bot, uow, person, roles, tr, lang, now,
                  callback_data.community, callback_data.compound, callback_data.building)


async def change_home(query: CallbackQuery, uow: UnitOfWork, tr: Translator, settings: Settings) -> None:
    await query.answer()
    await query.bot.send_message(query.from_user.id, tr("onboard.or_location"), reply_markup=location_request(tr))
    text, markup = await community_picker(uow, tr, settings, page=0)
    await query.bot.send_message(query.from_user.id, text, reply_markup=markup)


async def _settle(query: CallbackQuery, bot: Bot, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator,
                  lang: str, now, community_id: int, compound_id: int, building_id: int) -> None:
    moving = roles.home_building_id() is not None
    address = await register_resident(uow, person, community_id, compound_id, building_id, now)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(address.full(), reply_markup=None)
    key = "onboard.moved" if moving else "onboard.registered"
    await bot.send_message(query.from_user.id, tr(key, address=address.full()), reply_markup=ReplyKeyboardRemove())
    await publish_commands(bot, query.from_user.id, await roles_of(uow, person), lang)


# ---- choosing a building by location ----------------------------------------------------------

async def shared_location(message: Message, uow: UnitOfWork, tr: Translator, settings: Settings) -> None:
    location = message.location
    buildings = await uow.places.buildings_with_position()
    near = nearest_buildings(buildings, location.latitude, location.longitude,
                             max_m=settings.nearest_building_max_m, limit=3)
    first, meters = near[0]
    first_address = await uow.places.address(first.id)
    choices = [(tr("onboard.nearest_yes"), NearestBuilding(building=first.id))]
    for other, other_m in near[1:]:
        address = await uow.places.address(other.id)
        choices.append((tr("onboard.nearest_other", address=address.short(), meters=round(other_m)),
                        NearestBuilding(building=other.id)))
    choices.append((tr("onboard.pick_by_hand"), PickPage(level="community")))
    await message.answer(tr("onboard.nearest", address=first_address.full(), meters=round(meters)),
                         reply_markup=column(choices))


async def confirmed_nearest(query: CallbackQuery, callback_data: NearestBuilding, bot: Bot, uow: UnitOfWork,
                            person: Person, roles: Roles, tr: Translator, lang: str, now) -> None:
    address = await uow.places.address(callback_data.building)
    if address is None:
        await query.answer(tr("error.not_found"), show_alert=True)
        return
    await _settle(query, bot, uow, person, roles, tr, lang, now,
                  address.community.id, address.compound.id, address.building.id)


def make_router() -> Router:
    """A fresh router each time, so every Dispatcher (tests make many) owns its own."""
    router = Router(name="start")
    router.message.register(start, CommandStart())
    router.callback_query.register(turn_page, PickPage.filter())
    router.callback_query.register(chose_community, PickCommunity.filter())
    router.callback_query.register(chose_compound, PickCompound.filter())
    router.callback_query.register(chose_building, PickBuilding.filter())
    router.callback_query.register(change_home, ChangeHome.filter())
    router.message.register(shared_location, F.location)
    router.callback_query.register(confirmed_nearest, NearestBuilding.filter())
    return router
