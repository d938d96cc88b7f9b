"""Services of the report loop: a resident's photo becomes a case, is routed, handled, proved, confirmed.

Each service loads what it needs through the unit of work, applies one transition from
`core.cases` (which checks who may make it and records the event), saves, and asks the outbox
to tell the people concerned — all in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from core import cases as rules
from core.access import desk_communities
from core.dispatch import (
    DepartmentContact, MemberChoice, department_of, departments_serving, grid_members_of, require_department_for,
    require_grid_member_of,
)
from core.cases import Actor, Case, Category, HandlerKind, PhotoKind, PhotoRef
from core.disclosure_services import ReporterShown, listed_phone, record_views, show_reporter
from core.duplicates import CaseSpot, looks_same, similar_open_cases
from core.errors import DomainError, NotAllowed, NotFound
from core.limits import LimitPolicy
from core.limits_services import may_report
from core.events import Event
from core.ids import saved_id
from core.notifications import Notification, declared
from core.people import Person, Role
from core.points import DEFAULT_REPORT_POINTS
from core.ports import UnitOfWork
from core.points_services import credit_report
from core.proof import DEFAULT_PROOF_RADIUS_M, OnSpot, SkipReason, judge, skipped
from core.workdays import WorkCalendar


@dataclass(frozen=True)
class ReportPolicy:
    """The community's promises about reports; settings fill it in."""

    calendar: WorkCalendar
    working_days: int = 2                          # "两个工作日内"
    confirm_wait: timedelta = timedelta(days=3)    # no answer from the resident: closed as accepted
    reopen_within: timedelta = timedelta(days=7)   # … which the reporter may still reopen for so long
    claim_within: timedelta = timedelta(hours=24)  # a department must claim an escalation ("及时认领")
    escalated_fix_days: int = 5                    # … and fix it within working days ("限时办结")
    duplicate_radius_m: float = 100
    duplicate_window: timedelta = timedelta(hours=48)
    # points for a report confirmed fixed, per category value ("default" covers the rest; 0: none)
    report_points: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_REPORT_POINTS))
    limits: LimitPolicy | None = None              # reports per hour and day (None: no limit but suspension)
    proof_radius_m: float = DEFAULT_PROOF_RADIUS_M  # "现场确认": the handler within this of the building

    def deadline(self, now: datetime) -> datetime:
        return self.calendar.add_working_days(now, self.working_days)

    def half_time(self, now: datetime, deadline: datetime) -> datetime:
        return self.calendar.point_in_working_time(now, deadline, 0.5)


async def _notify(uow: UnitOfWork, people: Sequence[int], kind: str, case: Case, dedupe: str | None = None,
                  **payload: Any) -> None:
    declared(kind)
    for person_id in dict.fromkeys(people):
        key = f"{case.number}:{kind}:{dedupe}:{person_id}" if dedupe else None
        await uow.outbox.add(Notification(person_id, kind, {"case": case.number, **payload}, dedupe_key=key))


async def _staff_of(uow: UnitOfWork, community_id: int) -> list[int]:
    return [saved_id(p) for p in await uow.people.with_role(Role.STAFF, community_id)]


async def case_for(uow: UnitOfWork, number: str) -> Case:
    case = await uow.cases.by_number(number, for_update=True)
    if case is None:
        raise NotFound(what="case")
    return case


# ---- reporting ---------------------------------------------------------------------------------

async def similar_cases(uow: UnitOfWork, policy: ReportPolicy, building_id: int, category: Category,
                        now: datetime) -> list[CaseSpot]:
    """Open cases a resident may join as "same problem" instead of reporting again."""
    address = await uow.places.address(building_id)
    if address is None:
        return []
    b = address.building
    return await _nearby(uow, policy, saved_id(address.community), category, b.id, b.lat, b.lon, now)


