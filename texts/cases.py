"""How a case reads, in any channel: its fields, its story, why it was not fixed or not taken up,
and the words on its three-photo card. Telegram (bot/rendering/cases.py) and WeChat
(wechat/rendering.py) both word cases through here, so a case says the same on both.

Reads what it words through the unit of work (names, addresses, events); decides nothing.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from core.cases import REJECTION_REASONS, Actor, Case, CaseState
from core.disclosure import Shown
from core.disclosure_services import ReporterShown
from core.dispatch import department_of
from core.ports import UnitOfWork
from texts import Translator, moment_text


async def case_fields(uow: UnitOfWork, case: Case, tr: Translator, tz: tzinfo, now: datetime) -> dict[str, Any]:
    """The placeholders every case text may use: number, category, address, words, deadline, claim_by,
    handler, state, note."""
    address = await uow.places.address(case.building_id)
    handler = await uow.people.get(case.handler_id) if case.handler_id else None

    def when(moment: datetime | None) -> str:
        return moment_text(tr.lang, moment, tz, now)

    return dict(number=case.number, category=tr(f"category.{case.category.value}"),
                address=address.full() if address else "", words=case.description or tr("report.no_words"),
                deadline=when(case.deadline), claim_by=when(case.escalation_deadline),
                handler=handler.display_name if handler else "—", state=tr(f"state.{case.state.value}"),
                note=case.resolution_note or "")


async def notification_fields(uow: UnitOfWork, case: Case, payload: dict[str, Any], kind: str, tr: Translator,
                              tz: tzinfo, now: datetime) -> dict[str, Any]:
    """A case notification's placeholders: the case's fields, the payload, who acted (`who`), and the
    resident's reason (reopened) or the closing reason (rejected) in the reader's language."""
    fields = {**await case_fields(uow, case, tr, tz, now), **payload}
    fields["number"] = case.number
    fields.setdefault("department", fields["handler"])  # rows written before departments were named
    who = next((payload[k] for k in ("by", "forwarded_by", "escalated_by") if isinstance(payload.get(k), int)), None)
    fields["who"] = (await uow.people.display_names([who])).get(who, "—") if who is not None else "—"
    if kind in ("case.reopened", "case.supporter_not_fixed"):
        fields["comment"] = why_not_fixed(tr, payload)
    if kind == "case.rejected":
        fields["reason"] = why_rejected(tr, payload)
    return fields


def kind_for_reader(kind: str, case: Case, person_id: int | None) -> str:
    """The text a notification is worded with for this reader: a fix is "case.resolved" for the first
    reporter, who answers "fixed?", and "case.resolved_for_supporter" for the neighbours who joined,
    who are told the outcome and may give feedback."""
    if kind == "case.resolved" and person_id != case.reporter_id:
        return "case.resolved_for_supporter"
    return kind


def card_times(case: Case, tr: Translator, tz: tzinfo, now: datetime) -> str:
    """When it was reported, and when it was fixed: "办结" only once the case is closed; while the
    resident has not confirmed it, "处理完成"."""
    def when(moment: datetime | None) -> str:
        return moment_text(tr.lang, moment, tz, now)

    reported = when(case.created_at)
    if case.state == CaseState.CLOSED and case.closed_at is not None:
        return tr("card.times_closed", reported=reported, closed=when(case.closed_at))
    if case.resolved_at is not None:
        return tr("card.times", reported=reported, resolved=when(case.resolved_at))
    return tr("card.times_reported", reported=reported)


def card_words(case: Case, tr: Translator, tz: tzinfo, now: datetime) -> dict[str, Any]:
    """The words on the three-photo card ("事前、事中、事后"), as `media.card.case_card` takes them."""
    return dict(labels=(tr("card.before"), tr("card.during"), tr("card.after")), no_photo_text=tr("card.no_photo"),
                title=f"{case.number} · {without_emoji(tr('category.' + case.category.value))}",
                subtitle_lines=[card_times(case, tr, tz, now),
                                *([tr("card.on_site")] if case.on_site and case.resolved_at else [])],
                note=without_emoji(tr("card.note", note=case.resolution_note)) if case.resolution_note else "")


def why_not_fixed(tr: Translator, payload: dict[str, Any]) -> str:
    """The resident's reason (a button's, in the reader's language) and their own words, if any."""
    parts = [tr(f"case.not_fixed.{payload['reason']}") if payload.get("reason") not in (None, "other") else "",
             (payload.get("comment") or "").strip()]
    said = " / ".join(p for p in parts if p)
    return tr("case.not_fixed_because", why=said) if said else ""


def proof_said(tr: Translator, after: dict[str, Any], *, staff: bool) -> str:
    """Proof on the spot in a resolve event (core.proof): "现场确认" for every reader; the lack of it only
    for the community's staff, who check it. "" when it was not asked."""
    on_site = after.get("on_site")
    metres = after.get("distance_m")
    if on_site is True:
        return tr("proof.history_on_site", metres=metres)
    if on_site is False and staff:
        if metres is not None:
            return tr("proof.history_far", metres=metres)
        words = (after.get("proof_words") or "").strip()
        reason = after.get("proof_reason")
        return tr("proof.history_skipped", reason=words or (tr(f"proof.reason.{reason}") if reason else "?"))
    return ""


