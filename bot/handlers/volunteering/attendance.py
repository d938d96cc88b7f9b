"""Check-in/out and hours in the chat: check in and out with photos, and from the roster: confirm
with stars, mark a no-show, check out for someone, lift a suspension."""

from __future__ import annotations

from aiogram.types import CallbackQuery, InlineKeyboardMarkup

from bot.callbacks import Vol
from bot.handlers.volunteering.common import done
from bot.keyboards import column, star_rows
from bot.scenes.volunteer import CheckIn, CheckOut
from texts import Translator
from core.cases import Actor
from core.people import Person, Roles
from core.ports import UnitOfWork
from core.volunteering import attendance_services, posts_services
from core.volunteering.attendance import hours_served


def star_buttons(post_number: str, person_id: int, tr: Translator) -> InlineKeyboardMarkup:
    return star_rows(lambda r: Vol(action="rate", ref=post_number, person=person_id, arg=str(r)))


async def on_duty(query: CallbackQuery, callback_data: Vol, scenes, uow: UnitOfWork, person: Person, roles: Roles,
                  now) -> None:
    """Check in or out: core decides at the press (one's own claim, the right state, check-in's time
    window), so nobody is asked for a photo that would then be refused."""
    checking_in = callback_data.action == "checkin"
    may = attendance_services.may_check_in if checking_in else attendance_services.may_check_out
    await may(uow, Actor.of(person, roles), callback_data.ref, now)
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    await scenes.enter(CheckIn if checking_in else CheckOut, post=callback_data.ref)


# ---- confirming, no-shows and suspensions (staff; the ordering resident confirms too) -------------

async def on_rate(query: CallbackQuery, callback_data: Vol, uow: UnitOfWork, person: Person, roles: Roles,
                  tr: Translator, volunteer_policy, now) -> None:
    if callback_data.arg not in {"1", "2", "3", "4", "5"}:
        await query.answer(tr("error.stale_button"), show_alert=True)
        return
    await attendance_services.confirm_service(uow, volunteer_policy, Actor.of(person, roles), callback_data.ref,
                                              callback_data.person, now, rating=int(callback_data.arg))
    who = await uow.people.get(callback_data.person)
    await done(query, tr("post.confirmed_done", name=who.display_name if who else "", rating=callback_data.arg,
                          post=callback_data.ref))


async def on_no_show(query: CallbackQuery, callback_data: Vol, uow: UnitOfWork, person: Person, roles: Roles,
                     tr: Translator, volunteer_policy, now) -> None:
    standing = await attendance_services.mark_no_show(uow, volunteer_policy, Actor.of(person, roles), callback_data.ref,
                                                      callback_data.person, now)
    who = await uow.people.get(callback_data.person)
    name = who.display_name if who else ""
    if standing.suspended:
        await done(query, tr("post.no_show_suspended", name=name, count=standing.no_shows), column(
            [(tr("vol.btn.lift"), Vol(action="lift", person=callback_data.person, arg=str(standing.community_id)))]))
    else:
        await done(query, tr("post.no_show_done", name=name, count=standing.no_shows))


async def on_lift(query: CallbackQuery, callback_data: Vol, uow: UnitOfWork, person: Person, roles: Roles,
                  tr: Translator, now) -> None:
    if not callback_data.arg.isdigit():
        await query.answer(tr("error.stale_button"), show_alert=True)
        return
    await attendance_services.lift_suspension(uow, Actor.of(person, roles), callback_data.person, int(callback_data.arg),
                                              now)
    who = await uow.people.get(callback_data.person)
    await done(query, tr("post.suspension_lifted_done", name=who.display_name if who else ""))


async def on_check_out_for(query: CallbackQuery, callback_data: Vol, uow: UnitOfWork, person: Person, roles: Roles,
                           tr: Translator, now) -> None:
    """Staff check out a member who forgot to, after the post ended (the core checks who and when);
    the hours run to the post's end. Then ⭐ confirm, as for any checked-out member."""
    claim = await attendance_services.check_out_for(uow, Actor.of(person, roles), callback_data.ref, callback_data.person,
                                                    now)
    post = await posts_services.post_by_number(uow, callback_data.ref)
    who = await uow.people.get(callback_data.person)
    name = who.display_name if who else ""
    hours = round(hours_served(claim, post).total_seconds() / 3600, 1)
    await done(query, tr("post.checked_out_for_done", name=name, hours=hours, post=post.number), column(
        [(tr("vol.btn.confirm", name=name), Vol(action="confirm", ref=post.number, person=callback_data.person))]))


async def on_confirm(query: CallbackQuery, callback_data: Vol, uow: UnitOfWork, person: Person, roles: Roles,
                     tr: Translator) -> None:
    """Staff pressed "confirm" on a roster line: core checks who may and that the service waits for it,
    then the stars are asked for (the press itself changes nothing)."""
    await attendance_services.may_confirm_service(uow, Actor.of(person, roles), callback_data.ref,
                                                  callback_data.person)
    await query.answer()
    await query.message.answer(tr("post.rate"), reply_markup=star_buttons(callback_data.ref, callback_data.person, tr))