async def _nearby(uow: UnitOfWork, policy: ReportPolicy, community_id: int, category: Category,
                  building_id: int | None, lat: float | None, lon: float | None, now: datetime) -> list[CaseSpot]:
    # storage narrows to the building and a box around it; the exact rule and order are core's
    candidates = await uow.cases.near(community_id, category, building_id, lat, lon, policy.duplicate_radius_m,
                                      since=now - policy.duplicate_window)
    return list(similar_open_cases(candidates, category, building_id, lat, lon, now,
                                   within_m=policy.duplicate_radius_m,
                                   within_h=policy.duplicate_window.total_seconds() / 3600))


async def report_problem(uow: UnitOfWork, policy: ReportPolicy, reporter: Actor, building_id: int,
                         category: Category, photos: Sequence[PhotoRef], description: str,
                         now: datetime, *, anonymous: bool = False) -> Case:
    """"随手拍": the case is numbered, given its deadline and routed to the building's grid member.
    `anonymous`: the grid member is not told who reported it (staff are). Refused while the person's
    reporting is suspended or their reports per hour or day are used up (core.limits)."""
    await may_report(uow, policy.limits, reporter, now)
    address = await uow.places.address(building_id)
    if address is None:
        raise NotFound(what="building")
    deadline = policy.deadline(now)
    year = now.astimezone(policy.calendar.tz).year  # the community's year: numbers and their sequence agree
    seq = await uow.cases.next_number(saved_id(address.community), year)
    b = address.building
    case = rules.submit(reporter, b, address.grid, address.community, category, photos, description, now,
                        deadline, seq=seq, year=year, lat=b.lat, lon=b.lon, anonymous=anonymous)
    looks_like = await _possible_duplicate(uow, policy, case, now)
    members = [saved_id(p) for p in await uow.people.grid_members(saved_id(address.grid))]
    if members:
        rules.assign(case, members[0], None, now)
        await uow.cases.add(case, half_time_at=policy.half_time(now, deadline))
        await _notify(uow, members, "case.new_for_handler", case, duplicate_of=looks_like)
    else:  # nobody owns this grid yet: the community desk decides
        rules.send_to_desk(case, now, "no grid member")
        await uow.cases.add(case, half_time_at=policy.half_time(now, deadline))
        await _tell_desk(uow, case, now, duplicate_of=looks_like)
    return case


async def _tell_desk(uow: UnitOfWork, case: Case, now: datetime, **payload: Any) -> None:
    """The community's staff are told of a case on their desk; its message shows the reporter (masked
    phone), so each staff member's look is audited as it is queued."""
    staff = await _staff_of(uow, case.community_id)
    await _notify(uow, staff, "case.on_desk", case, **payload)
    await record_views(uow, staff, [case.reporter_id], "notification", case.number, now)


async def _possible_duplicate(uow: UnitOfWork, policy: ReportPolicy, case: Case, now: datetime) -> str | None:
    """A report that still looks like an open one (same category and place, or the same photo)."""
    near = [c for c in await _nearby(uow, policy, case.community_id, case.category, case.building_id, case.lat,
                                     case.lon, now) if c.number != case.number]
    if near:
        return near[0].number
    hashes = [(number, dhash) for number, dhash in
              await uow.cases.before_photo_hashes(case.community_id, since=now - policy.duplicate_window)
              if number != case.number]
    for photo in case.photos_of(PhotoKind.BEFORE):
        if photo.dhash is not None:
            same = next((number for number, dhash in hashes if looks_same(photo.dhash, dhash)), None)
            if same is not None:
                return same
    return None


async def join_same_problem(uow: UnitOfWork, policy: ReportPolicy, resident: Actor, number: str,
                            building_id: int, category: Category, now: datetime) -> Case:
    """"Same problem": the resident about to report at `building_id` joins an open case instead.

    Only a case that `similar_cases` offers for that place and category *now* may be joined: the
    button names a case number, and numbers are guessable, so the offer is worked out again here.
    """
    if not resident.roles.has(Role.RESIDENT):
        raise NotAllowed(action="case.join")
    await may_report(uow, None, resident, now)  # a suspended person joins nothing either
    offered = {c.number for c in await similar_cases(uow, policy, building_id, Category(category), now)}
    if number not in offered:
        raise rules.JoinRefused(number)
    case = await case_for(uow, number)
    rules.join_me_too(case, resident.person_id, now)
    await uow.cases.save(case)
    return case


