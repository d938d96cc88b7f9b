"""Handling cases in the chat: grid members accept, prove and resolve; residents confirm and rate;
departments claim; staff dispatch. Every button carries only the case number, and every press
goes through the core transition, which checks who may make it — a forged or stale press is refused
politely there."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.scene import Scene, on
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message

from bot.keyboards import button, column
from bot.photos import photo_data, photo_from_data, photo_or_say_why
from bot.scenes.report import start_report
from bot.texts import Translator
from core import reporting
from core.cases import Actor, Case, CaseState, HandlerKind, PhotoKind
from core.errors import NotAllowed
from core.onboarding import record
from core.people import Person, Role, Roles
from core.ports import UnitOfWork
from redgrid.settings import Settings


class CaseAct(CallbackData, prefix="ca"):
    action: str
    number: str
    arg: str = ""


def act(action: str, number: str, arg: str | int = "") -> CaseAct:
    return CaseAct(action=action, number=number, arg=str(arg))


def handler_buttons(case: Case, tr: Translator, duplicate_of: str | None = None) -> InlineKeyboardMarkup:
    """What the handler can do next, by the case's state."""
    n = case.number
    if case.state in (CaseState.ASSIGNED, CaseState.REOPENED, CaseState.FORWARDED):
        rows = [(tr("case.btn.accept"), act("accept", n)), (tr("case.btn.forward"), act("forward", n)),
                (tr("case.btn.not_mine"), act("notmine", n)), (tr("case.btn.escalate"), act("escalate", n))]
    elif case.state == CaseState.ESCALATED:
        rows = [(tr("case.btn.claim"), act("claim", n))]
    else:
        rows = [(tr("case.btn.during"), act("during", n)), (tr("case.btn.resolve"), act("resolve", n)),
                (tr("case.btn.escalate"), act("escalate", n)), (tr("case.btn.reject"), act("reject", n))]
    if duplicate_of:
        rows.append((tr("case.btn.merge", number=duplicate_of), act("merge", n, duplicate_of)))
    return column(rows)


def desk_buttons(case: Case, tr: Translator, members: list[Person]) -> InlineKeyboardMarkup:
    rows = [(tr("case.btn.assign", name=m.display_name), act("assign", case.number, m.id)) for m in members]
    rows += [(tr("case.btn.escalate"), act("escalate", case.number)), (tr("case.btn.reject"), act("reject", case.number))]
    return column(rows)


def outcome_buttons(case: Case, tr: Translator) -> InlineKeyboardMarkup:
    return column([(tr("case.btn.fixed"), act("fixed", case.number)), (tr("case.btn.not_fixed"), act("notfixed", case.number))])


