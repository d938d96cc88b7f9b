"""A resident's report ("随手拍") and its closed loop, as a case with a state machine.

    submit            → SUBMITTED     (a resident; 1–5 before-photos)
    assign            → ASSIGNED      (routing, or the community desk at any open state)
    accept            → IN_PROGRESS   (the handler; from ASSIGNED, REOPENED or FORWARDED)
    resolve           → RESOLVED      (the handler; after-photo and note required)
    confirm           → CLOSED        (a reporter; fixed, rated 1–5)
    auto_close        → CLOSED        (the clock; fixed, no rating)
    reject_fix        → REOPENED      (the reporter; same handler, rework_count + 1)
    reopen_after_auto_close → REOPENED (the reporter, within days of a silent close; as reject_fix)
    forward           → FORWARDED     (to the property company or a department)
    decline_not_mine  → SUBMITTED     (back on the community desk, see below)
    escalate          → ESCALATED     (to a department, with claim and fix deadlines)
    claim_escalation  → IN_PROGRESS   (the department's contact)
    reject_report     → REJECTED      (not a problem / not ours / cannot fix now)
    merge             → MERGED        (a duplicate; its reporters follow the other case)

Who may do what is checked before the state, so a stranger learns nothing about a case's
progress. Every transition records an event on `case.pending_events`; storage saves them in
the same transaction as the case.

"Not mine": a grid member who declines a case sends it back to the community desk. The case
returns to SUBMITTED with `handler_kind` STAFF and no handler — the same queue as a fresh
report, but marked as the desk's, so automatic routing leaves it alone (it would only hand
it back to the grid member who declined) and staff assign it by hand.

Closure reasons are kept apart from the state: a CLOSED case is fixed, a REJECTED or MERGED
one is not, and `is_fixed` is the only question statistics should ask.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Sequence

from core.errors import DomainError, NotAllowed, PlaceMismatch
from core.events import Event
from core.ids import saved_id
from core.people import Person, Role, Roles
from core.places import Building, Community, Grid
from core.proof import OnSpot
from core.workdays import CHINA_TZ

MAX_PHOTOS_PER_KIND = 5
MAX_DESCRIPTION = 500


# --- vocabulary ------------------------------------------------------------------------


class CaseState(str, enum.Enum):
    SUBMITTED = "submitted"        # waiting for routing, or on the community desk
    ASSIGNED = "assigned"          # a handler has it, not yet taken up
    IN_PROGRESS = "in_progress"    # the handler is on it
    RESOLVED = "resolved"          # after-photo uploaded, waiting for the resident
    CLOSED = "closed"              # the resident confirmed (or did not answer): fixed
    REOPENED = "reopened"          # the resident rejected the fix: rework
    FORWARDED = "forwarded"        # handed to the property company or a department
    ESCALATED = "escalated"        # "社区吹哨、部门报到": a department must claim it in time
    REJECTED = "rejected"          # not a real problem / not ours: closed without a fix
    MERGED = "merged"              # the same problem as another open case


class Category(str, enum.Enum):
    GARBAGE = "garbage"
    DRAINS_PIPES = "drains_pipes"
    PARKING = "parking"
    FIRE_LANE = "fire_lane"
    LIGHTS = "lights"
    GREENERY = "greenery"
    FLYERS = "flyers"
    NOISE = "noise"
    BUILDING_DAMAGE = "building_damage"
    OTHER = "other"


class ClosureReason(str, enum.Enum):
    FIXED = "fixed"
    NOT_A_PROBLEM = "not_a_problem"
    NOT_OUR_RESPONSIBILITY = "not_our_responsibility"
    DUPLICATE = "duplicate"
    CANNOT_FIX_NOW = "cannot_fix_now"


class HandlerKind(str, enum.Enum):
    GRID_MEMBER = "grid_member"
    PROPERTY = "property"          # the property company's contact
    DEPARTMENT = "department"      # a department's contact (城管, 住建, 民警 …)
    STAFF = "staff"                # the community desk


class PhotoKind(str, enum.Enum):
    BEFORE = "before"      # 事前
    DURING = "during"      # 事中
    AFTER = "after"        # 事后


# Cases someone still has to work on; a resident may join them as "same problem".
OPEN_STATES = frozenset({CaseState.SUBMITTED, CaseState.ASSIGNED, CaseState.IN_PROGRESS,
                         CaseState.REOPENED, CaseState.FORWARDED, CaseState.ESCALATED})
FINISHED_STATES = frozenset({CaseState.CLOSED, CaseState.REJECTED, CaseState.MERGED})
# States the desk may take a case back from and give it to someone else.
REASSIGNABLE_STATES = OPEN_STATES


# --- errors --------------------------------------------------------------------------


class NotYourCase(DomainError):
    """The person is neither the case's handler nor its reporter (nor staff where staff may act)."""

    key = "case.not_yours"

    def __init__(self, number: str) -> None:
        self.number = number
        super().__init__(number=number)