async def check_case_action(uow: UnitOfWork, by: Actor, number: str, action: str) -> Case:
    """The case, if `by` may do `action` on it now; else the refusal the transition would give.

    Channels ask this at a press that opens a dialog or offers more buttons, so nobody is asked
    for a photo, a reason or a rating that would be refused at the end."""
    case = await uow.cases.by_number(number)
    if case is None:
        raise NotFound(what="case")
    rules.check(action, case, by)
    return case


async def handover_targets(uow: UnitOfWork, by: Actor, number: str, action: str) -> list[DepartmentContact]:
    """The department contacts `by` may forward or escalate case `number` to, after checking they may:
    those serving the case's community, sorted by department ("城管局 · 张三")."""
    if action not in ("forward", "escalate"):
        raise NotAllowed(action=f"case.{action}")
    case = await check_case_action(uow, by, number, action)  # refuse before offering departments
    return await departments_serving(uow, case.community_id)


async def desk_members(uow: UnitOfWork, by: Actor, number: str, now: datetime) -> list[MemberChoice]:
    """Every grid member of the case's community the desk may assign it to (any grid, not only its own:
    the one who said "not mine" is usually its own grid's), after checking `by` may assign it."""
    case = await check_case_action(uow, by, number, "assign")
    members = await grid_members_of(uow, case.community_id)
    await record_views(uow, [by.person_id], [saved_id(m.person) for m in members if listed_phone(m.person)],
                       "members", number, now)  # the list shows their phones, masked
    return members


async def answer_outcome(uow: UnitOfWork, by: Actor, number: str, fixed: bool) -> bool:
    """👍 / 👎 on a resolved case, checked before the stars or the reasons are asked for.

    True when `by`'s answer is a neighbour's feedback (they joined the case); False when it is the
    first reporter's, which closes or reopens it. Refused as the transition would refuse it."""
    case = await uow.cases.by_number(number)
    if case is None:
        raise NotFound(what="case")
    joiner = by.person_id != case.reporter_id and by.person_id in case.me_too
    rules.check("feedback" if joiner else ("confirm" if fixed else "reject_fix"), case, by)
    return joiner


def may_see(case: Case, by: Actor) -> bool:
    """A case's story is for its reporters, its handler and the community's staff (admins too)."""
    return by.person_id in (case.reporter_id, case.handler_id, *case.me_too) or by.roles.is_staff_of(case.community_id)


@dataclass(frozen=True)
class CaseStory:
    """What a case's history shows `by`, and which buttons come with it."""

    case: Case
    reporter: ReporterShown                         # as `by` may see them (core.disclosure)
    as_handler: bool = False                        # the handler's next steps
    desk_members: list[Person] | None = None        # staff: the grid's members to assign to (open cases)


async def case_story(uow: UnitOfWork, by: Actor, number: str, now: datetime) -> CaseStory:
    """A case's story for someone who may see it; the look is recorded (PIPL: who saw what)."""
    case = await case_for(uow, number)
    if not may_see(case, by):
        raise NotAllowed(action="case.history")
    await uow.events.add(Event("case", case.number, "viewed", now, by.person_id))
    reporter = await show_reporter(uow, case, by, now)  # staff's look at the reporter is audited
    if case.is_handled_by(by.person_id):
        return CaseStory(case, reporter, as_handler=True)
    if by.roles.is_staff_of(case.community_id) and case.is_open:
        return CaseStory(case, reporter, desk_members=list(await uow.people.grid_members(case.grid_id)))
    return CaseStory(case, reporter)


async def my_reports(uow: UnitOfWork, by: Actor, limit: int = 20) -> list[Case]:
    """The cases `by` reported or joined as "same problem", newest first."""
    return list(await uow.cases.of_reporter(by.person_id, limit))


