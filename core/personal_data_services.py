"""/mydata and /forget as services every channel calls: `my_data` (the export), `forget_preview` (what
the two confirmations say, refused early when the person cannot go yet) and `forget`. The rules and
what is kept are in `core/personal_data.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core import cases as case_rules
from core.cases import Actor, Case
from core.errors import NotFound
from core.events import Event
from core.ids import saved_id
from core.notifications import Notification, declared
from core.people import GrantStatus, Person, Role
from core.personal_data import (
    FORGOTTEN_NAME, AlreadyForgotten, Export, StillHandling, StillVolunteering, export_document, may_act_on,
    needles_of,
)
from core.ports import PhotoFiles, UnitOfWork, VoiceFiles
from core.volunteering.common import ClaimState, PostState

# Claims that still hold (or wait for) a place on a post to come, or a shift under way. A shift checked
# out and waiting for staff to confirm does not hold her back: its hours stay, as an anonymous total.
_LIVE_CLAIMS = (ClaimState.CLAIMED.value, ClaimState.WAITLISTED.value, ClaimState.CHECKED_IN.value)


async def _person(uow: UnitOfWork, person_id: int) -> Person:
    person = await uow.people.get(person_id)
    if person is None:
        raise NotFound(what="person")
    if person.forgotten_at is not None:
        raise AlreadyForgotten()
    return person


async def _external_ids(uow: UnitOfWork, person_id: int) -> list[tuple[str, str]]:
    return [(i.channel, i.external_id) for i in await uow.people.identities(person_id)]


async def my_data(uow: UnitOfWork, by: Actor, person_id: int, now: datetime) -> Export:
    """Everything held about the person, as a document for them. The copy is recorded (who, when),
    without what it held."""
    may_act_on(by, person_id, "mydata")
    person = await _person(uow, person_id)
    held = await uow.personal_data.held_about(person_id, await _external_ids(uow, person_id))
    export = export_document(person, held, await uow.consents.of(person_id), now)
    await uow.events.add(Event("person", str(person_id), "data_exported", now, by.person_id,
                               after={"sections": sum(1 for n in export.sections.values() if n)}))
    return export


@dataclass(frozen=True)
class ForgetPreview:
    """What /forget will do, for the confirmations: how many reports stay anonymised, how many of them
    are still open (their handlers will be told)."""

    reports: int
    open_reports: int


async def forget_preview(uow: UnitOfWork, by: Actor | None, person_id: int, now: datetime) -> ForgetPreview:
    """Checked before the person is asked to confirm: refused now if they cannot go yet."""
    may_act_on(by, person_id, "forget")
    await _person(uow, person_id)
    await _check_free_to_go(uow, person_id, now)
    reported = await uow.personal_data.cases_reported(person_id)
    return ForgetPreview(len(reported), sum(1 for c in reported if c.is_open or c.state == case_rules.CaseState.RESOLVED))


async def _check_free_to_go(uow: UnitOfWork, person_id: int, now: datetime) -> None:
    handling = [c for c in await uow.cases.handled_by(person_id, limit=1000) if c.is_open]
    if handling:
        raise StillHandling(count=len(handling), numbers="、".join(c.number for c in handling[:5]))
    live = [p for c, p in await uow.volunteering.claims_of_person(person_id, _LIVE_CLAIMS)
            if p.state not in (PostState.CANCELLED, PostState.DONE)
            and (p.ends_at > now or c.state == ClaimState.CHECKED_IN)]
    if live:
        raise StillVolunteering(count=len(live), posts="、".join(p.number for p in live[:5]))


@dataclass
class Forgotten:
    """What /forget did: reports kept anonymised (and which of them closed now), rows and files removed."""

    reports: int = 0
    closed_now: list[str] = field(default_factory=list)
    handlers_told: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    photos: list[str] = field(default_factory=list)   # photo files to remove once committed
    voices: list[str] = field(default_factory=list)   # voice note files to remove once committed


async def forget(uow: UnitOfWork, by: Actor | None, person_id: int, now: datetime, photos: PhotoFiles,
                 voices: VoiceFiles | None = None) -> Forgotten:
    """Delete what names or shows the person (see core/personal_data.py); their photo and voice note
    files go once this transaction has committed (`voices` None: the retention job's sweep of files no
    row names removes the voice files). Every step is an event without the personal data. `by` None is the
    operator at the command line, on the person's request."""
    may_act_on(by, person_id, "forget")
    person = await _person(uow, person_id)
    await _check_free_to_go(uow, person_id, now)
    actor = by.person_id if by is not None else None
    result = Forgotten()

    # the cases they reported stay, without them; whoever works on an open one is told
    for case in await uow.personal_data.cases_reported(person_id):
        result.reports += 1
        was_waiting = case.is_open or case.state == case_rules.CaseState.RESOLVED
        if case_rules.reporter_left(case, now):
            result.closed_now.append(case.number)
        await uow.cases.save(case)
        if was_waiting:
            result.handlers_told += await _tell_handler(uow, case, closed=case.number in result.closed_now)
    for number in await uow.personal_data.leave_joined_cases(person_id):
        await uow.events.add(Event("case", number, "supporter_left", now, None))

    # roles end (a role in the roster would otherwise route work to nobody); the employer goes
    for grant in await uow.people.grants(person_id):
        if grant.status in (GrantStatus.ACTIVE, GrantStatus.PENDING) or grant.work_unit:
            before = {"role": grant.role.value, "status": grant.status.value}
            if grant.status in (GrantStatus.ACTIVE, GrantStatus.PENDING):
                grant.status = GrantStatus.REVOKED
            grant.work_unit = None
            await uow.people.update_grant(grant)
            await uow.events.add(Event("person", str(person_id), "role_ended_forgotten", now, actor, before,
                                       {"role": grant.role.value, "status": grant.status.value}))

    # photos, accounts, dialogs, inbox and outbox rows; then their name and phone wherever written
    taken = await uow.personal_data.erase_photos(person_id)
    still_used = await uow.personal_data.photos_in_use(taken)
    result.photos = [h for h in taken if h not in still_used]
    needles = needles_of(person, result.photos)
    result.removed = await uow.personal_data.erase_accounts(person_id, await _external_ids(uow, person_id))
    person.display_name, person.phone, person.language = FORGOTTEN_NAME, None, None
    person.location_agreed_at, person.forgotten_at = None, now
    await uow.people.update(person)
    redacted = await uow.personal_data.redact(needles, FORGOTTEN_NAME)
    result.removed.update({f"rewritten:{k}": v for k, v in redacted.items()})
    result.removed["photos"] = len(taken)
    result.voices = await uow.voice_notes.erase_of_person(person_id)
    result.removed["voice_notes"] = len(result.voices)
    await uow.events.add(Event("person", str(person_id), "forgotten", now, actor, after={
        "by": "operator" if by is None else "self" if by.person_id == person_id else "admin",
        "reports_kept": result.reports,
        "closed_now": len(result.closed_now), "photos": len(taken)}))
    if result.photos:
        to_remove = list(result.photos)

        async def remove_files() -> None:
            await photos.remove(to_remove)

        uow.after_commit(remove_files)
    if result.voices and voices is not None:
        spoken = list(result.voices)

        async def remove_voices() -> None:
            await voices.remove(spoken)

        uow.after_commit(remove_voices)
    return result


async def _tell_handler(uow: UnitOfWork, case: Case, *, closed: bool) -> int:
    """"Reporter left": the handler of an open case (the community's staff for one on their desk)."""
    if case.handler_id is not None:
        people = [case.handler_id]
    else:
        people = [saved_id(p) for p in await uow.people.with_role(Role.STAFF, case.community_id)]
    kind = declared("case.reporter_left_closed" if closed else "case.reporter_left")
    for person_id in dict.fromkeys(people):
        await uow.outbox.add(Notification(person_id, kind, {"case": case.number},
                                          dedupe_key=f"{case.number}:reporter_left:{person_id}"))
    return len(people)