class WrongState(DomainError):
    key = "case.wrong_state"

    def __init__(self, number: str, state: CaseState, action: str) -> None:
        self.number, self.state, self.action = number, state, action
        super().__init__(number=number, state=CaseState(state).value, action=action)


class PhotoRequired(DomainError):
    key = "case.photo_required"


class TooManyPhotos(DomainError):
    key = "case.too_many_photos"


class PhotoReused(DomainError):
    """The after-photo is the very file sent as a before-photo: it proves nothing."""

    key = "case.photo_reused"


class NoteRequired(DomainError):
    key = "case.note_required"


class ReasonRequired(DomainError):
    key = "case.reason_required"


class DescriptionTooLong(DomainError):
    key = "case.description_too_long"


class BadRating(DomainError):
    key = "case.bad_rating"


class MergeRefused(DomainError):
    key = "case.merge_refused"


class ReopenTooLate(DomainError):
    key = "case.reopen_too_late"


class JoinRefused(DomainError):
    """"Same problem" pressed for a case the resident was not offered (another kind, too far, closed)."""

    key = "case.join_refused"

    def __init__(self, number: str) -> None:
        self.number = number
        super().__init__(number=number)


class NotFixedReason(str, enum.Enum):
    """Why a resident says a fix did not work: the common answers get a button, the rest is typed."""

    NOT_DONE = "not_done"          # nothing changed
    PARTLY = "partly"              # only part of it was fixed
    CAME_BACK = "came_back"        # it was fixed and is broken again
    WRONG_PLACE = "wrong_place"    # the after-photo shows another place
    OTHER = "other"                # see the comment


# --- the case ------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who is acting, with the roles that say what they may do."""

    person_id: int
    roles: Roles

    @classmethod
    def of(cls, person: Person, roles: Roles) -> Actor:
        return cls(saved_id(person), roles)


@dataclass(frozen=True)
class PhotoRef:
    """A stored photo, named by the SHA-256 of its bytes; the bytes live outside core.

    `dhash` is the 64-bit perceptual hash (see core.duplicates), when one was computed.
    """

    sha256: str
    kind: PhotoKind
    width: int | None = None
    height: int | None = None
    dhash: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", PhotoKind(self.kind))


