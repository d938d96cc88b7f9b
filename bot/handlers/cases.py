"""Handling cases in the chat: grid members accept, prove and resolve; residents confirm and rate;
departments claim; staff dispatch. Every button carries only the case number, and every press
goes through the core transition, which checks who may make it — a forged or stale press is refused
politely there."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.scene import Scene, on
from aiogram.types import (
    BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, KeyboardButton, Message, ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.config import Settings
from bot.keyboards import column, paged, star_rows
from bot.photos import photo_data, photo_from_data, photo_or_say_why
from bot.voice import voice_or_say_why
from bot.scenes.report import start_report
from texts import Translator
from core import cases_services
from core.cases import (
    MAX_DESCRIPTION, Actor, Case, CaseState, ClosureReason, HandlerKind, NotFixedReason, PhotoKind, lacks_proof,
)
from core.disclosure_services import listed_phone
from core.dispatch import MemberChoice
from core.errors import DomainError
from core.people import Person, Roles
from core.ports import UnitOfWork
from core.proof import OFFERED_REASONS, SkipReason
from core.voice import VoicePurpose, duration_text
from core.voice_services import keep_with_case, voice_lengths


class CaseAct(CallbackData, prefix="ca"):
    action: str
    number: str
    arg: str = ""


# The reasons a handler or the desk may give for closing without a fix (a button each).
REJECT_REASONS = (ClosureReason.NOT_A_PROBLEM, ClosureReason.NOT_OUR_RESPONSIBILITY, ClosureReason.CANNOT_FIX_NOW)


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
    """The desk's choices: the case's own grid members at once, any other grid member of the community
    (paged), a department (forward or escalate), or reject."""
    n = case.number
    rows = [(tr("case.btn.assign", name=m.display_name), act("assign", n, m.id)) for m in members]
    rows += [(tr("case.btn.more_members"), act("members", n)), (tr("case.btn.forward"), act("forward", n)),
             (tr("case.btn.escalate"), act("escalate", n)), (tr("case.btn.reject"), act("reject", n))]
    return column(rows)


def member_page(number: str, members: list[MemberChoice], page: int, page_size: int,
                tr: Translator) -> InlineKeyboardMarkup:
    """The community's grid members, by compound and grid ("粮食局小区 第一网格 · 李秀英"), a page at a time."""
    items = [(tr("case.member_choice", place=m.place, name=_with_phone(m.person)),
              act("assign", number, m.person.id)) for m in members]
    return paged(items, page=page, page_size=page_size, level="case", parent=0, tr=tr, columns=1,
                 turn=lambda to: act("members", number, to))


def _with_phone(person: Person) -> str:
    """A grid member in the desk's list: the name, and the phone masked as core shows it in lists."""
    phone = listed_phone(person)
    return f"{person.display_name} {phone}" if phone else person.display_name


def outcome_buttons(case: Case, tr: Translator) -> InlineKeyboardMarkup:
    """"Fixed?" for the first reporter (closes or reopens the case)."""
    return column([(tr("case.btn.fixed"), act("fixed", case.number)), (tr("case.btn.not_fixed"), act("notfixed", case.number))])


def feedback_buttons(case: Case, tr: Translator) -> InlineKeyboardMarkup:
    """The same question for neighbours who joined: their answer is feedback, it changes no state."""
    return column([(tr("case.btn.fixed"), act("sfixed", case.number)), (tr("case.btn.not_fixed"), act("snotfixed", case.number))])


def not_fixed_reasons(number: str, tr: Translator) -> InlineKeyboardMarkup:
    reasons = [r for r in NotFixedReason if r != NotFixedReason.OTHER]
    return column([(tr(f"case.not_fixed.{r.value}"), act("why", number, r.value)) for r in reasons]
                  + [(tr("case.not_fixed.skip"), act("why", number))])