async def _done(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Acknowledge the press, drop the old buttons so they cannot be pressed twice, say what happened."""
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(text, reply_markup=markup)


# ---- grid member / department / staff presses ---------------------------------------------------

async def on_case_button(query: CallbackQuery, callback_data: CaseAct, uow: UnitOfWork, person: Person,
                         roles: Roles, tr: Translator, now, scenes, policy: reporting.ReportPolicy) -> None:
    by, n, a = Actor.of(person, roles), callback_data.number, callback_data.action
    if a == "accept":
        case = await reporting.accept_case(uow, by, n, now)
        await _done(query, tr("case.accepted_by_you", number=n), handler_buttons(case, tr))
    elif a == "notmine":
        await reporting.not_mine(uow, by, n, now)
        await _done(query, tr("case.not_mine_done", number=n))
    elif a == "claim":
        case = await reporting.claim_escalation(uow, by, n, now)
        await _done(query, tr("case.claimed_done", number=n), handler_buttons(case, tr))
    elif a == "reject":
        await reporting.reject_report(uow, by, n, tr("case.reject_reason"), now)
        await _done(query, tr("case.rejected_done", number=n))
    elif a == "merge":
        await reporting.merge_cases(uow, by, n, callback_data.arg, now)
        await _done(query, tr("case.merged_done", number=n, into=callback_data.arg))
    elif a == "assign" and callback_data.arg.isdigit():
        await reporting.reassign(uow, by, n, int(callback_data.arg), now)
        await _done(query, tr("case.assigned_done", number=n))
    elif a in ("escalate", "forward"):
        contacts = await uow.people.with_role(Role.DEPARTMENT)
        if not contacts:
            await query.answer(tr("case.no_departments"), show_alert=True)
            return
        await query.answer()
        await query.message.answer(tr("case.pick_department"), reply_markup=column(
            [(c.display_name, act(f"{a}_to", n, c.id)) for c in contacts]))
    elif a == "forward_to" and callback_data.arg.isdigit():
        await reporting.forward_case(uow, by, n, HandlerKind.DEPARTMENT, int(callback_data.arg), now)
        await _done(query, tr("case.forwarded_done", number=n))
    elif a == "escalate_to" and callback_data.arg.isdigit():
        await reporting.escalate_case(uow, policy, by, n, int(callback_data.arg), now)
        await _done(query, tr("case.escalated_done", number=n))
    elif a in ("during", "resolve"):
        case = await reporting.case_for(uow, n)
        if not case.is_handled_by(person.id):
            raise NotAllowed(action=f"case.{a}")
        await query.answer()
        await scenes.enter(ResolveCase if a == "resolve" else DuringPhoto, number=n)
    elif a == "fixed":
        await query.answer()
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(tr("case.rate"), reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
            button("⭐" * r, act("rate", n, r)) for r in (1, 2, 3)], [button("⭐" * r, act("rate", n, r)) for r in (4, 5)]]))
    elif a == "rate" and callback_data.arg in {"1", "2", "3", "4", "5"}:
        await reporting.confirm_fix(uow, by, n, int(callback_data.arg), now, policy=policy)
        await _done(query, tr("case.thanks_rating", number=n, rating=callback_data.arg))
    elif a == "notfixed":
        await reporting.reject_fix(uow, by, n, "", now)
        await _done(query, tr("case.reopened_for_you", number=n))
    else:
        await query.answer(tr("error.stale_button"), show_alert=True)


class CaseDialog(Scene, reset_data_on_enter=True):
    """A handler's photo step for one case; the case number rides in the dialog's data."""

    @on.callback_query.enter()
    async def enter(self, query: CallbackQuery, tr: Translator, number: str = "", **_: Any) -> None:
        await self.wizard.update_data(number=number)
        await query.message.answer(tr(self.ask_key))

    @on.message()
    async def not_a_photo(self, message: Message, tr: Translator) -> None:
        await message.answer(tr(self.ask_key))


class DuringPhoto(CaseDialog, state="case.during"):
    ask_key = "case.ask_during_photo"

    @on.message(F.photo | F.document)
    async def photo(self, message: Message, bot: Bot, uow: UnitOfWork, person: Person, roles: Roles,
                    tr: Translator, photos, now) -> None:
        photo = await photo_or_say_why(message, bot, photos, PhotoKind.DURING, tr)
        if photo is None:
            return
        number = (await self.wizard.get_data())["number"]
        await reporting.add_during_photo(uow, Actor.of(person, roles), number, photo, now)
        await uow.commit()
        await self.wizard.exit()
        case = await reporting.case_for(uow, number)
        await message.answer(tr("case.during_saved"), reply_markup=handler_buttons(case, tr))


class ResolveCase(CaseDialog, state="case.resolve"):
    ask_key = "case.ask_after_photo"

    @on.message(F.photo | F.document)
    async def photo(self, message: Message, bot: Bot, tr: Translator, photos) -> None:
        data = await self.wizard.get_data()
        if data.get("after"):
            await message.answer(tr("case.ask_note"))
            return
        photo = await photo_or_say_why(message, bot, photos, PhotoKind.AFTER, tr)
        if photo is None:
            return
        await self.wizard.update_data(after=photo_data(photo))
        await message.answer(tr("case.ask_note"))

    @on.message(F.text)
    async def note(self, message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator,
                   now) -> None:
        data = await self.wizard.get_data()
        if not data.get("after"):
            await message.answer(tr(self.ask_key))
            return
        after = data["after"]
        photo = photo_from_data(after, PhotoKind.AFTER)
        await reporting.resolve_case(uow, Actor.of(person, roles), data["number"], photo, message.text, now)
        await uow.commit()
        await self.wizard.exit()
        await message.answer(tr("case.resolved_by_you", number=data["number"]))


# ---- lists -------------------------------------------------------------------------------------

def case_list(cases: list[Case], tr: Translator) -> InlineKeyboardMarkup:
    """One button per case, number and state; pressing it shows the case's story."""
    return column([(tr("case.btn.history", number=c.number, state=tr(f"state.{c.state.value}")),
                    act("history", c.number)) for c in cases])


async def _list_or_say_none(message: Message, cases: list[Case], tr: Translator, title: str, none: str) -> None:
    if cases:
        await message.answer(tr(title), reply_markup=case_list(cases, tr))
    else:
        await message.answer(tr(none))


async def my_cases(message: Message, uow: UnitOfWork, person: Person, tr: Translator) -> None:
    await _list_or_say_none(message, await uow.cases.of_reporter(person.id), tr, "my.title", "my.none")


async def cases_i_handle(message: Message, uow: UnitOfWork, person: Person, tr: Translator) -> None:
    await _list_or_say_none(message, await uow.cases.handled_by(person.id), tr, "my.handling", "my.handling_none")


async def desk(message: Message, uow: UnitOfWork, roles: Roles, tr: Translator, now) -> None:
    communities = roles.staff_communities() or ({c.id for c in await uow.places.communities()} if roles.is_admin else set())
    if not communities:
        raise NotAllowed(action="desk")
    await _list_or_say_none(message, await uow.cases.desk(communities, now), tr, "desk.title", "desk.none")


async def _card_or_none(case: Case, tr: Translator, settings: Settings, photos, now) -> bytes | None:
    """A resolved case is shown by its three-photo card; an open one by the resident's photo."""
    if not case.photos_of(PhotoKind.AFTER):
        return None
    from bot.notify import CaseRenderer

    return await CaseRenderer(settings, photos).card(case, tr, now)


async def history(query: CallbackQuery, callback_data: CaseAct, uow: UnitOfWork, person: Person, roles: Roles,
                  tr: Translator, settings: Settings, photos, now) -> None:
    """A case's story, for those who may see it: its reporters, its handler, the community's staff."""
    from bot.notify import case_history

    case = await reporting.case_for(uow, callback_data.number)
    may_see = (person.id in (case.reporter_id, case.handler_id, *case.me_too) or roles.is_staff_of(case.community_id))
    if not may_see:
        raise NotAllowed(action="case.history")
    await query.answer()
    # PIPL: residents' photos and places are personal information; keep who looked at them.
    await record(uow, "case", case.number, "viewed", now, person.id)
    before = case.photos_of(PhotoKind.BEFORE)
    if before:
        picture = card if (card := await _card_or_none(case, tr, settings, photos, now)) else await photos.load(before[0].sha256)
        await query.message.answer_photo(BufferedInputFile(picture, f"{case.number}.jpg"))
    markup = None
    if case.is_handled_by(person.id):
        markup = handler_buttons(case, tr)
    elif roles.is_staff_of(case.community_id) and case.is_open:
        markup = desk_buttons(case, tr, list(await uow.people.grid_members(case.grid_id)))
    await query.message.answer(await case_history(uow, case, tr, settings, now), reply_markup=markup)


def make_router() -> Router:
    """A fresh router each time, so every Dispatcher (tests make many) owns its own."""
    router = Router(name="cases")
    router.message.register(start_report, Command("report"), StateFilter(None))
    router.message.register(start_report, F.photo, StateFilter(None))
    router.message.register(start_report, F.document.mime_type.startswith("image/"), StateFilter(None))
    router.message.register(my_cases, Command("my"))
    router.message.register(cases_i_handle, Command("cases"))
    router.message.register(desk, Command("desk"))
    router.callback_query.register(history, CaseAct.filter(F.action == "history"))
    router.callback_query.register(on_case_button, CaseAct.filter())
    return router


SCENES = (DuringPhoto, ResolveCase)