@dataclass
class Case:
    id: int | None
    number: str                      # "DC-2026-000123", what people read and say
    reporter_id: int
    community_id: int
    grid_id: int
    building_id: int
    category: Category
    description: str
    photos: list[PhotoRef]
    state: CaseState
    deadline: datetime               # aware; "within two working days" from the report
    created_at: datetime
    updated_at: datetime
    handler_id: int | None = None    # the grid member / contact now responsible
    handler_kind: HandlerKind | None = None   # None: not routed yet
    closure_reason: ClosureReason | None = None
    closure_note: str | None = None           # why it was rejected
    resolution_note: str | None = None        # what the handler did
    rating: int | None = None                 # 1–5, from the resident who confirmed
    rework_count: int = 0
    me_too: list[int] = field(default_factory=list)
    merged_into: int | None = None
    escalation_deadline: datetime | None = None   # the department must claim it by then
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    anonymous: bool = False          # the reporter is not shown to the handler (core.disclosure); staff see who
    reporter_left_at: datetime | None = None   # the reporter used /forget (see `reporter_left`)
    # proof on the spot at the last resolve (core.proof): None when it was not asked (older cases)
    on_site: bool | None = None
    proof_distance_m: float | None = None     # metres from the building, when a location was given
    proof_reason: str | None = None           # why none was given (core.proof.SkipReason value)
    proof_words: str | None = None            # … in the handler's words
    pending_events: list[Event] = field(default_factory=list, compare=False, repr=False)

    def record(self, kind: str, at: datetime, actor_id: int | None,
               before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> Event:
        """Keep an event for storage to save with the case."""
        event = Event("case", self.number, kind, at, actor_id, before, after)
        self.pending_events.append(event)
        return event

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def on_desk(self) -> bool:
        """Waiting for the community desk to decide who takes it."""
        return self.state == CaseState.SUBMITTED and self.handler_kind == HandlerKind.STAFF

    def is_handled_by(self, person_id: int | None) -> bool:
        return person_id is not None and self.handler_id == person_id

    def photos_of(self, kind: PhotoKind) -> list[PhotoRef]:
        return [p for p in self.photos if p.kind == kind]


def case_number(community_code: str, year: int, seq: int) -> str:
    """The number people read out on the phone: community code, year, running number."""
    code = community_code.strip().upper()
    if not code or not code.isascii() or not code.isalnum():
        raise ValueError(f"community code must be letters or digits: {community_code!r}")
    if seq < 1:
        raise ValueError("case numbers start at 1")
    return f"{code}-{year:04d}-{seq:06d}"


# --- questions the rest of the system asks ---------------------------------------------


def is_fixed(case: Case) -> bool:
    """Counted as a fix: closed as fixed. Rejections and merges never are."""
    return case.state == CaseState.CLOSED and case.closure_reason == ClosureReason.FIXED


def is_one_time_fix(case: Case) -> bool:
    """Fixed without the resident ever rejecting the fix (the "one-time closure rate")."""
    return is_fixed(case) and case.rework_count == 0


def lacks_proof(case: Case) -> bool:
    """Resolved without proof on the spot (too far, or no location): flagged to staff (core.proof)."""
    return case.on_site is False and case.resolved_at is not None


def is_overdue(case: Case, now: datetime) -> bool:
    """Still being worked on after its deadline. A resolved case waits on the resident, not us."""
    return case.state in OPEN_STATES and now > case.deadline


def is_claim_overdue(case: Case, now: datetime) -> bool:
    """Escalated, and the department has not claimed it in time ("及时认领")."""
    return (case.state == CaseState.ESCALATED and case.escalation_deadline is not None
            and now > case.escalation_deadline)


def should_auto_close(case: Case, now: datetime, wait: timedelta) -> bool:
    """The resident was asked to confirm the fix and has not answered for `wait`."""
    return case.state == CaseState.RESOLVED and case.resolved_at is not None and now - case.resolved_at >= wait


# The handler is reminded this long before the deadline ("due soon").
DUE_SOON = timedelta(hours=2)


def next_check(case: Case, half_time_at: datetime | None, confirm_wait: timedelta, now: datetime) -> datetime | None:
    """The next moment the clock must look at `case`, having looked at it at `now`; None: never again.

    The moments are those at which the sweep's answer changes: half time, `DUE_SOON` before the
    deadline, just after the deadline and after an escalation's claim deadline (both "later than"),
    and the end of the resident's wait on a resolved case. One already passed at `now` has been
    acted on; a change to the case (a new deadline, a reopening) makes storage have it looked at again.
    """
    if case.state == CaseState.RESOLVED:
        moments = [(case.resolved_at + confirm_wait, False)] if case.resolved_at is not None else []
    elif case.state in OPEN_STATES:
        moments = [(case.deadline - DUE_SOON, False), (case.deadline, True)]
        if half_time_at is not None:
            moments.append((half_time_at, False))
        if case.state == CaseState.ESCALATED and case.escalation_deadline is not None:
            moments.append((case.escalation_deadline, True))
    else:
        return None
    # a "later than" moment has passed only once `now` is beyond it; the others once `now` reaches them
    ahead = [at for at, after in moments if (now <= at if after else now < at)]
    return min(ahead, default=None)


def recipients_of_outcome(case: Case) -> list[int]:
    """Everyone who reported this problem: the reporter (unless they left: /forget) and the "same
    problem" joiners."""
    reporter = [] if case.reporter_left_at is not None else [case.reporter_id]
    return list(dict.fromkeys([*reporter, *case.me_too]))


# --- transitions ---------------------------------------------------------------------


def submit(reporter: Actor, building: Building, grid: Grid, community: Community, category: Category,
           photos: Sequence[PhotoRef], description: str, now: datetime, deadline: datetime, *,
           seq: int, year: int | None = None, lat: float | None = None, lon: float | None = None,
           anonymous: bool = False) -> Case:
    """A resident photographs a problem and sends it with its place and a few words; `anonymous`:
    the grid member is not told who (core.disclosure), staff still are.

    `seq` is the community's running number for the year (storage hands it out);
    `deadline` comes from the work calendar ("two working days").
    """
    if not reporter.roles.has(Role.RESIDENT):
        raise NotAllowed(action="case.submit")
    if building.grid_id != grid.id:
        raise PlaceMismatch(building=building.name, community=community.name)
    if deadline.tzinfo is None:
        raise ValueError("a deadline must be an aware datetime")
    before_photos = _distinct(photos)
    _check_photos(before_photos, PhotoKind.BEFORE)
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise DescriptionTooLong(max=MAX_DESCRIPTION)
    case = Case(
        id=None, number=case_number(community.code, year if year is not None else now.astimezone(CHINA_TZ).year, seq),
        reporter_id=reporter.person_id, community_id=saved_id(community),
        grid_id=building.grid_id, building_id=saved_id(building),
        category=Category(category), description=description, photos=before_photos,
        state=CaseState.SUBMITTED, deadline=deadline, created_at=now, updated_at=now, lat=lat, lon=lon,
        anonymous=bool(anonymous),
    )
    case.record("submitted", now, reporter.person_id, None, {
        "state": case.state.value, "category": case.category.value, "building_id": case.building_id,
        "grid_id": case.grid_id, "photos": [p.sha256 for p in before_photos],
        "deadline": deadline.isoformat(), "anonymous": bool(anonymous)})
    return case


def assign(case: Case, to_person_id: int, by: Actor | None, now: datetime, *,
           kind: HandlerKind = HandlerKind.GRID_MEMBER) -> Case:
    """Routing gives a fresh report to its grid member; the community desk may (re)assign any open case.

    `by=None` is the system. It may only route fresh reports: a case on the desk waits for
    staff, who know why it came back.
    """
    if by is None:
        if case.on_desk:
            raise NotAllowed(action="case.assign")
        allowed: frozenset[CaseState] = frozenset({CaseState.SUBMITTED})
    else:
        may_assign(case, by)
        allowed = REASSIGNABLE_STATES
    _require_state(case, allowed, "assign")
    event = "assigned" if case.state == CaseState.SUBMITTED else "reassigned"
    before = _handler_view(case)
    case.handler_id, case.handler_kind = to_person_id, HandlerKind(kind)
    _move(case, CaseState.ASSIGNED, event, _id(by), now, before, _handler_view(case))
    return case


def may_accept(case: Case, by: Actor) -> None:
    _require_handler(case, by)
    _require_state(case, {CaseState.ASSIGNED, CaseState.REOPENED, CaseState.FORWARDED}, "accept")


def accept(case: Case, by: Actor, now: datetime) -> Case:
    """The handler takes the case up (again, after a rejected fix or a hand-over)."""
    may_accept(case, by)
    _move(case, CaseState.IN_PROGRESS, "accepted", by.person_id, now)
    return case


def may_add_during_photo(case: Case, by: Actor) -> None:
    _require_handler(case, by)
    _require_state(case, {CaseState.IN_PROGRESS}, "add_during_photo")


def add_during_photo(case: Case, by: Actor, photo: PhotoRef, now: datetime) -> Case:
    """The optional middle picture of the three ("事中"): work under way."""
    may_add_during_photo(case, by)
    _check_photos([*case.photos_of(PhotoKind.DURING), photo], PhotoKind.DURING)
    case.photos.append(photo)
    case.updated_at = now
    case.record("during_photo_added", now, by.person_id, {"state": case.state.value},
                {"state": case.state.value, "photo": photo.sha256})
    return case


def may_resolve(case: Case, by: Actor) -> None:
    _require_handler(case, by)
    _require_state(case, {CaseState.IN_PROGRESS, CaseState.REOPENED}, "resolve")


def resolve(case: Case, by: Actor, after_photo: PhotoRef | None, note: str, now: datetime, *,
            proof: OnSpot | None = None) -> Case:
    """The handler proves the fix with an after-photo and a note; the resident is asked to confirm.

    `proof` is the verdict on the handler's location (core.proof): kept on the case and in the event;
    not on the spot, the case is resolved all the same and flagged to staff. None: not asked."""
    may_resolve(case, by)
    if after_photo is None or after_photo.kind != PhotoKind.AFTER:
        raise PhotoRequired(kind=PhotoKind.AFTER.value)
    if after_photo.sha256 in {p.sha256 for p in case.photos_of(PhotoKind.BEFORE)}:
        raise PhotoReused()
    note = (note or "").strip()
    if not note:
        raise NoteRequired()
    case.photos.append(after_photo)
    case.resolution_note = note
    case.resolved_at = now
    case.on_site = proof.on_site if proof is not None else None
    case.proof_distance_m = proof.distance_m if proof is not None else None
    case.proof_reason = proof.reason if proof is not None else None
    case.proof_words = proof.words if proof is not None else None
    _move(case, CaseState.RESOLVED, "resolved", by.person_id, now,
          after={"photo": after_photo.sha256, "note": note, "on_time": now <= case.deadline,
                 **(proof.event_view() if proof is not None else {})})
    return case


def may_confirm(case: Case, by: Actor) -> None:
    """Only the first reporter answers "fixed?": neighbours who joined give feedback (`add_feedback`)."""
    if by.person_id != case.reporter_id:
        raise NotYourCase(case.number)
    _require_state(case, {CaseState.RESOLVED}, "confirm")


def confirm(case: Case, by: Actor, rating: int, now: datetime) -> Case:
    """The resident who reported the problem says it is fixed and rates the work; the case closes."""
    may_confirm(case, by)
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise BadRating(rating=rating)
    case.rating = rating
    _close(case, CaseState.CLOSED, ClosureReason.FIXED, "confirmed", by.person_id, now, {"rating": rating})
    return case


def may_reject_fix(case: Case, by: Actor) -> None:
    if by.person_id != case.reporter_id:
        raise NotYourCase(case.number)
    _require_state(case, {CaseState.RESOLVED}, "reject_fix")


def reject_fix(case: Case, by: Actor, comment: str, now: datetime, *,
               new_deadline: datetime | None = None, reason: NotFixedReason | None = None) -> Case:
    """The reporter says it is not fixed, and why: it goes back to the same handler as rework.

    The deadline stays unless the service grants a new one, so on-time statistics still
    measure against the promise made to the resident.
    """
    may_reject_fix(case, by)
    comment = (comment or "").strip()
    if len(comment) > MAX_DESCRIPTION:
        raise DescriptionTooLong(max=MAX_DESCRIPTION)
    before = {"rework_count": case.rework_count, "deadline": case.deadline.isoformat()}
    case.rework_count += 1
    case.resolved_at = None
    if new_deadline is not None:
        case.deadline = new_deadline
    _move(case, CaseState.REOPENED, "fix_rejected", by.person_id, now, before,
          {"rework_count": case.rework_count, "deadline": case.deadline.isoformat(),
           "comment": comment, "reason": NotFixedReason(reason).value if reason else None})
    return case


def may_give_feedback(case: Case, by: Actor) -> None:
    """Neighbours who joined the case ("same problem") are told the outcome and may say what they think."""
    if by.person_id not in case.me_too:
        raise NotYourCase(case.number)
    _require_state(case, {CaseState.RESOLVED, CaseState.CLOSED}, "feedback")


def add_feedback(case: Case, by: Actor, fixed: bool, now: datetime, *, rating: int | None = None,
                 reason: NotFixedReason | None = None, comment: str = "") -> Case:
    """A joiner's view of the fix, kept for staff. It never closes, reopens or re-rates the case:
    the first reporter alone answers "fixed?"."""
    may_give_feedback(case, by)
    if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5):
        raise BadRating(rating=rating)
    comment = (comment or "").strip()
    if len(comment) > MAX_DESCRIPTION:
        raise DescriptionTooLong(max=MAX_DESCRIPTION)
    case.record("supporter_feedback", now, by.person_id, {"state": case.state.value},
                {"state": case.state.value, "fixed": bool(fixed), "rating": rating,
                 "reason": NotFixedReason(reason).value if reason else None, "comment": comment})
    return case


