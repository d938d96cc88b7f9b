"""Voice notes as services: keeping one with a case (a report's words, a rejection's reason) or an
order, and telling whoever works on it, who then plays it in the chat (kind "case.voice_note")."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from core.cases import Actor
from core.errors import NotAllowed, NotFound
from core.events import Event
from core.ids import saved_id
from core.notifications import Notification, declared
from core.people import Role
from core.ports import UnitOfWork
from core.voice import VoiceClip, VoiceNote, VoicePurpose, check_clip
from core.volunteering.orders import Order


async def keep_with_case(uow: UnitOfWork, by: Actor, number: str, clip: VoiceClip, purpose: VoicePurpose,
                         now: datetime) -> VoiceNote:
    """The reporter's voice note is kept with their case; its handler (or, with none, the community's
    desk) is sent it to play. Only the case's reporter may add one."""
    check_clip(clip.duration, None)
    case = await uow.cases.by_number(number)
    if case is None or case.id is None:
        raise NotFound(what="case")
    if case.reporter_id != by.person_id:
        raise NotAllowed(action="voice")
    note = VoiceNote(None, by.person_id, purpose, clip, now, case_id=case.id)
    await uow.voice_notes.add(note)
    await uow.events.add(Event("case", case.number, "voice_added", now, by.person_id,
                               after={"purpose": purpose.value, "seconds": clip.duration}))
    if case.handler_id is not None:
        people = [case.handler_id]
    else:
        people = [saved_id(p) for p in await uow.people.with_role(Role.STAFF, case.community_id)]
    kind = declared("case.voice_note")
    for person_id in dict.fromkeys(people):
        await uow.outbox.add(Notification(person_id, kind, {
            "case": case.number, "voice": note.id, "file": clip.file, "seconds": clip.duration,
            "purpose": purpose.value}, dedupe_key=f"{case.number}:voice:{note.id}:{person_id}"))
    return note


async def keep_with_order(uow: UnitOfWork, person_id: int, order: Order, clip: VoiceClip,
                          now: datetime) -> VoiceNote:
    """A resident's voice note describing the service they ordered ("群众点单"): kept with the order, and
    played to the community's staff who dispatch it, after the order's own message. Only the resident
    who ordered it."""
    check_clip(clip.duration, None)
    if order.id is None:
        raise NotFound(what="order")
    if order.resident_id != person_id:
        raise NotAllowed(action="voice")
    note = VoiceNote(None, person_id, VoicePurpose.ORDER, clip, now, order_id=order.id)
    await uow.voice_notes.add(note)
    kind = declared("order.voice_note")
    for staff in dict.fromkeys(saved_id(p) for p in await uow.people.with_role(Role.STAFF, order.community_id)):
        await uow.outbox.add(Notification(staff, kind, {
            "order": order.number, "voice": note.id, "file": clip.file, "seconds": clip.duration},
            dedupe_key=f"{order.number}:voice:{note.id}:{staff}"))
    return note


async def voice_lengths(uow: UnitOfWork, case_ids: Sequence[int]) -> dict[int, list[int]]:
    """Per case, the lengths (seconds) of the voice notes kept with it, oldest first (for lists: "🎤 0:42")."""
    notes = await uow.voice_notes.of_cases(list(case_ids))
    return {case_id: [n.clip.duration for n in kept] for case_id, kept in notes.items()}