async def cases_i_handle(uow: UnitOfWork, by: Actor, limit: int = 20) -> list[Case]:
    """The open cases `by` is responsible for, the nearest deadline first."""
    return list(await uow.cases.handled_by(by.person_id, limit))


# What a person is asked about a case, and whose answer is what (a channel without buttons asks these
# questions as numbered replies; `rules.check` names the action each answer takes).
QUESTION_ACTIONS = {"outcome": "confirm", "feedback": "feedback", "accept": "accept", "claim": "claim"}


@dataclass(frozen=True)
class Question:
    """A case waiting for `by`'s answer: "outcome" (fixed? — the first reporter), "feedback" (a neighbour
    who joined), "accept" (a handler, a case given to them), "claim" (a department's contact) or
    "reopen" (the reporter of a case closed by their silence)."""

    case: Case
    kind: str


def question_on(case: Case, by: Actor, now: datetime | None = None,
                reopen_within: timedelta = rules.DEFAULT_REOPEN_WITHIN) -> str | None:
    """The question `case` asks `by` now ("outcome", "feedback", "accept", "claim"; with `now`, also
    "reopen": a case closed by the reporter's silence, still theirs to send back), or None: the one the
    transition itself would allow (`rules.check`), so a stale question is never asked."""
    if now is not None and rules.was_auto_closed(case):
        try:
            rules.may_reopen_after_auto_close(case, by, now, reopen_within)
            return "reopen"
        except DomainError:
            return None
    joiner = by.person_id != case.reporter_id and by.person_id in case.me_too
    for kind in ("feedback",) if joiner else ("outcome", "accept", "claim"):
        try:
            rules.check(QUESTION_ACTIONS[kind], case, by)
        except DomainError:
            continue
        return kind
    return None


async def awaiting_answer(uow: UnitOfWork, by: Actor, now: datetime | None = None,
                          policy: ReportPolicy | None = None) -> list[Question]:
    """The questions about cases `by` may answer now, the most recently changed case first."""
    within = policy.reopen_within if policy is not None else rules.DEFAULT_REOPEN_WITHIN
    found: dict[str, Question] = {}
    for case in [*await uow.cases.of_reporter(by.person_id), *await uow.cases.handled_by(by.person_id)]:
        kind = question_on(case, by, now, within)
        if kind is not None:
            found.setdefault(case.number, Question(case, kind))
    return sorted(found.values(), key=lambda q: q.case.updated_at, reverse=True)


async def desk(uow: UnitOfWork, by: Actor, now: datetime) -> list[Case]:
    """The community desk: cases waiting for staff in the communities `by` keeps. The look at the desk is
    audited for each reporter on it."""
    cases = list(await uow.cases.desk(set(await desk_communities(uow, by, "desk")), now))
    for case in cases:
        await record_views(uow, [by.person_id], [case.reporter_id], "desk", case.number, now)
    return cases


# ---- handling ----------------------------------------------------------------------------------

async def accept_case(uow: UnitOfWork, by: Actor, number: str, now: datetime) -> Case:
    case = await case_for(uow, number)
    rules.accept(case, by, now)
    await uow.cases.save(case)
    await _notify(uow, rules.recipients_of_outcome(case), "case.accepted", case)
    return case


async def add_during_photo(uow: UnitOfWork, by: Actor, number: str, photo: PhotoRef, now: datetime) -> Case:
    case = await case_for(uow, number)
    rules.add_during_photo(case, by, photo, now)
    await uow.cases.save(case)
    return case