def auto_close(case: Case, now: datetime) -> Case:
    """The resident did not answer in time: the fix counts as accepted, with no rating."""
    _require_state(case, {CaseState.RESOLVED}, "auto_close")
    _close(case, CaseState.CLOSED, ClosureReason.FIXED, "auto_closed", None, now, {"auto": True})
    return case


def reporter_left(case: Case, now: datetime) -> bool:
    """The reporter used /forget: the case stays (for the statistics) without them, and nobody asks
    them to confirm any more. A fix waiting for their answer closes now as accepted and unrated, as
    their silence would have closed it after the wait; an open case goes on, and closes the same way
    once it is resolved (`close_without_reporter`). True when the case closed now."""
    if case.reporter_left_at is not None:
        return False
    case.reporter_left_at = now
    if case.state == CaseState.RESOLVED:
        close_without_reporter(case, now)
        return True
    case.updated_at = now
    case.record("reporter_left", now, None, {"state": case.state.value}, {"state": case.state.value})
    return False


def close_without_reporter(case: Case, now: datetime) -> Case:
    """A resolved case whose reporter left: closed as fixed, unrated (nobody can confirm or reopen it)."""
    _require_state(case, {CaseState.RESOLVED}, "close_without_reporter")
    if case.reporter_left_at is None:
        raise WrongState(case.number, case.state, "close_without_reporter")
    _close(case, CaseState.CLOSED, ClosureReason.FIXED, "closed_reporter_left", None, now, {"auto": True})
    return case


