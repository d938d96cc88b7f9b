"""Orders ("群众点单") in the chat: the resident's /ask (bot/scenes/ask.py) and the staff desk /orders
(make a post of an order, or decline it)."""

from __future__ import annotations

from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.callbacks import Vol
from bot.config import Settings
from bot.handlers.volunteering.common import when
from bot.keyboards import column
from bot.scenes.post import PostTitle
from bot.scenes.volunteer import Reason
from texts import Translator
from core.cases import Actor
from core.people import Person, Roles
from core.ports import UnitOfWork
from core.volunteering import orders_services


def order_buttons(number: str, tr: Translator) -> InlineKeyboardMarkup:
    return column([(tr("vol.btn.make_post"), Vol(action="dispatch", ref=number)),
                   (tr("vol.btn.decline_order"), Vol(action="odecline", ref=number))])


# ---- orders: the staff desk ----------------------------------------------------------------------

async def order_desk(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator,
                     settings: Settings, now) -> None:
    orders = await orders_services.order_desk(uow, Actor.of(person, roles))
    if not orders:
        await message.answer(tr("order.none"))
        return
    await message.answer(tr("order.desk_title", count=len(orders)))
    for order in orders:
        await message.answer(tr("order.card", order=order.number, kind=tr(f"service.{order.kind.value}"),
                                words=order.description or tr("report.no_words"), when=order.preferred_time,
                                place=order.place, at=when(order.created_at, settings, tr, now)),
                             reply_markup=order_buttons(order.number, tr))


async def on_order(query: CallbackQuery, callback_data: Vol, scenes, uow: UnitOfWork, person: Person, roles: Roles,
                   tr: Translator) -> None:
    order = await orders_services.order_to_decide(uow, Actor.of(person, roles), callback_data.ref)
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    if callback_data.action == "dispatch":
        await scenes.enter(PostTitle, community=order.community_id, order=order.number,
                           title=tr(f"service_title.{order.kind.value}"), place=order.place)
    else:
        await scenes.enter(Reason, what="order", ref=order.number)