async def resolve_case(uow: UnitOfWork, by: Actor, number: str, after: PhotoRef, note: str, now: datetime, *,
                       location: tuple[float, float] | None = None, skip_reason: SkipReason | str | None = None,
                       skip_words: str = "", policy: ReportPolicy | None = None) -> Case:
    """The after-photo and the note, with proof on the spot (core.proof): the handler's `location`,
    judged against the building's position within `policy.proof_radius_m`, or the reason they gave
    none (`skip_reason`, and `skip_words` for "other"). Not on the spot, it is resolved all the same
    and flagged to staff. Neither given: not asked (older channels), nothing flagged."""
    case = await case_for(uow, number)
    rules.may_resolve(case, by)  # who may, before anything is measured
    proof = await _proof_for(uow, case, location, skip_reason, skip_words, policy)
    rules.resolve(case, by, after, note, now, proof=proof)
    if case.reporter_left_at is not None:  # nobody left to confirm: closed as accepted (rules.reporter_left)
        rules.close_without_reporter(case, now)
    await uow.cases.save(case)
    await _notify(uow, rules.recipients_of_outcome(case), "case.resolved", case, dedupe=f"r{case.rework_count}")
    if case.reporter_left_at is not None:
        await _notify(uow, [by.person_id], "case.closed_reporter_left", case)
    return case


async def _proof_for(uow: UnitOfWork, case: Case, location: tuple[float, float] | None,
                     skip_reason: SkipReason | str | None, skip_words: str,
                     policy: ReportPolicy | None) -> OnSpot | None:
    if location is not None:
        building = await uow.places.building(case.building_id)
        lat, lon = (building.lat, building.lon) if building is not None and building.has_position else (case.lat, case.lon)
        radius = policy.proof_radius_m if policy is not None else DEFAULT_PROOF_RADIUS_M
        return judge(location[0], location[1], lat, lon, radius)
    if skip_reason is not None:
        return skipped(skip_reason, skip_words)
    return None


async def confirm_fix(uow: UnitOfWork, by: Actor, number: str, rating: int, now: datetime, *,
                      policy: ReportPolicy | None = None) -> Case:
    """The resident confirms the fix; they earn the category's points (`policy.report_points`, or the defaults)."""
    case = await case_for(uow, number)
    rules.confirm(case, by, rating, now)
    await uow.cases.save(case)
    await _notify(uow, [case.handler_id] if case.handler_id else [], "case.confirmed", case, rating=rating)
    await credit_report(uow, policy, case, now)
    return case


async def reject_fix(uow: UnitOfWork, by: Actor, number: str, comment: str, now: datetime, *,
                     reason: rules.NotFixedReason | None = None) -> Case:
    """The reporter says it is not fixed and why; the handler is told the reason and the words."""
    case = await case_for(uow, number)
    rules.reject_fix(case, by, comment, now, reason=reason)
    await uow.cases.save(case)
    await _notify(uow, [case.handler_id] if case.handler_id else [], "case.reopened", case,
                  dedupe=f"w{case.rework_count}", comment=(comment or "").strip(),
                  reason=rules.NotFixedReason(reason).value if reason else None)
    return case


async def reopen_after_auto_close(uow: UnitOfWork, by: Actor, number: str, now: datetime, *,
                                  policy: ReportPolicy | None = None) -> Case:
    """The reporter says a case closed by their silence is not fixed after all (within
    `policy.reopen_within` of the close): the same handler is told to rework it, as after a 👎."""
    case = await case_for(uow, number)
    within = policy.reopen_within if policy is not None else rules.DEFAULT_REOPEN_WITHIN
    rules.reopen_after_auto_close(case, by, now, within=within)
    await uow.cases.save(case)
    await _notify(uow, [case.handler_id] if case.handler_id else [], "case.reopened", case,
                  dedupe=f"w{case.rework_count}", comment="", reason=None)
    return case


async def give_feedback(uow: UnitOfWork, by: Actor, number: str, fixed: bool, now: datetime, *,
                        rating: int | None = None, reason: rules.NotFixedReason | None = None,
                        comment: str = "") -> Case:
    """A neighbour who joined the case says what they think of the fix. It is kept for staff and
    never closes, reopens or re-rates the case; "not fixed" is passed to the community's staff."""
    case = await case_for(uow, number)
    rules.add_feedback(case, by, fixed, now, rating=rating, reason=reason, comment=comment)
    await uow.cases.save(case)
    if not fixed:
        staff = await _staff_of(uow, case.community_id)
        await _notify(uow, staff, "case.supporter_not_fixed", case,
                      dedupe=f"f{by.person_id}.{case.rework_count}", by=by.person_id, comment=(comment or "").strip(),
                      reason=rules.NotFixedReason(reason).value if reason else None)
        await record_views(uow, staff, [by.person_id], "notification", case.number, now)  # it names the neighbour
    return case