DEFAULT_REOPEN_WITHIN = timedelta(days=7)


def was_auto_closed(case: Case) -> bool:
    """Closed as fixed by the clock: a resident's confirmation always carries a rating."""
    return (case.state == CaseState.CLOSED and case.closure_reason == ClosureReason.FIXED and case.rating is None
            and case.closed_at is not None)


def may_reopen_after_auto_close(case: Case, by: Actor, now: datetime,
                                within: timedelta = DEFAULT_REOPEN_WITHIN) -> None:
    if by.person_id != case.reporter_id:
        raise NotYourCase(case.number)
    if not was_auto_closed(case):
        raise WrongState(case.number, case.state, "reopen")
    assert case.closed_at is not None
    if now - case.closed_at > within:
        raise ReopenTooLate(number=case.number, days=within.days)


def reopen_after_auto_close(case: Case, by: Actor, now: datetime, *,
                            within: timedelta = DEFAULT_REOPEN_WITHIN) -> Case:
    """The reporter, who did not answer "fixed?" in time, says within `within` of the silent close that
    it is not fixed after all: it goes back to the same handler as rework, as a 👎 would have.
    The deadline stays, as for `reject_fix`."""
    may_reopen_after_auto_close(case, by, now, within)
    before = {"rework_count": case.rework_count, "closure_reason": ClosureReason.FIXED.value,
              "closed_at": case.closed_at.isoformat() if case.closed_at else None}
    case.rework_count += 1
    case.closure_reason, case.closed_at, case.resolved_at = None, None, None
    _move(case, CaseState.REOPENED, "reopened_after_auto_close", by.person_id, now, before,
          {"rework_count": case.rework_count})
    return case


