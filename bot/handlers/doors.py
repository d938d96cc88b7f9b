"""Door codes in the Telegram channel (门牌二维码): `/start q…` from a scanned card, and `/qr`, which sends
staff the printable sheet of their community's cards.

A newcomer's scan goes through the privacy notice first (bot/handlers/privacy.py carries the payload
through it); once they agree, `after_agreeing` asks the one question left — "do you live here?" — whose
✅ registers them at that building (the same button as the nearest-building offer). A registered
resident's scan opens the report dialog already placed at that building. A code that is not ours is
refused by core (BadDoorCode) before anything is read or written.
"""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import BufferedInputFile, Message

from bot.callbacks import NearestBuilding, PickPage
from bot.handlers.start import building_picker
from bot.keyboards import column
from bot.scenes.report import ReportPhotos
from core.access import desk_communities
from core.cases import Actor
from core.cases_services import ReportPolicy
from core.door_code_services import DoorPlace, door_cards, open_door
from core.door_codes import BadDoorCode, deep_link, looks_like_door_code, verify
from core.limits_services import may_report
from core.people import Person, Role, Roles
from core.ports import UnitOfWork
from texts import Translator
from bot.config import Settings

log = logging.getLogger(__name__)


def is_door_payload(payload: str) -> bool:
    return looks_like_door_code(payload.strip())


def genuine(payload: str, secret: bytes) -> bool:
    """The signature holds (no database): the privacy notice refuses a forged code before anything else."""
    try:
        verify(payload, secret)
    except BadDoorCode:
        return False
    return True


async def offer_home(bot: Bot, chat_id: int, uow: UnitOfWork, place: DoorPlace, tr: Translator,
                     settings: Settings) -> None:
    """"Do you live here?" in one tap; or the compound's buildings, for a gate's or garage's card."""
    if place.address is not None:
        assert place.compound.id is not None
        await bot.send_message(chat_id, tr("door.live_here", place=place.title(tr.lang)), reply_markup=column([
            (tr("door.yes_live_here"), NearestBuilding(building=place.address.building.id)),
            (tr("door.other_building"), PickPage(level="building", parent=place.compound.id))]))
        return
    assert place.compound.id is not None
    text, markup = await building_picker(uow, tr, settings, place.compound.id, page=0)
    await bot.send_message(chat_id, tr("door.which_building", place=place.title(tr.lang)) + "\n\n" + text,
                           reply_markup=markup)


async def after_agreeing(bot: Bot, chat_id: int, uow: UnitOfWork, payload: str, tr: Translator, secret: bytes,
                         settings: Settings) -> None:
    """A newcomer who scanned a card has just agreed to the notice: the building of that card, one tap away."""
    place = await open_door(uow, secret, payload)
    await offer_home(bot, chat_id, uow, place, tr, settings)


async def scanned(message: Message, command: CommandObject, bot: Bot, uow: UnitOfWork, person: Person,
                  roles: Roles, tr: Translator, door_secret: bytes, policy: ReportPolicy, settings: Settings,
                  scenes, now) -> None:
    """`/start q…` from someone who has agreed to the notice: a resident reports here; anyone else
    (staff, a grid member not living in the community yet) is offered to live here."""
    place = await open_door(uow, door_secret, (command.args or "").strip())
    if not roles.has(Role.RESIDENT):
        await offer_home(bot, message.chat.id, uow, place, tr, settings)
        return
    await may_report(uow, policy.limits, Actor.of(person, roles), now)  # refused politely by the middleware
    await message.answer(tr("door.report_here", place=place.title(tr.lang)))
    await scenes.enter(ReportPhotos, door_building=place.building_id,
                       door_compound=None if place.address is not None else place.compound.id)


# ---- /qr: the sheet of a community's cards -------------------------------------------------------

async def send_cards(message: Message, command: CommandObject, bot: Bot, uow: UnitOfWork, person: Person,
                     roles: Roles, tr: Translator, door_secret: bytes, settings: Settings) -> None:
    """/qr [community code]: the PDF of the community's door cards, for its staff (or an administrator)."""
    by = Actor.of(person, roles)
    ids = await desk_communities(uow, by, "door_cards")  # nobody's desk: refused before anything is drawn
    communities = [c for c in await uow.places.communities() if c.id in ids]
    wanted = (command.args or "").strip()
    if wanted:
        communities = [c for c in communities if wanted in (c.code, c.name, str(c.id))]
        if not communities:
            await message.answer(tr("door.no_such_community", community=wanted))
            return
    if len(communities) != 1:
        await message.answer(tr("door.pick_community",
                                codes="\n".join(f"/qr {c.code} — {c.name}" for c in communities)))
        return
    community = communities[0]
    assert community.id is not None
    cards = await door_cards(uow, by, door_secret, community.id)
    if not cards:
        await message.answer(tr("door.no_buildings", community=community.name))
        return
    username = settings.bot_username or (await bot.me()).username or ""
    from media.door_cards import CardFace, NoCjkFont, cards_pdf

    faces = [CardFace(deep_link(username, c.payload), c.title, c.community) for c in cards]
    try:
        pdf = await asyncio.to_thread(cards_pdf, faces)
    except NoCjkFont as missing:
        log.error("/qr: %s", missing)
        await message.answer(tr("door.no_font"))
        return
    await message.answer_document(BufferedInputFile(pdf, filename=f"door-codes-{community.code}.pdf"),
                                  caption=tr("door.sheet_caption", community=community.name, count=len(cards)))


def make_router() -> Router:
    """A fresh router each time; it goes before start's, whose /start takes every other payload."""
    router = Router(name="doors")
    router.message.register(scanned, CommandStart(deep_link=True, magic=F.args.func(is_door_payload)))
    router.message.register(send_cards, Command("qr"))
    return router