async def not_mine(uow: UnitOfWork, by: Actor, number: str, now: datetime) -> Case:
    case = await case_for(uow, number)
    rules.decline_not_mine(case, by, now)
    await uow.cases.save(case)
    await _tell_desk(uow, case, now, returned_by=by.person_id)
    return case


async def forward_case(uow: UnitOfWork, by: Actor, number: str, to_kind: HandlerKind, to_person_id: int,
                       now: datetime) -> Case:
    """The handler or the desk hands the case to a department serving its community. The department
    is told who sent it; the residents who reported it, which department has it now and by when."""
    case = await case_for(uow, number)
    rules.may_forward(case, by)
    contact = await require_department_for(uow, case.community_id, to_person_id, "forward")
    rules.forward(case, by, to_kind, to_person_id, now)
    await uow.cases.save(case)
    await _notify(uow, [to_person_id], "case.new_for_handler", case, forwarded_by=by.person_id)
    await _notify(uow, rules.recipients_of_outcome(case), "case.forwarded", case, to_kind=to_kind.value,
                  department=contact.name)
    return case


async def escalate_case(uow: UnitOfWork, policy: ReportPolicy, by: Actor, number: str, department_contact_id: int,
                        now: datetime) -> Case:
    """"社区吹哨、部门报到": the department must claim it in time and fix it within its limit."""
    case = await case_for(uow, number)
    rules.may_escalate(case, by)
    contact = await require_department_for(uow, case.community_id, department_contact_id, "escalate")
    claim_by = now + policy.claim_within
    fix_by = policy.calendar.add_working_days(now, policy.escalated_fix_days)
    rules.escalate(case, by, department_contact_id, now, claim_by, fix_by)
    await uow.cases.save(case, half_time_at=policy.half_time(now, fix_by))
    await _notify(uow, [department_contact_id], "case.escalated_to_you", case, escalated_by=by.person_id)
    await _notify(uow, rules.recipients_of_outcome(case), "case.escalated", case, department=contact.name)
    return case


async def claim_escalation(uow: UnitOfWork, by: Actor, number: str, now: datetime) -> Case:
    """The department answers the whistle: staff and whoever blew it are told who claimed it, and the
    residents who reported it, which department has it and by when."""
    case = await case_for(uow, number)
    rules.claim_escalation(case, by, now)
    await uow.cases.save(case)
    of = await department_of(uow, by.person_id)
    department = of.name if of else ""
    escalated_by = [e.actor_id for e in await uow.events.of("case", case.number)
                    if e.kind == "escalated" and e.actor_id is not None][-1:]
    await _notify(uow, [*await _staff_of(uow, case.community_id), *escalated_by], "case.claimed", case,
                  by=by.person_id, department=department)
    await _notify(uow, rules.recipients_of_outcome(case), "case.claimed_for_resident", case, department=department)
    return case


async def reject_report(uow: UnitOfWork, by: Actor, number: str, reason: str | rules.ClosureReason,
                        now: datetime) -> Case:
    """Closed without a fix: `reason` is a code (a button's, shown in each reader's language) or words."""
    case = await case_for(uow, number)
    rules.reject_report(case, by, reason, now)
    await uow.cases.save(case)
    await _notify(uow, rules.recipients_of_outcome(case), "case.rejected", case, reason=case.closure_note or "",
                  closure_reason=rules.ClosureReason(case.closure_reason).value if case.closure_reason else None)
    return case


async def merge_cases(uow: UnitOfWork, by: Actor, number: str, into_number: str, now: datetime) -> Case:
    case = await case_for(uow, number)
    into = await case_for(uow, into_number)
    rules.merge(case, into, by, now)
    await uow.cases.save(case)
    await uow.cases.save(into)
    await _notify(uow, rules.recipients_of_outcome(case), "case.merged", case, into=into.number)
    return into