def may_forward(case: Case, by: Actor) -> None:
    _require_handler_or_staff(case, by)
    _require_state(case, {CaseState.SUBMITTED, CaseState.ASSIGNED, CaseState.IN_PROGRESS,
                          CaseState.REOPENED, CaseState.FORWARDED}, "forward")


def forward(case: Case, by: Actor, to_kind: HandlerKind, to_person_id: int, now: datetime) -> Case:
    """The handler (or the desk) hands the work to the property company or a department."""
    may_forward(case, by)
    to_kind = HandlerKind(to_kind)
    if to_kind not in (HandlerKind.PROPERTY, HandlerKind.DEPARTMENT):
        raise NotAllowed(action="case.forward")
    before = _handler_view(case)
    case.handler_id, case.handler_kind = to_person_id, to_kind
    _move(case, CaseState.FORWARDED, "forwarded", by.person_id, now, before, _handler_view(case))
    return case


def may_decline(case: Case, by: Actor) -> None:
    _require_handler(case, by)
    _require_state(case, {CaseState.ASSIGNED, CaseState.FORWARDED}, "decline_not_mine")


def decline_not_mine(case: Case, by: Actor, now: datetime, reason: str = "") -> Case:
    """The handler says "not mine": the case goes back to the community desk (see the module doc)."""
    may_decline(case, by)
    before = _handler_view(case)
    case.handler_id, case.handler_kind = None, HandlerKind.STAFF
    _move(case, CaseState.SUBMITTED, "declined_not_mine", by.person_id, now, before,
          {**_handler_view(case), "declined_by": by.person_id, "reason": (reason or "").strip()})
    return case


def send_to_desk(case: Case, now: datetime, reason: str) -> Case:
    """Routing found nobody for the place (a grid without a member): the desk decides."""
    _require_state(case, {CaseState.SUBMITTED}, "send_to_desk")
    if case.on_desk:
        return case
    before = _handler_view(case)
    case.handler_id, case.handler_kind = None, HandlerKind.STAFF
    _move(case, CaseState.SUBMITTED, "sent_to_desk", None, now, before, {**_handler_view(case), "reason": reason})
    return case