async def _done(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Acknowledge the press, drop the old buttons so they cannot be pressed twice, say what happened."""
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(text, reply_markup=markup)


# ---- grid member / department / staff presses ---------------------------------------------------

async def on_case_button(query: CallbackQuery, callback_data: CaseAct, uow: UnitOfWork, person: Person,
                         roles: Roles, tr: Translator, now, scenes, policy: cases_services.ReportPolicy,
                         settings: Settings) -> None:
    by, n, a = Actor.of(person, roles), callback_data.number, callback_data.action
    if a == "accept":
        case = await cases_services.accept_case(uow, by, n, now)
        await _done(query, tr("case.accepted_by_you", number=n), handler_buttons(case, tr))
    elif a == "notmine":
        await cases_services.not_mine(uow, by, n, now)
        await _done(query, tr("case.not_mine_done", number=n))
    elif a == "claim":
        case = await cases_services.claim_escalation(uow, by, n, now)
        await _done(query, tr("case.claimed_done", number=n), handler_buttons(case, tr))
    elif a == "reject":  # closing without a fix says why, in words the resident reads in her language
        await cases_services.check_case_action(uow, by, n, "reject")
        await query.answer()
        await query.message.answer(tr("case.ask_reject_reason", number=n), reply_markup=column(
            [(tr(f"case.reject_reason.{r.value}"), act("rejectwhy", n, r.value)) for r in REJECT_REASONS]))
    elif a == "rejectwhy" and callback_data.arg in {r.value for r in REJECT_REASONS}:
        reason = ClosureReason(callback_data.arg)
        await cases_services.reject_report(uow, by, n, reason, now)
        await _done(query, tr("case.rejected_done", number=n, reason=tr(f"case.reject_reason.{reason.value}")))
    elif a == "merge":
        await cases_services.merge_cases(uow, by, n, callback_data.arg, now)
        await _done(query, tr("case.merged_done", number=n, into=callback_data.arg))
    elif a == "members" and (callback_data.arg == "" or callback_data.arg.isdigit()):
        members = await cases_services.desk_members(uow, by, n, now)  # refused before the roster is shown
        markup = member_page(n, members, int(callback_data.arg or 0), settings.page_size, tr)
        await query.answer()
        if not callback_data.arg:  # opened from the desk: a new message; ◀ ▶ turn its page
            await query.message.answer(tr("case.pick_member", number=n), reply_markup=markup)
        else:
            await query.message.edit_reply_markup(reply_markup=markup)
    elif a == "assign" and callback_data.arg.isdigit():
        await cases_services.reassign(uow, by, n, int(callback_data.arg), now)
        await _done(query, tr("case.assigned_done", number=n))
    elif a in ("escalate", "forward"):
        contacts = await cases_services.handover_targets(uow, by, n, a)  # refused before departments are offered
        if not contacts:
            await query.answer(tr("case.no_departments"), show_alert=True)
            return
        await query.answer()
        await query.message.answer(tr("case.pick_department"), reply_markup=column(
            [(c.label, act(f"{a}_to", n, c.person.id)) for c in contacts]))
    elif a == "forward_to" and callback_data.arg.isdigit():
        await cases_services.forward_case(uow, by, n, HandlerKind.DEPARTMENT, int(callback_data.arg), now)
        await _done(query, tr("case.forwarded_done", number=n))
    elif a == "escalate_to" and callback_data.arg.isdigit():
        await cases_services.escalate_case(uow, policy, by, n, int(callback_data.arg), now)
        await _done(query, tr("case.escalated_done", number=n))
    elif a in ("during", "resolve"):
        await cases_services.check_case_action(uow, by, n, a)  # refuse before asking for a photo
        await query.answer()
        await scenes.enter(ResolveCase if a == "resolve" else DuringPhoto, number=n)
    elif a in ("fixed", "notfixed", "sfixed", "snotfixed"):
        await _fixed_or_not(query, uow, by, n, a, tr, scenes)
    elif a == "reopen":  # a case closed by the reporter's silence, not fixed after all
        await cases_services.reopen_after_auto_close(uow, by, n, now, policy=policy)
        await _done(query, tr("case.reopened_done", number=n))
    elif a in ("rate", "srate") and callback_data.arg in {"1", "2", "3", "4", "5"}:
        rating = int(callback_data.arg)
        if a == "rate":
            await cases_services.confirm_fix(uow, by, n, rating, now, policy=policy)
            await _done(query, tr("case.thanks_rating", number=n, rating=rating))
        else:
            await cases_services.give_feedback(uow, by, n, True, now, rating=rating)
            await _done(query, tr("case.feedback_thanks", number=n))
    else:
        await query.answer(tr("error.stale_button"), show_alert=True)


async def _fixed_or_not(query: CallbackQuery, uow: UnitOfWork, by: Actor, n: str, a: str, tr: Translator,
                        scenes) -> None:
    """👍 / 👎 on a resolved case. The first reporter's answer closes or reopens it; a neighbour who
    joined gives feedback (also under an older message that showed them the reporter's buttons).
    Checked before the stars or the reasons are shown."""
    fixed = a in ("fixed", "sfixed")
    joiner = await cases_services.answer_outcome(uow, by, n, fixed)
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    if fixed:
        await query.message.answer(tr("case.rate"), reply_markup=star_rows(
            lambda r: act("srate" if joiner else "rate", n, r)))
    else:
        await scenes.enter(NotFixedWhy, number=n, joiner=joiner)


class NotFixedWhy(Scene, state="case.not_fixed"):
    """👎: why is it not fixed? A reason button, a few typed words, or skip; then the case goes back to
    its handler (the reporter) or the feedback goes to staff (a neighbour who joined)."""

    @on.callback_query.enter()
    async def enter(self, query: CallbackQuery, tr: Translator, number: str = "", joiner: bool = False,
                    **_: Any) -> None:
        await self.wizard.set_data({"number": number, "joiner": joiner})
        await query.message.answer(tr("case.ask_not_fixed_reason", number=number),
                                   reply_markup=not_fixed_reasons(number, tr))

    @on.callback_query(CaseAct.filter(F.action == "why"))
    async def picked(self, query: CallbackQuery, callback_data: CaseAct, uow: UnitOfWork, person: Person,
                     roles: Roles, tr: Translator, now) -> None:
        reason = NotFixedReason(callback_data.arg) if callback_data.arg in {r.value for r in NotFixedReason} else None
        if callback_data.arg and reason is None:
            await query.answer(tr("error.stale_button"), show_alert=True)
            return
        if callback_data.number != (await self.wizard.get_data()).get("number"):
            await query.answer(tr("error.stale_button"), show_alert=True)
            return
        said = await self._send_back(uow, Actor.of(person, roles), reason, "", tr, now)
        await _done(query, said)

    @on.message(F.text)
    async def typed(self, message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator,
                    now) -> None:
        if len(message.text) > MAX_DESCRIPTION:
            await message.answer(tr("report.words_too_long", max=MAX_DESCRIPTION))
            return
        said = await self._send_back(uow, Actor.of(person, roles), NotFixedReason.OTHER, message.text, tr, now)
        await message.answer(said)

    @on.message(F.voice)
    async def spoken(self, message: Message, bot: Bot, uow: UnitOfWork, person: Person, roles: Roles,
                     tr: Translator, settings: Settings, now) -> None:
        """The reason said in a voice note: the case goes back, and its handler hears the note. Too long
        or too big: said politely, and the question stays."""
        data = await self.wizard.get_data()
        if data.get("joiner"):  # a neighbour's feedback is words or a button
            await message.answer(tr("voice.not_here"))
            return
        clip = await voice_or_say_why(message, bot, settings, tr)
        if clip is None:
            return
        number = data["number"]
        by = Actor.of(person, roles)
        said = await self._send_back(uow, by, NotFixedReason.OTHER, "", tr, now)
        await keep_with_case(uow, by, number, clip, VoicePurpose.REJECTION, now)
        await message.answer(said)

    @on.message()
    async def not_text(self, message: Message, tr: Translator) -> None:
        number = (await self.wizard.get_data()).get("number", "")
        await message.answer(tr("case.ask_not_fixed_reason", number=number),
                             reply_markup=not_fixed_reasons(number, tr))

    async def _send_back(self, uow: UnitOfWork, by: Actor, reason: NotFixedReason | None, comment: str,
                         tr: Translator, now) -> str:
        data = await self.wizard.get_data()
        number = data["number"]
        if data.get("joiner"):
            await cases_services.give_feedback(uow, by, number, False, now, reason=reason, comment=comment)
            said = tr("case.feedback_thanks", number=number)
        else:
            await cases_services.reject_fix(uow, by, number, comment, now, reason=reason)
            said = tr("case.reopened_for_you", number=number)
        await self.wizard.exit()
        return said


class CaseDialog(Scene, reset_data_on_enter=True):
    """A handler's photo step for one case; the case number rides in the dialog's data.

    An album arrives as one message per photo, all at once. The step takes it as one answer: the
    first photo finishes it, and the album's other photos, which then find no dialog open, are
    taken by `rest_of_album` (the step leaves an `album_tail` in the dialog's data for them)."""

    @on.callback_query.enter()
    async def enter(self, query: CallbackQuery, tr: Translator, number: str = "", **_: Any) -> None:
        await self.wizard.update_data(number=number)
        await query.message.answer(tr(self.ask_key))

    @on.message()
    async def not_a_photo(self, message: Message, tr: Translator) -> None:
        await message.answer(tr(self.ask_key))

    async def leave_album_tail(self, message: Message, kind: PhotoKind, number: str, answer: Message,
                               text: str, count: int = 1) -> None:
        """After the step's exit: what `rest_of_album` needs for the album's other photos."""
        if message.media_group_id:
            await self.wizard.state.update_data(album_tail={
                "album": message.media_group_id, "kind": kind.value, "number": number,
                "answer": answer.message_id, "text": text, "count": count})


class DuringPhoto(CaseDialog, state="case.during"):
    """Photos of the work under way: an album adds each of its photos (core allows five)."""

    ask_key = "case.ask_during_photo"

    @on.message(F.photo | F.document)
    async def photo(self, message: Message, bot: Bot, uow: UnitOfWork, person: Person, roles: Roles,
                    tr: Translator, photos, now) -> None:
        photo = await photo_or_say_why(message, bot, photos, PhotoKind.DURING, tr)
        if photo is None:
            return
        number = (await self.wizard.get_data())["number"]
        case = await cases_services.add_during_photo(uow, Actor.of(person, roles), number, photo, now)
        await self.wizard.exit()
        text = tr("case.during_saved_album", count=1) if message.media_group_id else tr("case.during_saved")
        answer = await message.answer(text, reply_markup=handler_buttons(case, tr))
        await self.leave_album_tail(message, PhotoKind.DURING, number, answer, text)


class ResolveCase(CaseDialog, state="case.resolve"):
    """The after-photo, a note, then proof on the spot (core.proof): a one-tap location, or a reason for
    none (a button, or typed words). Core takes one after-photo: of an album the first is used, and
    the person is told so. A caption is the note, so the location is asked for at once."""

    ask_key = "case.ask_after_photo"

    @on.message(F.photo | F.document)
    async def photo(self, message: Message, bot: Bot, uow: UnitOfWork, person: Person, roles: Roles,
                    tr: Translator, photos, now) -> None:
        data = await self.wizard.get_data()
        album = message.media_group_id
        caption = (message.caption or "").strip()
        if data.get("after"):
            if album and data.get("album") == album:  # the album whose first photo is the after-photo
                count = data.get("count", 1) + 1
                await self.wizard.update_data(count=count)
                if data.get("note"):  # waiting for the location: the answer will say which photo is used
                    return
                if caption:
                    await self.ask_proof(message, tr, caption)
                    return
                if data.get("prompt"):  # the note question, now saying which photo is used
                    await bot.edit_message_text(f"{tr('case.after_from_album', count=count)}\n{tr('case.ask_note')}",
                                                chat_id=message.chat.id, message_id=data["prompt"])
                return
            if data.get("note"):
                await self.ask_proof(message, tr, data["note"])
                return
            await message.answer(tr("case.ask_note"))
            return
        photo = await photo_or_say_why(message, bot, photos, PhotoKind.AFTER, tr)
        if photo is None:
            return
        await self.wizard.update_data(after=photo_data(photo), album=album, count=1)
        if caption:
            await self.ask_proof(message, tr, caption)
            return
        sent = await message.answer(tr("case.ask_note"))
        await self.wizard.update_data(prompt=sent.message_id)

    @on.message(F.location)
    async def location(self, message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator,
                       policy: cases_services.ReportPolicy, now) -> None:
        """The location counts only at its step; sent earlier it is not used, and the person is told
        what comes first (nothing is lost: the step asks for it again)."""
        data = await self.wizard.get_data()
        if not data.get("after"):
            await message.answer(tr("proof.not_now_photo"))
            return
        if not data.get("note"):
            await message.answer(tr("proof.not_now_note"))
            return
        where = (message.location.latitude, message.location.longitude)
        await self.resolve(message, uow, person, roles, tr, now, policy, location=where)

    @on.callback_query(CaseAct.filter(F.action == "proofwhy"))
    async def reason(self, query: CallbackQuery, callback_data: CaseAct, uow: UnitOfWork, person: Person,
                     roles: Roles, tr: Translator, policy: cases_services.ReportPolicy, now) -> None:
        data = await self.wizard.get_data()
        if (callback_data.number != data.get("number") or not data.get("note")
                or callback_data.arg not in {r.value for r in OFFERED_REASONS}):
            await query.answer(tr("error.stale_button"), show_alert=True)
            return
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.edit_reply_markup(reply_markup=None)
            await self.resolve(query.message, uow, person, roles, tr, now, policy,
                               skip=SkipReason(callback_data.arg))

    @on.message(F.text)
    async def note(self, message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator,
                   policy: cases_services.ReportPolicy, now) -> None:
        data = await self.wizard.get_data()
        if not data.get("after"):
            await message.answer(tr(self.ask_key))
            return
        if not data.get("note"):
            if len(message.text) > MAX_DESCRIPTION:
                await message.answer(tr("report.words_too_long", max=MAX_DESCRIPTION))
                return
            await self.ask_proof(message, tr, message.text)
            return
        # at the location step, words are the reason there is no location
        await self.resolve(message, uow, person, roles, tr, now, policy, skip=SkipReason.OTHER,
                           words=message.text)

    async def ask_proof(self, message: Message, tr: Translator, note: str) -> None:
        """The note is known: ask for the location (a reply keyboard's one-tap button) or a reason."""
        note = note.strip()
        if not note:
            await message.answer(tr("case.ask_note"))
            return
        number = (await self.wizard.get_data())["number"]
        await self.wizard.update_data(note=note)
        await message.answer(tr("proof.ask"), reply_markup=column(
            [(tr(f"proof.reason.{r.value}"), act("proofwhy", number, r.value)) for r in OFFERED_REASONS]))
        await message.answer(tr("proof.tap_below"), reply_markup=ReplyKeyboardMarkup(
            keyboard=[[KeyboardButton(text=tr("proof.send_location"), request_location=True)]],
            resize_keyboard=True, one_time_keyboard=True))

    async def resolve(self, message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator,
                      now, policy: cases_services.ReportPolicy, *, location: tuple[float, float] | None = None,
                      skip: SkipReason | None = None, words: str = "") -> None:
        data = await self.wizard.get_data()
        photo = photo_from_data(data["after"], PhotoKind.AFTER)
        note = data["note"]
        case = await cases_services.resolve_case(uow, Actor.of(person, roles), data["number"], photo, note, now,
                                                 location=location, skip_reason=skip, skip_words=words,
                                                 policy=policy)
        await self.wizard.exit()
        text = tr("case.resolved_with_note", number=data["number"], note=note)
        count = data.get("count", 1)
        lines = [text, proof_line(case, tr)]
        if count > 1:
            lines.append(tr("case.after_from_album", count=count))
        await message.answer("\n".join(line for line in lines if line), reply_markup=ReplyKeyboardRemove())


def proof_line(case: Case, tr: Translator) -> str:
    """What the handler is told about their proof on the spot ("" when it was not asked)."""
    if case.on_site is None:
        return ""
    metres = round(case.proof_distance_m) if case.proof_distance_m is not None else None
    if case.on_site:
        return tr("proof.on_site", metres=metres)
    if metres is not None:
        return tr("proof.far", metres=metres)
    return tr("proof.skipped", reason=proof_reason_text(case.proof_reason, case.proof_words, tr))


def proof_reason_text(reason: str | None, words: str | None, tr: Translator) -> str:
    """The reason there was no proof: the person's words, else the code in the reader's language."""
    if words:
        return words
    return tr(f"proof.reason.{reason}") if reason in {r.value for r in SkipReason} else "?"


async def album_tail(message: Message, state: FSMContext) -> dict | bool:
    """A filter: this photo belongs to an album whose first photo finished a handler's photo step."""
    tail = (await state.get_data()).get("album_tail")
    if tail and message.media_group_id and tail.get("album") == message.media_group_id:
        return {"tail": tail}
    return False


async def rest_of_album(message: Message, tail: dict, state: FSMContext, bot: Bot, uow: UnitOfWork,
                        person: Person, roles: Roles, tr: Translator, photos, now) -> None:
    """The rest of an album that finished a photo step: during-photos are added (one answer, its count
    edited); after an after-photo the others are not used, and the answer says the first one was."""
    count = tail["count"] + 1
    if tail["kind"] == PhotoKind.DURING.value:
        photo = await photo_or_say_why(message, bot, photos, PhotoKind.DURING, tr)
        if photo is None:
            return
        try:
            case = await cases_services.add_during_photo(uow, Actor.of(person, roles), tail["number"], photo, now)
        except DomainError as refusal:  # five at most: said once for the album
            await uow.rollback()
            if not tail.get("refused"):
                await message.answer(tr(refusal.key, **refusal.params))
                await state.update_data(album_tail={**tail, "refused": True})
            return
        text = tr("case.during_saved_album", count=count)
        await bot.edit_message_text(text, chat_id=message.chat.id, message_id=tail["answer"],
                                    reply_markup=handler_buttons(case, tr))
    else:
        text = f"{tail['text']}\n{tr('case.after_from_album', count=count)}"
        await bot.edit_message_text(text, chat_id=message.chat.id, message_id=tail["answer"])
    await state.update_data(album_tail={**tail, "count": count})


# ---- lists -------------------------------------------------------------------------------------

def case_list(cases: list[Case], tr: Translator, voices: dict[int, list[int]] | None = None, *,
              flags: bool = False) -> InlineKeyboardMarkup:
    """One button per case, number and state (and "🎤 0:42" for each voice note kept with it);
    pressing it shows the case's story. A fix proved on the spot says so ("现场确认"); with `flags`
    (the desk), one without proof says that."""
    def label(c: Case) -> str:
        text = tr("case.btn.history", number=c.number, state=tr(f"state.{c.state.value}"))
        if c.on_site and c.resolved_at is not None:
            text = f"{text} · {tr('proof.mark_on_site')}"
        elif flags and lacks_proof(c):
            text = f"{text} · {tr('proof.mark_flagged')}"
        spoken = [tr("voice.label", duration=duration_text(s)) for s in (voices or {}).get(c.id or 0, [])]
        return " ".join([text, *spoken])
    return column([(label(c), act("history", c.number)) for c in cases])


async def _list_or_say_none(message: Message, cases: list[Case], tr: Translator, title: str, none: str,
                            voices: dict[int, list[int]] | None = None, flags: bool = False) -> None:
    if cases:
        await message.answer(tr(title), reply_markup=case_list(cases, tr, voices, flags=flags))
    else:
        await message.answer(tr(none))


async def my_cases(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator) -> None:
    cases = await cases_services.my_reports(uow, Actor.of(person, roles))
    voices = await voice_lengths(uow, [c.id for c in cases if c.id is not None])
    await _list_or_say_none(message, cases, tr, "my.title", "my.none", voices)


async def cases_i_handle(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator) -> None:
    cases = await cases_services.cases_i_handle(uow, Actor.of(person, roles))
    await _list_or_say_none(message, cases, tr, "my.handling", "my.handling_none")


async def desk(message: Message, uow: UnitOfWork, person: Person, roles: Roles, tr: Translator, now) -> None:
    cases = await cases_services.desk(uow, Actor.of(person, roles), now)
    await _list_or_say_none(message, cases, tr, "desk.title", "desk.none", flags=True)


async def _card_or_none(case: Case, tr: Translator, case_renderer, now, reader: Actor) -> bytes | None:
    """A resolved case is shown by its three-photo card; an open one by the resident's photo."""
    if not case.photos_of(PhotoKind.AFTER):
        return None
    return await case_renderer.card(case, tr, now, reader)


async def history(query: CallbackQuery, callback_data: CaseAct, uow: UnitOfWork, person: Person, roles: Roles,
                  tr: Translator, photos, case_renderer, now) -> None:
    """A case's story, for those who may see it: its reporters, its handler, the community's staff.
    `case_renderer` is bot.rendering.cases.CaseRenderer, handed in by the composition root (redgrid/bootstrap.py)."""
    # PIPL: residents' photos and places are personal information; core keeps who looked at them.
    story = await cases_services.case_story(uow, Actor.of(person, roles), callback_data.number, now)
    case = story.case
    await query.answer()
    before = case.photos_of(PhotoKind.BEFORE)
    reader = Actor.of(person, roles)
    if before:  # each photo as this reader may see it: faces blurred for a neighbour (core.disclosure)
        picture = (card if (card := await _card_or_none(case, tr, case_renderer, now, reader))
                   else await photos.load_for(reader, case, before[0]))
        await query.message.answer_photo(BufferedInputFile(picture, f"{case.number}.jpg"))
    markup = None
    if story.as_handler:
        markup = handler_buttons(case, tr)
    elif story.desk_members is not None:
        markup = desk_buttons(case, tr, story.desk_members)
    text = await case_renderer.history(uow, case, tr, now, by=Actor.of(person, roles), reporter=story.reporter)
    await query.message.answer(text, reply_markup=markup)


def make_router() -> Router:
    """A fresh router each time, so every Dispatcher (tests make many) owns its own."""
    router = Router(name="cases")
    router.message.register(start_report, Command("report"), StateFilter(None))
    router.message.register(rest_of_album, F.media_group_id, F.photo | F.document, StateFilter(None), album_tail)
    router.message.register(start_report, F.photo, StateFilter(None))
    router.message.register(start_report, F.document.mime_type.startswith("image/"), StateFilter(None))
    router.message.register(my_cases, Command("my"))
    router.message.register(cases_i_handle, Command("cases"))
    router.message.register(desk, Command("desk"))
    router.callback_query.register(history, CaseAct.filter(F.action == "history"))
    router.callback_query.register(on_case_button, CaseAct.filter())
    return router


SCENES = (DuringPhoto, ResolveCase, NotFixedWhy)