async def reassign(uow: UnitOfWork, by: Actor, number: str, to_person_id: int, now: datetime) -> Case:
    """The desk gives the case to a grid member of its community (of any grid)."""
    case = await case_for(uow, number)
    rules.may_assign(case, by)  # who may, before whom to: a stranger learns nothing of the roster
    await require_grid_member_of(uow, case.community_id, to_person_id)
    rules.assign(case, to_person_id, by, now)
    await uow.cases.save(case)
    await _notify(uow, [to_person_id], "case.new_for_handler", case)
    return case


# ---- the clock ---------------------------------------------------------------------------------

async def _tell_auto_closed(uow: UnitOfWork, policy: ReportPolicy, case: Case) -> None:
    """Closed as fixed after the residents' silence: the handler is told, and so are the residents
    who reported it (whatever the points), with how long they were waited for."""
    days = policy.confirm_wait.days
    await _notify(uow, [case.handler_id] if case.handler_id else [], "case.auto_closed", case, days=days)
    await _notify(uow, rules.recipients_of_outcome(case), "case.auto_closed_for_resident", case, days=days,
                  reopen_days=policy.reopen_within.days)


async def _remind_department_to_claim(uow: UnitOfWork, case: Case) -> None:
    """The department that has not claimed an escalation in time is asked to, once per escalation
    (the claim deadline names the escalation: a later one is reminded again)."""
    if case.handler_id is None or case.escalation_deadline is None:
        return
    await _notify(uow, [case.handler_id], "case.claim_overdue_for_department", case,
                  dedupe=f"claim.{case.escalation_deadline.isoformat()}")


async def sweep(uow: UnitOfWork, policy: ReportPolicy, now: datetime) -> dict[str, int]:
    """What time alone changes: reminders, overdue alerts and silent confirmations.

    Run every minute by the scheduler. Only the cases whose next moment has come are loaded
    (`rules.next_check`); each is then given its next moment, or none. The state is in the
    database and every reminder has a dedupe key, so running it twice, or after a restart, says
    nothing twice. The counts say what was asked for at this run.
    """
    counts = {"half_time": 0, "due_soon": 0, "overdue": 0, "claim_overdue": 0, "auto_closed": 0}
    for case, half_time_at in await uow.cases.due(now):
        await _remind(uow, policy, case, half_time_at, now, counts)
        await uow.cases.check_again(case, rules.next_check(case, half_time_at, policy.confirm_wait, now))
    return counts


async def _remind(uow: UnitOfWork, policy: ReportPolicy, case: Case, half_time_at: datetime | None,
                  now: datetime, counts: dict[str, int]) -> None:
    if case.state == rules.CaseState.RESOLVED:
        if rules.should_auto_close(case, now, policy.confirm_wait):
            rules.auto_close(case, now)
            await uow.cases.save(case)
            await _tell_auto_closed(uow, policy, case)
            await credit_report(uow, policy, case, now)  # closed as accepted: a fix all the same
            counts["auto_closed"] += 1
        return
    if not case.is_open:
        return
    handler = [case.handler_id] if case.handler_id else []
    if rules.is_claim_overdue(case, now):
        await _notify(uow, await _staff_of(uow, case.community_id), "case.claim_overdue", case, dedupe="claim")
        await _remind_department_to_claim(uow, case)
        counts["claim_overdue"] += 1
    if now > case.deadline:
        await _notify(uow, await _staff_of(uow, case.community_id), "case.overdue", case,
                      dedupe=case.deadline.isoformat())
        counts["overdue"] += 1
    elif case.deadline - now <= rules.DUE_SOON:
        await _notify(uow, handler, "case.due_soon", case, dedupe=case.deadline.isoformat())
        counts["due_soon"] += 1
    elif half_time_at is not None and now >= half_time_at:
        await _notify(uow, handler, "case.half_time", case, dedupe=case.deadline.isoformat())
        counts["half_time"] += 1