def may_escalate(case: Case, by: Actor) -> None:
    grid_member_handler = case.is_handled_by(by.person_id) and case.handler_kind == HandlerKind.GRID_MEMBER
    if not (grid_member_handler or by.roles.is_staff_of(case.community_id)):
        raise NotYourCase(case.number)
    _require_state(case, {CaseState.SUBMITTED, CaseState.ASSIGNED, CaseState.IN_PROGRESS,
                          CaseState.REOPENED, CaseState.FORWARDED}, "escalate")


def escalate(case: Case, by: Actor, department_contact_id: int, now: datetime,
             claim_by: datetime, fix_by: datetime) -> Case:
    """"社区吹哨、部门报到": what the grid cannot fix goes to a department with time limits.

    The department must claim it by `claim_by` and fix it by `fix_by`, both counted from
    the whistle, not from the claim, so a slow claim does not buy more time.
    """
    may_escalate(case, by)
    if not now < claim_by <= fix_by:
        raise ValueError("an escalation needs now < claim_by <= fix_by")
    before = {**_handler_view(case), "deadline": case.deadline.isoformat()}
    case.handler_id, case.handler_kind = department_contact_id, HandlerKind.DEPARTMENT
    case.escalation_deadline, case.deadline = claim_by, fix_by
    _move(case, CaseState.ESCALATED, "escalated", by.person_id, now, before,
          {**_handler_view(case), "escalation_deadline": claim_by.isoformat(), "deadline": fix_by.isoformat()})
    return case


def may_claim(case: Case, by: Actor) -> None:
    _require_handler(case, by)
    _require_state(case, {CaseState.ESCALATED}, "claim_escalation")


def claim_escalation(case: Case, by: Actor, now: datetime) -> Case:
    """The department's contact answers the whistle ("部门报到") and owns the fix from now on."""
    may_claim(case, by)
    in_time = case.escalation_deadline is None or now <= case.escalation_deadline
    _move(case, CaseState.IN_PROGRESS, "escalation_claimed", by.person_id, now, after={"in_time": in_time})
    return case


def may_reject_report(case: Case, by: Actor) -> None:
    _require_handler_or_staff(case, by)
    _require_state(case, OPEN_STATES, "reject_report")


# The reasons a report may be closed without a fix: a button gives one of them, words may replace it.
REJECTION_REASONS = frozenset({ClosureReason.NOT_A_PROBLEM, ClosureReason.NOT_OUR_RESPONSIBILITY,
                               ClosureReason.CANNOT_FIX_NOW})


def reject_report(case: Case, by: Actor, reason: str | ClosureReason, now: datetime, *,
                  closure_reason: ClosureReason = ClosureReason.NOT_A_PROBLEM) -> Case:
    """The handler or the desk finds nothing to fix, and says why; it is closed without counting as a fix.

    `reason` is a code (a button: the closure reason itself, put in words for each reader when shown)
    or the person's own words, kept as written, with `closure_reason` as the code. The event keeps
    the code as `closure_reason` and the words, if any, as `reason`.
    """
    may_reject_report(case, by)
    if isinstance(reason, ClosureReason):
        closure_reason, words = reason, ""
    else:
        closure_reason, words = ClosureReason(closure_reason), (reason or "").strip()
        if not words:
            raise ReasonRequired()
    if closure_reason not in REJECTION_REASONS:
        raise ValueError("a rejection is not a fix, and duplicates are merged")
    case.closure_note = words or None
    _close(case, CaseState.REJECTED, closure_reason, "report_rejected", by.person_id, now, {"reason": words or None})
    return case


def may_merge(case: Case, by: Actor) -> None:
    _require_handler_or_staff(case, by)
    _require_state(case, OPEN_STATES, "merge")


def merge(case: Case, into: Case, by: Actor, now: datetime) -> Case:
    """The same problem was reported twice: `case` ends, and its reporters follow `into`.

    Everyone who reported `case` joins `into` as "same problem", so they all hear the outcome.
    """
    may_merge(case, by)
    if into.number == case.number:
        raise MergeRefused(why="same_case")
    if into.community_id != case.community_id:
        raise MergeRefused(why="other_community")
    if not into.is_open:
        raise WrongState(into.number, into.state, "merge_into")
    case.merged_into = into.id
    _close(case, CaseState.MERGED, ClosureReason.DUPLICATE, "merged", by.person_id, now,
           {"merged_into": into.number})
    before_me_too = list(into.me_too)
    for person_id in recipients_of_outcome(case):
        if person_id not in recipients_of_outcome(into):
            into.me_too.append(person_id)
    into.updated_at = now
    into.record("duplicate_merged_in", now, by.person_id, {"state": into.state.value, "me_too": before_me_too},
                {"state": into.state.value, "me_too": list(into.me_too), "from": case.number})
    return case