def why_rejected(tr: Translator, said: dict[str, Any]) -> str:
    """Why a report was closed without a fix: the person's own words as written, else the code in the
    reader's language. (Rows from before codes hold the words of the button, in the presser's language.)"""
    words = (said.get("reason") or "").strip()
    code = said.get("closure_reason")
    return words or (tr(f"case.reject_reason.{code}") if code in _REJECTION_CODES else "")


_REJECTION_CODES = {r.value for r in REJECTION_REASONS}


def without_emoji(label: str) -> str:
    """Button labels carry emoji; the card's CJK font has none, so they would print as boxes."""
    kept = "".join(ch for ch in label if ord(ch) < 0x2600 or 0x3000 <= ord(ch) < 0xFE00
                   or 0xFF00 <= ord(ch) <= 0xFFEF)  # fullwidth punctuation ，：（） is in the font
    return " ".join(kept.split())


HANDED_TO = ("assigned", "reassigned", "forwarded", "escalated")  # history names whom it went to
# the messages that name the case's reporter for the one who handles it (or staff, masked)
SHOWS_REPORTER = ("case.new_for_handler", "case.on_desk", "case.escalated_to_you")


def reporter_text(tr: Translator, shown: ReporterShown) -> str | None:
    """The reporter as core allows this reader to see them: "王阿姨（138****1234）", "匿名居民", or
    nothing (a neighbour sees no neighbour)."""
    if shown.shown == Shown.ANONYMOUS:
        return tr("case.reporter_anonymous")
    if shown.shown == Shown.HIDDEN or not shown.name:
        return None
    return tr("case.reporter_phone", name=shown.name, phone=shown.phone) if shown.phone else shown.name


async def _target(uow: UnitOfWork, person_id: int, seen: dict[int, str]) -> str:
    """Whom a case was handed to: "城管局 张三" for a department's contact, else the person's name."""
    if person_id not in seen:
        person = await uow.people.get(person_id)
        department = await department_of(uow, person_id)
        name = person.display_name if person else "?"
        seen[person_id] = f"{department.name} {name}" if department else name
    return seen[person_id]


async def case_history(uow: UnitOfWork, case: Case, tr: Translator, tz: tzinfo, now: datetime, *,
                       by: Actor | None = None, reporter: ReporterShown | None = None) -> str:
    """The case's story from its events: who did what, when (and the handler's note on a fix).

    With the reader `by` and the reporter as core lets them see them (`reporter`, from
    `cases_services.case_story`): the reporter's line under the title, and residents' names only
    where core.disclosure allows (an anonymous reporter is "匿名居民" to the handler, a neighbour
    is "居民" to another)."""
    fields = await case_fields(uow, case, tr, tz, now)
    lines = [tr("history.title", **fields)]
    names: dict[int | None, str] = {None: tr("system")}
    if by is not None and reporter is not None:
        if by.person_id != case.reporter_id and (line := reporter_text(tr, reporter)):
            lines.append(tr("case.reporter_line", who=line))
        sees_residents = by.roles.is_staff_of(case.community_id) or case.is_handled_by(by.person_id)
        for resident in (case.reporter_id, *case.me_too):
            if resident == by.person_id:
                continue
            if resident == case.reporter_id and reporter.shown in (Shown.FULL, Shown.MASKED):
                continue
            if resident != case.reporter_id and sees_residents:
                continue
            names[resident] = tr("case.reporter_anonymous" if resident == case.reporter_id and case.anonymous
                                 else "case.reporter_resident")
    targets: dict[int, str] = {}
    for event in await uow.events.of("case", case.number):
        if event.kind == "viewed":  # the audit of who looked is for the office, not the story
            continue
        if event.actor_id not in names:
            actor = await uow.people.get(event.actor_id) if event.actor_id is not None else None
            names[event.actor_id] = actor.display_name if actor else "?"
        after = event.after or {}
        what = tr(f"event.{event.kind}")
        if event.kind in HANDED_TO and after.get("handler_id"):
            what = tr(f"event.{event.kind}_to", target=await _target(uow, after["handler_id"], targets))
        if event.kind == "resolved":
            note = after.get("note")
            proof = proof_said(tr, after, staff=by is not None and by.roles.is_staff_of(case.community_id))
            note = " · ".join(p for p in (note, proof) if p)
        elif event.kind in ("fix_rejected", "supporter_feedback"):  # the resident's reason and words
            note = why_not_fixed(tr, after) if not after.get("fixed") else None
        elif event.kind == "report_rejected":
            note = why_rejected(tr, after)
        else:
            note = None
        if note:
            what = tr("history.with_note", what=what, note=note)
        lines.append(tr("history.line", at=moment_text(tr.lang, event.at, tz, now),
                        who=names[event.actor_id], what=what))
    return "\n".join(lines)