def join_me_too(case: Case, person_id: int, now: datetime) -> Case:
    """A resident about to report presses "Same problem" instead; they hear the outcome too.

    Pressing twice, or the reporter pressing it, changes nothing.
    """
    _require_state(case, OPEN_STATES, "join_me_too")
    if person_id in recipients_of_outcome(case):
        return case
    case.me_too.append(person_id)
    case.updated_at = now
    case.record("me_too_joined", now, person_id, {"state": case.state.value, "me_too": case.me_too[:-1]},
                {"state": case.state.value, "me_too": list(case.me_too)})
    return case


def may_assign(case: Case, by: Actor) -> None:
    """The community desk (re)assigns any open case of its community."""
    if not by.roles.is_staff_of(case.community_id):
        raise NotAllowed(action="case.assign")
    _require_state(case, REASSIGNABLE_STATES, "assign")


# What a channel asks at a press, before it opens a dialog or offers the next buttons: the very check
# the transition makes again when it runs, so a stale or forged press is refused before anything is asked.
CHECKS = {
    "accept": may_accept, "during": may_add_during_photo, "resolve": may_resolve, "confirm": may_confirm,
    "reject_fix": may_reject_fix, "feedback": may_give_feedback, "forward": may_forward,
    "not_mine": may_decline, "escalate": may_escalate, "claim": may_claim, "reject": may_reject_report,
    "merge": may_merge, "assign": may_assign,
}


def check(action: str, case: Case, by: Actor) -> None:
    """Raise what `action` on `case` by `by` would raise now (NotYourCase, WrongState, NotAllowed)."""
    try:
        rule = CHECKS[action]
    except KeyError:
        raise NotAllowed(action=f"case.{action}") from None
    rule(case, by)


# --- helpers -------------------------------------------------------------------------


def _id(actor: Actor | None) -> int | None:
    return actor.person_id if actor is not None else None


def _require_handler(case: Case, by: Actor) -> None:
    if not case.is_handled_by(by.person_id):
        raise NotYourCase(case.number)


def _require_handler_or_staff(case: Case, by: Actor) -> None:
    if not (case.is_handled_by(by.person_id) or by.roles.is_staff_of(case.community_id)):
        raise NotYourCase(case.number)


def _require_state(case: Case, allowed: frozenset[CaseState] | set[CaseState], action: str) -> None:
    if case.state not in allowed:
        raise WrongState(case.number, case.state, action)


def _move(case: Case, to: CaseState, kind: str, actor_id: int | None, now: datetime,
          before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    """Change the state and record it; `before`/`after` add what else changed."""
    old = case.state
    case.state = to
    case.updated_at = now
    case.record(kind, now, actor_id, {"state": old.value, **(before or {})}, {"state": to.value, **(after or {})})


def _close(case: Case, to: CaseState, reason: ClosureReason, kind: str, actor_id: int | None,
           now: datetime, after: dict[str, Any]) -> None:
    case.closure_reason = reason
    case.closed_at = now
    _move(case, to, kind, actor_id, now, after={"closure_reason": reason.value, **after})


def _handler_view(case: Case) -> dict[str, Any]:
    return {"handler_id": case.handler_id,
            "handler_kind": case.handler_kind.value if case.handler_kind is not None else None}


def _distinct(photos: Sequence[PhotoRef]) -> list[PhotoRef]:
    """The same file sent twice is one photo."""
    seen: dict[str, PhotoRef] = {}
    for photo in photos:
        seen.setdefault(photo.sha256, photo)
    return list(seen.values())


def _check_photos(photos: Sequence[PhotoRef], kind: PhotoKind) -> None:
    if not photos or any(p.kind != kind for p in photos):
        raise PhotoRequired(kind=kind.value)
    if len(photos) > MAX_PHOTOS_PER_KIND:
        raise TooManyPhotos(kind=kind.value, max=MAX_PHOTOS_PER_KIND)
