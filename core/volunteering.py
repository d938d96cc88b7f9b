"""Party-member volunteering: "群众点单、社区派单、党员接单".

A resident orders a service, the community desk turns it into a post (or declines it, saying
why), and approved party members of that community claim the post's places.

Registration ("双报到"), a party-member grant of the person's home community:

    register_party_member → PENDING   (the person, naming home community and work unit)
    approve_registration  → ACTIVE    (staff of that community)
    decline_registration  → DECLINED  (staff of that community, optional reason)

A member who joins by invite gets an ACTIVE grant at once (core.onboarding.redeem_invite).

An order, the resident's request:

    order_service   → NEW         (a resident of the community)
    dispatch_order  → DISPATCHED  (staff; makes the post)
    decline_order   → DECLINED    (staff; a reason the resident is told)

A post, and its places:

    create_post  → OPEN        (staff; or the scheduler for a theme-day template)
    claim        → OPEN | FULL (the last place taken makes it FULL)
    withdraw     → FULL | OPEN (the first on the waitlist takes the freed place, else OPEN)
    cancel_post  → CANCELLED   (staff, with a reason)
    complete_post → DONE       (staff or the clock, once the post has ended)

A claim, one member on one post:

    claim          → CLAIMED or WAITLISTED
    withdraw       → WITHDRAWN    (until the cut-off before start; waitlisted: until start)
    check_in       → CHECKED_IN   (photo, optional location; from 30 min before start)
    check_out      → CHECKED_OUT  (photo, not the check-in one)
    check_out_for  → CHECKED_OUT  (staff, after the post ended, for a member who forgot; no photo)
    confirm_service → CONFIRMED   (staff, or the resident who ordered; rating 1–5)
    mark_no_show   → NO_SHOW      (staff, after start; counts towards suspension)

Rules decided here:

* Who may claim: a party member whose ACTIVE grant is for the post's community. Registration
  elsewhere, a pending or declined registration: "post.not_member".
* Overlap: a claim is refused when the post's time overlaps any other post the member holds
  a place on *or waits for* (waiting is a promise to come if a place frees), so a promotion
  from the waitlist never creates a double booking. Back-to-back posts do not overlap.
  Cancelled posts never block.
* Withdrawal: a member holding a place may withdraw up to and including the moment
  `starts_at - cutoff` (default 3 h); a waitlisted member may leave any time before start.
  The freed place goes to the first waitlisted claim (earliest `queued_at`, then lowest id);
  the promoted member is not asked again (they agreed when they joined the waitlist) and is
  told. A member who withdrew and claims again joins at the back.
* Hours: check-out minus check-in, capped by the post's length, never negative.
* No-shows: after `limit` (default 2) no-shows in a community, the member cannot claim there
  until staff lift the suspension; the count is kept (the lift records it), and the next
  suspension comes after `limit` more no-shows.

Race safety (the last place): the pure functions decide with the numbers they are given
(`post.places_taken`, `post.capacity`). Two members pressing Claim at the same instant each
load the same snapshot, and both would be told "yes". Storage must therefore save a changed
post with an optimistic check on the version it loaded:

    UPDATE volunteer_posts SET places_taken = :taken, state = :state, version = version + 1
     WHERE id = :id AND version = :loaded_version

(or hold the post's row lock — `SELECT … FOR UPDATE`, SQLite's `BEGIN IMMEDIATE` — from
load to commit). When the UPDATE changes no row the claim lost the race: roll back, reload,
call `claim` again, which now answers "post.full" (or waitlists when asked to). The claim
row itself is saved in the same transaction. `withdraw` needs the same check, or two
withdrawals could promote the same waitlisted member twice. Claims are unique per
(post, person): a member who withdrew and claims again reuses their row (`existing=`).

Every transition records an event on the object's `pending_events`; storage saves them in
the same transaction as the object. Telling people (the resident who is coming, the
promoted member, new posts to members) is the service's job, through the outbox;
`next_allowed_moment` says when quiet hours allow it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from core.cases import Actor
from core.errors import AlreadyHasRole, DomainError, NotAllowed
from core.events import Event
from core.people import GrantStatus, Role, RoleGrant, Roles
from core.workdays import CHINA_TZ

DEFAULT_WITHDRAW_CUTOFF = timedelta(hours=3)
DEFAULT_NO_SHOW_LIMIT = 2
CHECK_IN_EARLY = timedelta(minutes=30)       # a member may check in this long before start
QUIET_START = time(22, 0)
QUIET_END = time(7, 0)

MAX_DESCRIPTION = 300
MAX_SHORT_TEXT = 60          # preferred time, title, work unit
MAX_PLACE = 100
MAX_CAPACITY = 500
MAX_POINTS_PER_PERSON = 1000
MAX_SKILLS = 5


# --- vocabulary ------------------------------------------------------------------------


class ServiceKind(str, enum.Enum):
    ELDERLY_HELP = "elderly_help"      # helping an elderly neighbour
    CARRYING = "carrying"              # carrying things, moving
    TUTORING = "tutoring"              # homework help, phone and computer lessons
    PAPERWORK = "paperwork"            # forms, applications, online services
    SMALL_REPAIRS = "small_repairs"    # in the home, not a property fault (that is a report)
    COMPANIONSHIP = "companionship"    # a chat, a walk, a visit
    OTHER = "other"


class OrderState(str, enum.Enum):
    NEW = "new"
    DISPATCHED = "dispatched"
    DECLINED = "declined"


class PostState(str, enum.Enum):
    OPEN = "open"                # places remain
    FULL = "full"                # every place taken; claims may join the waitlist
    CANCELLED = "cancelled"
    DONE = "done"


class ClaimState(str, enum.Enum):
    CLAIMED = "claimed"          # holds a place
    WAITLISTED = "waitlisted"    # waits for a place
    WITHDRAWN = "withdrawn"
    CHECKED_IN = "checked_in"
    CHECKED_OUT = "checked_out"
    CONFIRMED = "confirmed"      # the service was done; hours and points count
    NO_SHOW = "no_show"


# A claim in these states holds one of the post's places.
HOLDS_PLACE = frozenset({ClaimState.CLAIMED, ClaimState.CHECKED_IN, ClaimState.CHECKED_OUT,
                         ClaimState.CONFIRMED})
# A claim in these states keeps the member's time busy (see the overlap rule).
BLOCKS_TIME = frozenset({ClaimState.CLAIMED, ClaimState.WAITLISTED, ClaimState.CHECKED_IN,
                         ClaimState.CHECKED_OUT})
# A claim in these states is live: claiming the same post again is refused.
LIVE_CLAIM = HOLDS_PLACE | {ClaimState.WAITLISTED}
CLAIMABLE_POST = frozenset({PostState.OPEN, PostState.FULL})


# --- errors ----------------------------------------------------------------------------


class WrongState(DomainError):
    """The thing is not in a state that allows this (a decided order, a finished claim …)."""

    key = "volunteer.wrong_state"

    def __init__(self, what: str, ref: str, state: str, action: str) -> None:
        self.what, self.ref, self.state, self.action = what, ref, state, action
        super().__init__(what=what, ref=ref, state=state, action=action)


class RegistrationPending(DomainError):
    key = "party.registration_pending"


class RegisteredElsewhere(DomainError):
    """"双报到" is to one home community; moving is done by that community's staff."""

    key = "party.registered_elsewhere"


class WorkUnitRequired(DomainError):
    key = "party.work_unit_required"


class NotResident(DomainError):
    key = "order.not_resident"


class DescriptionRequired(DomainError):
    key = "order.description_required"


class TextTooLong(DomainError):
    key = "volunteer.text_too_long"


class ReasonRequired(DomainError):
    key = "volunteer.reason_required"


class BadPost(DomainError):
    """A post that cannot be: no title or place, ends before it starts, no places …"""

    key = "post.invalid"


class NotMember(DomainError):
    """Not an approved party member of the post's community."""

    key = "post.not_member"


class NotYourClaim(DomainError):
    key = "post.not_your_claim"


class PostClosed(DomainError):
    """Cancelled or done: nothing to claim."""

    key = "post.closed"


class PostStarted(DomainError):
    key = "post.started"


class PostFull(DomainError):
    """No place left. `waitlist` says the member may join the waitlist instead."""

    key = "post.full"


class AlreadyClaimed(DomainError):
    key = "post.already_claimed"


class Overlap(DomainError):
    key = "post.overlap"


class Suspended(DomainError):
    key = "post.suspended"


class WithdrawTooLate(DomainError):
    key = "post.withdraw_too_late"


class CheckInTooEarly(DomainError):
    key = "post.check_in_too_early"


class CheckInTooLate(DomainError):
    key = "post.check_in_too_late"


class PhotoRequired(DomainError):
    key = "post.photo_required"


class PhotoReused(DomainError):
    """The check-out photo is the check-in photo: it proves nothing."""

    key = "post.photo_reused"


class BadRating(DomainError):
    key = "post.bad_rating"


class NotStartedYet(DomainError):
    key = "post.not_started"


class NotEndedYet(DomainError):
    key = "post.not_ended"


# --- who is who ------------------------------------------------------------------------


def is_party_member_of(roles: Roles, community_id: int) -> bool:
    """Approved ("双报到" done) for this community; pending and declined grants do not count."""
    return any(g.role == Role.PARTY_MEMBER and g.community_id == community_id for g in roles.grants)


def is_resident_of(roles: Roles, community_id: int) -> bool:
    return any(g.role == Role.RESIDENT and g.community_id == community_id for g in roles.grants)


# --- registration ("双报到") ------------------------------------------------------------


@dataclass
class Registration:
    """A party member's grant for their home community, with the events of its decisions."""

    grant: RoleGrant
    pending_events: list[Event] = field(default_factory=list, compare=False, repr=False)

    def record(self, kind: str, at: datetime, actor_id: int | None,
               before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> Event:
        event = Event("person", str(self.grant.person_id), kind, at, actor_id, before, after)
        self.pending_events.append(event)
        return event


def register_party_member(person_id: int, roles: Roles, community_id: int, work_unit: str,
                          now: datetime) -> Registration:
    """A party member asks to register with their home community and names their work unit.

    `roles` are the person's grants (active and pending). One home community at a time:
    a pending request anywhere, or an approved registration elsewhere, is refused.
    """
    for grant in roles.grants:
        if grant.role == Role.PARTY_MEMBER:
            if grant.community_id == community_id:
                raise AlreadyHasRole(role=Role.PARTY_MEMBER.value)
            raise RegisteredElsewhere(community_id=grant.community_id)
    if any(g.role == Role.PARTY_MEMBER for g in roles.pending):
        raise RegistrationPending()
    work_unit = _short(work_unit, MAX_SHORT_TEXT)
    if not work_unit:
        raise WorkUnitRequired()
    grant = RoleGrant(None, person_id, Role.PARTY_MEMBER, GrantStatus.PENDING, community_id=community_id,
                      work_unit=work_unit, created_at=now)
    registration = Registration(grant)
    registration.record("party_registration_requested", now, person_id, None, _grant_view(grant))
    return registration


def approve_registration(registration: Registration, by: Actor, now: datetime) -> Registration:
    """Staff of the home community confirm the member: from now on they see and claim posts."""
    return _decide_registration(registration, by, now, GrantStatus.ACTIVE, "party_registration_approved", None)


def decline_registration(registration: Registration, by: Actor, now: datetime,
                         reason: str = "") -> Registration:
    """Staff of the community say no (not living here, not a party member …); the person is told."""
    return _decide_registration(registration, by, now, GrantStatus.DECLINED, "party_registration_declined",
                                _short(reason, MAX_DESCRIPTION))


def _decide_registration(registration: Registration, by: Actor, now: datetime, to: GrantStatus, kind: str,
                         reason: str | None) -> Registration:
    grant = registration.grant
    if grant.role != Role.PARTY_MEMBER or grant.community_id is None:
        raise ValueError("not a party member's registration")
    if not by.roles.is_staff_of(grant.community_id):
        raise NotAllowed(action="party.decide")
    if grant.status != GrantStatus.PENDING:
        raise WrongState("registration", str(grant.person_id), grant.status.value, kind)
    before = _grant_view(grant)
    grant.status = to
    grant.granted_by = by.person_id
    after = _grant_view(grant)
    if reason:
        after["reason"] = reason
    registration.record(kind, now, by.person_id, before, after)
    return registration


def _grant_view(grant: RoleGrant) -> dict[str, Any]:
    return {"role": grant.role.value, "status": grant.status.value, "community_id": grant.community_id,
            "work_unit": grant.work_unit}


# --- the resident's order ("群众点单") --------------------------------------------------


@dataclass
class Order:
    id: int | None
    number: str                    # "DC-FW-2026-000012", the confirmation the resident keeps
    resident_id: int
    community_id: int
    kind: ServiceKind
    description: str
    preferred_time: str            # in the resident's words ("周六上午"); staff set the real time
    place: str                     # shown only to staff and to members who hold a place (PIPL)
    state: OrderState
    created_at: datetime
    updated_at: datetime
    decline_reason: str | None = None
    post_number: str | None = None
    pending_events: list[Event] = field(default_factory=list, compare=False, repr=False)

    def record(self, kind: str, at: datetime, actor_id: int | None,
               before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> Event:
        event = Event("order", self.number, kind, at, actor_id, before, after)
        self.pending_events.append(event)
        return event


def order_number(community_code: str, year: int, seq: int) -> str:
    """"DC-FW-2026-000012": community code, 服务, year, the community's running number."""
    return _number(community_code, "FW", year, seq)


def post_number(community_code: str, year: int, seq: int) -> str:
    """"DC-GW-2026-000007": community code, 岗位, year, the community's running number."""
    return _number(community_code, "GW", year, seq)


def order_service(resident: Actor, community_id: int, kind: ServiceKind, description: str,
                  preferred_time: str, place: str, now: datetime, *, number: str) -> Order:
    """A resident asks for a service in a few words, with a preferred time and place.

    `number` comes from `order_number` (storage hands out the running number).
    A few words are required only for "other": the kind says enough otherwise.
    """
    if not is_resident_of(resident.roles, community_id):
        raise NotResident()
    kind = ServiceKind(kind)
    description = _short(description, MAX_DESCRIPTION)
    if kind == ServiceKind.OTHER and not description:
        raise DescriptionRequired()
    order = Order(None, number, resident.person_id, community_id, kind, description,
                  _short(preferred_time, MAX_SHORT_TEXT), _short(place, MAX_PLACE), OrderState.NEW, now, now)
    order.record("order_placed", now, resident.person_id, None,
                 {"state": order.state.value, "kind": kind.value, "community_id": community_id})
    return order


def dispatch_order(order: Order, by: Actor, now: datetime, *, number: str, title: str, starts_at: datetime,
                   ends_at: datetime, place: str, capacity: int, points_per_person: int,
                   skills: Sequence[str] = ()) -> Post:
    """"社区派单": staff turn the order into a post for the community's party members."""
    if not by.roles.is_staff_of(order.community_id):
        raise NotAllowed(action="order.dispatch")
    _require(order.state, {OrderState.NEW}, "order", order.number, "dispatch")
    post = _new_post(order.community_id, by.person_id, now, number=number, title=title, starts_at=starts_at,
                     ends_at=ends_at, place=place, capacity=capacity, points_per_person=points_per_person,
                     skills=skills, order_number=order.number, template_id=None)
    old = order.state
    order.state, order.post_number, order.updated_at = OrderState.DISPATCHED, post.number, now
    order.record("order_dispatched", now, by.person_id, {"state": old.value},
                 {"state": order.state.value, "post": post.number})
    return post


def decline_order(order: Order, by: Actor, reason: str, now: datetime) -> Order:
    """Staff cannot take the order on (a property fault, not a volunteer's job …) and say why."""
    if not by.roles.is_staff_of(order.community_id):
        raise NotAllowed(action="order.decline")
    _require(order.state, {OrderState.NEW}, "order", order.number, "decline")
    reason = _short(reason, MAX_DESCRIPTION)
    if not reason:
        raise ReasonRequired()
    old = order.state
    order.state, order.decline_reason, order.updated_at = OrderState.DECLINED, reason, now
    order.record("order_declined", now, by.person_id, {"state": old.value},
                 {"state": order.state.value, "reason": reason})
    return order


# --- the post ("社区派单") ----------------------------------------------------------------


@dataclass
class Post:
    id: int | None
    number: str
    community_id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    place: str
    capacity: int
    points_per_person: int
    state: PostState
    created_at: datetime
    updated_at: datetime
    skills: tuple[str, ...] = ()
    order_number: str | None = None       # made from a resident's order
    template_id: int | None = None        # made from a theme-day template
    created_by: int | None = None         # None: the scheduler
    places_taken: int = 0                 # claims holding a place; core keeps it, storage saves it
    cancel_reason: str | None = None
    version: int = 0                      # storage's optimistic lock; core never changes it
    pending_events: list[Event] = field(default_factory=list, compare=False, repr=False)

    def record(self, kind: str, at: datetime, actor_id: int | None,
               before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> Event:
        event = Event("post", self.number, kind, at, actor_id, before, after)
        self.pending_events.append(event)
        return event

    @property
    def length(self) -> timedelta:
        return self.ends_at - self.starts_at

    @property
    def places_left(self) -> int:
        return max(0, self.capacity - self.places_taken)

    @property
    def is_theme_day(self) -> bool:
        return self.template_id is not None

    def overlaps(self, other: Post) -> bool:
        """Their times share a moment; one ending when the other starts does not."""
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at

    def local_day(self, tz: ZoneInfo = CHINA_TZ) -> date:
        return self.starts_at.astimezone(tz).date()


def may_create_post(by: Actor, community_id: int) -> None:
    """Staff of the community (or an admin) put up posts there."""
    if not by.roles.is_staff_of(community_id):
        raise NotAllowed(action="post.create")


def create_post(by: Actor | None, community_id: int, now: datetime, *, number: str, title: str,
                starts_at: datetime, ends_at: datetime, place: str, capacity: int, points_per_person: int,
                skills: Sequence[str] = (), template_id: int | None = None) -> Post:
    """Staff put up a post directly; `by=None` is the scheduler making a theme-day post.

    The scheduler may only make posts from a template (`template_id`); everything else needs
    staff of the community.
    """
    if by is None:
        if template_id is None:
            raise NotAllowed(action="post.create")
    else:
        may_create_post(by, community_id)
    return _new_post(community_id, by.person_id if by else None, now, number=number, title=title,
                     starts_at=starts_at, ends_at=ends_at, place=place, capacity=capacity,
                     points_per_person=points_per_person, skills=skills, order_number=None,
                     template_id=template_id)


def _new_post(community_id: int, actor_id: int | None, now: datetime, *, number: str, title: str,
              starts_at: datetime, ends_at: datetime, place: str, capacity: int, points_per_person: int,
              skills: Sequence[str], order_number: str | None, template_id: int | None) -> Post:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("a post's times must be aware datetimes")
    title, place = _short(title, MAX_SHORT_TEXT), _short(place, MAX_PLACE)
    if not title:
        raise BadPost(why="title")
    if not place:
        raise BadPost(why="place")
    if not starts_at < ends_at:
        raise BadPost(why="times")
    if ends_at <= now:
        raise BadPost(why="past")
    if _not_int(capacity) or not 1 <= capacity <= MAX_CAPACITY:
        raise BadPost(why="capacity", max=MAX_CAPACITY)
    if _not_int(points_per_person) or not 0 <= points_per_person <= MAX_POINTS_PER_PERSON:
        raise BadPost(why="points", max=MAX_POINTS_PER_PERSON)
    skills = tuple(dict.fromkeys(s for s in (_short(x, MAX_SHORT_TEXT) for x in skills) if s))
    if len(skills) > MAX_SKILLS:
        raise BadPost(why="skills", max=MAX_SKILLS)
    post = Post(None, number, community_id, title, starts_at, ends_at, place, capacity, points_per_person,
                PostState.OPEN, now, now, skills=skills, order_number=order_number, template_id=template_id,
                created_by=actor_id)
    post.record("post_created", now, actor_id, None, {
        "state": post.state.value, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(),
        "capacity": capacity, "points_per_person": points_per_person, "order": order_number,
        "template_id": template_id})
    return post


def cancel_post(post: Post, by: Actor, reason: str, now: datetime) -> Post:
    """Staff call the post off; the service tells everyone holding or waiting for a place."""
    if not by.roles.is_staff_of(post.community_id):
        raise NotAllowed(action="post.cancel")
    _require(post.state, CLAIMABLE_POST, "post", post.number, "cancel")
    reason = _short(reason, MAX_DESCRIPTION)
    if not reason:
        raise ReasonRequired()
    post.cancel_reason = reason
    _move_post(post, PostState.CANCELLED, "post_cancelled", by.person_id, now, {"reason": reason})
    return post


def complete_post(post: Post, by: Actor | None, now: datetime) -> Post:
    """The post has ended: staff (or the clock, `by=None`) close it. Claims stay as they are."""
    if by is not None and not by.roles.is_staff_of(post.community_id):
        raise NotAllowed(action="post.complete")
    _require(post.state, CLAIMABLE_POST, "post", post.number, "complete")
    if now < post.ends_at:
        raise NotEndedYet(post=post.number)
    _move_post(post, PostState.DONE, "post_done", by.person_id if by else None, now)
    return post


# --- the claim ("党员接单") --------------------------------------------------------------


@dataclass
class Claim:
    id: int | None
    post_number: str
    person_id: int
    state: ClaimState
    queued_at: datetime                    # when they pressed Claim (orders the waitlist)
    updated_at: datetime
    claimed_at: datetime | None = None     # when they got a place (at once, or promoted)
    checked_in_at: datetime | None = None
    check_in_photo: str | None = None      # SHA-256 of the photo; the bytes live outside core
    check_in_lat: float | None = None
    check_in_lon: float | None = None
    checked_out_at: datetime | None = None
    check_out_photo: str | None = None
    served: timedelta | None = None        # hours that count, fixed on confirmation
    rating: int | None = None
    confirmed_by: int | None = None
    pending_events: list[Event] = field(default_factory=list, compare=False, repr=False)

    def record(self, kind: str, at: datetime, actor_id: int | None,
               before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> Event:
        event = Event("claim", f"{self.post_number}:{self.person_id}", kind, at, actor_id, before, after)
        self.pending_events.append(event)
        return event

    @property
    def holds_place(self) -> bool:
        return self.state in HOLDS_PLACE


@dataclass
class Standing:
    """A member's no-show record in one community, and whether they may claim there."""

    person_id: int
    community_id: int
    no_shows: int = 0
    suspended: bool = False
    suspended_at: datetime | None = None
    no_shows_at_lift: int = 0  # the count when staff last lifted a suspension; the next one counts from it
    pending_events: list[Event] = field(default_factory=list, compare=False, repr=False)

    @property
    def no_shows_since_lift(self) -> int:
        return self.no_shows - self.no_shows_at_lift

    def record(self, kind: str, at: datetime, actor_id: int | None,
               before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> Event:
        event = Event("person", str(self.person_id), kind, at, actor_id, before, after)
        self.pending_events.append(event)
        return event

    def view(self) -> dict[str, Any]:
        return {"community_id": self.community_id, "no_shows": self.no_shows, "suspended": self.suspended,
                "no_shows_at_lift": self.no_shows_at_lift}


def claim(post: Post, by: Actor, now: datetime, *, other_posts: Sequence[Post] = (),
          standing: Standing | None = None, existing: Claim | None = None, waitlist: bool = False) -> Claim:
    """A party member takes one of the post's places, or joins its waitlist when it is full.

    `other_posts`: the posts of the member's other claims that keep their time busy
    (`BLOCKS_TIME`). `standing`: their no-show record in this community (None: none yet).
    `existing`: their earlier claim on this post, if any (a withdrawn one is taken up again).
    `waitlist`: the member agreed to wait when no place is left; without it a full post
    answers "post.full" with `waitlist=True`, so the bot can offer the waitlist.

    Decides with `post.places_taken` as given; see the module's note on races for what
    storage must do so that exactly one of two claims for the last place wins.
    """
    if not is_party_member_of(by.roles, post.community_id):
        raise NotMember(community_id=post.community_id)
    if existing is not None and (existing.person_id != by.person_id or existing.post_number != post.number):
        raise ValueError("`existing` must be this member's claim on this post")
    if post.state not in CLAIMABLE_POST:
        raise PostClosed(post=post.number)
    if now >= post.starts_at:
        raise PostStarted(post=post.number)
    if standing is not None and standing.suspended:
        raise Suspended(no_shows=standing.no_shows)
    if existing is not None and existing.state in LIVE_CLAIM:
        raise AlreadyClaimed(post=post.number, state=existing.state.value)
    clash = next((p for p in other_posts
                  if p.number != post.number and p.state != PostState.CANCELLED and p.overlaps(post)), None)
    if clash is not None:
        raise Overlap(post=clash.number, title=clash.title, starts_at=clash.starts_at.isoformat())
    if post.places_left > 0:
        state = ClaimState.CLAIMED
    elif waitlist:
        state = ClaimState.WAITLISTED
    else:
        raise PostFull(post=post.number, waitlist=True)

    before = {"state": existing.state.value} if existing is not None else None
    if existing is not None:
        taken = existing
        taken.state, taken.queued_at, taken.updated_at = state, now, now
        taken.claimed_at = None
    else:
        taken = Claim(None, post.number, by.person_id, state, now, now)
    if state == ClaimState.CLAIMED:
        taken.claimed_at = now
        _take_place(post, now, by.person_id)
    taken.record("claimed" if state == ClaimState.CLAIMED else "waitlisted", now, by.person_id, before,
                 {"state": state.value, "places_taken": post.places_taken})
    return taken


def withdraw(claim_: Claim, post: Post, by: Actor, now: datetime, *, waitlist: Sequence[Claim] = (),
             cutoff: timedelta = DEFAULT_WITHDRAW_CUTOFF) -> Claim | None:
    """The member gives up their place (or their waitlist spot); returns who was promoted.

    A place may be given up until `post.starts_at - cutoff`, that moment included; a
    waitlist spot until the start. `waitlist` is the post's waitlisted claims (any order):
    the earliest takes the freed place and is returned, so the service can tell them.
    """
    if claim_.person_id != by.person_id:
        raise NotYourClaim(post=post.number)
    _check_pair(claim_, post)
    _require(claim_.state, {ClaimState.CLAIMED, ClaimState.WAITLISTED}, "claim", post.number, "withdraw")
    if post.state not in CLAIMABLE_POST:
        raise PostClosed(post=post.number)
    if claim_.state == ClaimState.CLAIMED and now > post.starts_at - cutoff:
        hours = cutoff.total_seconds() / 3600
        raise WithdrawTooLate(post=post.number, cutoff_hours=int(hours) if hours.is_integer() else hours)
    if now >= post.starts_at:
        raise PostStarted(post=post.number)
    held_place = claim_.state == ClaimState.CLAIMED
    old = claim_.state
    claim_.state, claim_.updated_at = ClaimState.WITHDRAWN, now
    claim_.record("withdrawn", now, by.person_id, {"state": old.value}, {"state": claim_.state.value})
    if not held_place:
        return None
    promoted = first_in_line([c for c in waitlist if c.post_number == post.number], exclude=claim_)
    if promoted is None:
        _free_place(post, now, by.person_id)
        return None
    promoted.state, promoted.claimed_at, promoted.updated_at = ClaimState.CLAIMED, now, now
    promoted.record("promoted", now, None, {"state": ClaimState.WAITLISTED.value},
                    {"state": ClaimState.CLAIMED.value, "freed_by": by.person_id})
    post.updated_at = now
    post.record("place_passed_on", now, by.person_id, {"places_taken": post.places_taken},
                {"places_taken": post.places_taken, "from": by.person_id, "to": promoted.person_id})
    return promoted


def first_in_line(waitlist: Sequence[Claim], exclude: Claim | None = None) -> Claim | None:
    """The waitlisted claim that waited longest (ties: the lower id, saved first)."""
    waiting = [c for c in waitlist if c.state == ClaimState.WAITLISTED and c is not exclude]
    if not waiting:
        return None
    return min(waiting, key=lambda c: (c.queued_at, c.id if c.id is not None else float("inf")))


def require_check_in(claim_: Claim, post: Post, by: Actor, now: datetime, *,
                     early: timedelta = CHECK_IN_EARLY) -> None:
    """May the member check in now? Their own place, not cancelled, from `early` before the start
    until the end. Asked at the press, before the member is asked for a photo, and again with it."""
    _require_own(claim_, post, by)
    _require(claim_.state, {ClaimState.CLAIMED}, "claim", post.number, "check_in")
    if post.state == PostState.CANCELLED:
        raise PostClosed(post=post.number)
    if now < post.starts_at - early:
        raise CheckInTooEarly(post=post.number, opens_at=(post.starts_at - early).isoformat())
    if now >= post.ends_at:
        raise CheckInTooLate(post=post.number)


def require_check_out(claim_: Claim, post: Post, by: Actor, now: datetime) -> None:
    """May the member check out now? Their own place, checked in. Asked at the press and with the photo."""
    _require_own(claim_, post, by)
    _require(claim_.state, {ClaimState.CHECKED_IN}, "claim", post.number, "check_out")


def check_in(claim_: Claim, post: Post, by: Actor, photo: str, now: datetime, *,
             lat: float | None = None, lon: float | None = None, early: timedelta = CHECK_IN_EARLY) -> Claim:
    """On the day: the member arrives and proves it with a photo (location if they share it)."""
    require_check_in(claim_, post, by, now, early=early)
    photo = (photo or "").strip()
    if not photo:
        raise PhotoRequired(action="check_in")
    claim_.checked_in_at, claim_.check_in_photo = now, photo
    claim_.check_in_lat, claim_.check_in_lon = lat, lon
    _move_claim(claim_, ClaimState.CHECKED_IN, "checked_in", by.person_id, now,
                {"photo": photo, "located": lat is not None and lon is not None})
    return claim_


def check_out(claim_: Claim, post: Post, by: Actor, photo: str, now: datetime) -> Claim:
    """The member leaves and proves the work with a second, different photo."""
    require_check_out(claim_, post, by, now)
    photo = (photo or "").strip()
    if not photo:
        raise PhotoRequired(action="check_out")
    if photo == claim_.check_in_photo:
        raise PhotoReused()
    if claim_.checked_in_at is not None and now < claim_.checked_in_at:
        raise ValueError("check-out before check-in")
    claim_.checked_out_at, claim_.check_out_photo = now, photo
    _move_claim(claim_, ClaimState.CHECKED_OUT, "checked_out", by.person_id, now,
                {"photo": photo, "hours": hours_served(claim_, post).total_seconds() / 3600})
    return claim_


def check_out_for(claim_: Claim, post: Post, by: Actor, now: datetime) -> Claim:
    """Staff check out a member who checked in and forgot to check out, once the post has ended.

    The check-out moment is the post's end (so the hours are the end minus the check-in,
    capped as usual); there is no photo. The event says who did it. Afterwards the claim
    is confirmed (or not) like any other checked-out claim.
    """
    _check_pair(claim_, post)
    if not by.roles.is_staff_of(post.community_id):
        raise NotAllowed(action="post.check_out_for")
    _require(claim_.state, {ClaimState.CHECKED_IN}, "claim", post.number, "check_out_for")
    if now < post.ends_at:
        raise NotEndedYet(post=post.number)
    out_at = post.ends_at
    if claim_.checked_in_at is not None and out_at < claim_.checked_in_at:
        out_at = claim_.checked_in_at
    claim_.checked_out_at, claim_.check_out_photo = out_at, None
    _move_claim(claim_, ClaimState.CHECKED_OUT, "checked_out_by_staff", by.person_id, now,
                {"by": by.person_id, "checked_out_at": out_at.isoformat(),
                 "hours": hours_served(claim_, post).total_seconds() / 3600})
    return claim_


def may_confirm(post: Post, by: Actor, *, order: Order | None = None) -> bool:
    """Only staff of the community, or the resident who ordered the service, confirm it; True for staff."""
    is_staff = by.roles.is_staff_of(post.community_id)
    is_orderer = (order is not None and post.order_number is not None and order.number == post.order_number
                  and order.resident_id == by.person_id)
    if not (is_staff or is_orderer):
        raise NotAllowed(action="post.confirm")
    return is_staff


def require_confirm(claim_: Claim, post: Post, by: Actor, *, order: Order | None = None) -> bool:
    """The guard `confirm_service` runs, for a press to be refused before the stars are shown."""
    _check_pair(claim_, post)
    is_staff = may_confirm(post, by, order=order)
    _require(claim_.state, {ClaimState.CHECKED_OUT}, "claim", post.number, "confirm")
    return is_staff


def confirm_service(claim_: Claim, post: Post, by: Actor, now: datetime, *, rating: int | None = None,
                    order: Order | None = None) -> Claim:
    """Staff of the community, or the resident who ordered the service, say it was done.

    The resident must rate it 1–5; staff may (theme days have many members to confirm).
    The hours are fixed now; the service then credits `post.points_per_person` points.
    """
    is_staff = require_confirm(claim_, post, by, order=order)
    if rating is None and not is_staff:
        raise BadRating(rating=None)
    if rating is not None and (_not_int(rating) or not 1 <= rating <= 5):
        raise BadRating(rating=rating)
    claim_.served = hours_served(claim_, post)
    claim_.rating, claim_.confirmed_by = rating, by.person_id
    _move_claim(claim_, ClaimState.CONFIRMED, "service_confirmed", by.person_id, now,
                {"rating": rating, "hours": claim_.served.total_seconds() / 3600,
                 "by": "staff" if is_staff else "resident"})
    return claim_


def mark_no_show(claim_: Claim, post: Post, standing: Standing, by: Actor, now: datetime, *,
                 limit: int = DEFAULT_NO_SHOW_LIMIT) -> Standing:
    """Staff record that a member holding a place did not come; at `limit` they are suspended.

    Only after the post has started, and only for a claim that never checked in.
    """
    _check_pair(claim_, post)
    if not by.roles.is_staff_of(post.community_id):
        raise NotAllowed(action="post.no_show")
    if standing.person_id != claim_.person_id or standing.community_id != post.community_id:
        raise ValueError("the standing must be the member's in the post's community")
    _require(claim_.state, {ClaimState.CLAIMED}, "claim", post.number, "no_show")
    if now < post.starts_at:
        raise NotStartedYet(post=post.number)
    if limit < 1:
        raise ValueError("the no-show limit must be at least 1")
    _move_claim(claim_, ClaimState.NO_SHOW, "no_show", by.person_id, now)
    before = standing.view()
    standing.no_shows += 1
    kind = "no_show_counted"
    if standing.no_shows_since_lift >= limit and not standing.suspended:
        standing.suspended, standing.suspended_at = True, now
        kind = "claims_suspended"
    standing.record(kind, now, by.person_id, before, {**standing.view(), "post": post.number})
    return standing


def lift_suspension(standing: Standing, by: Actor, now: datetime) -> Standing:
    """Staff let the member claim again. The no-show count is kept and recorded with the lift; the
    next suspension counts the no-shows since. Twice is once."""
    if not by.roles.is_staff_of(standing.community_id):
        raise NotAllowed(action="post.lift_suspension")
    if not standing.suspended:
        return standing
    before = standing.view()
    standing.suspended, standing.suspended_at, standing.no_shows_at_lift = False, None, standing.no_shows
    standing.record("suspension_lifted", now, by.person_id, before, standing.view())
    return standing


# --- questions the rest of the system asks ---------------------------------------------


def hours_served(claim_: Claim, post: Post) -> timedelta:
    """Check-out minus check-in, never more than the post's length and never negative.

    Nothing counts without both check-in and check-out. Early arrival is not cut off:
    setting up counts, only the total is capped.
    """
    if claim_.checked_in_at is None or claim_.checked_out_at is None:
        return timedelta(0)
    return max(timedelta(0), min(claim_.checked_out_at - claim_.checked_in_at, post.length))


def coming(claims: Sequence[Claim]) -> list[int]:
    """Who holds a place (in the order they got it): what the ordering resident is told."""
    holding = [c for c in claims if c.state in HOLDS_PLACE]
    holding.sort(key=lambda c: (c.claimed_at or c.queued_at, c.id if c.id is not None else float("inf")))
    return [c.person_id for c in holding]


def next_allowed_moment(now: datetime, quiet_start: time = QUIET_START, quiet_end: time = QUIET_END,
                        tz: ZoneInfo = CHINA_TZ) -> datetime:
    """`now`, or the end of the quiet hours when `now` falls inside them (22:00–07:00 by default).

    The quiet window may cross midnight (22:00–07:00) or not (13:00–14:00); equal ends mean
    no quiet hours. The window includes its start and excludes its end. Returned in `tz`.
    """
    if now.tzinfo is None:
        raise ValueError("quiet hours need an aware datetime")
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    if quiet_start == quiet_end:
        return local
    if quiet_start < quiet_end:
        if quiet_start <= t < quiet_end:
            return datetime.combine(local.date(), quiet_end, tzinfo=tz)
        return local
    if t >= quiet_start:
        return datetime.combine(local.date() + timedelta(days=1), quiet_end, tzinfo=tz)
    if t < quiet_end:
        return datetime.combine(local.date(), quiet_end, tzinfo=tz)
    return local


@dataclass(frozen=True)
class Reminder:
    post_number: str
    kind: str             # "day_before" | "hour_before"
    at: datetime

    def dedupe_key(self, person_id: int) -> str:
        return f"post:{self.post_number}:{self.kind}:{person_id}"


def reminders_for(post: Post, *, quiet_start: time = QUIET_START, quiet_end: time = QUIET_END,
                  tz: ZoneInfo = CHINA_TZ) -> list[Reminder]:
    """The reminders of a post: a day before and an hour before its start.

    A reminder falling in quiet hours moves to their end; one that would then come at or
    after the start is dropped (the other reminder has said it). Send each to
    `reminder_recipients` with its `dedupe_key`, once its moment has come and before start.
    """
    out: list[Reminder] = []
    for kind, ahead in (("day_before", timedelta(days=1)), ("hour_before", timedelta(hours=1))):
        at = next_allowed_moment(post.starts_at - ahead, quiet_start, quiet_end, tz)
        if at < post.starts_at and all(r.at != at for r in out):
            out.append(Reminder(post.number, kind, at))
    return out


def reminder_recipients(reminder: Reminder, claims: Sequence[Claim]) -> list[int]:
    """Members who held a place before the reminder's moment (a late claimer needs no reminder)."""
    return [c.person_id for c in claims
            if c.state == ClaimState.CLAIMED and c.claimed_at is not None and c.claimed_at < reminder.at]


# --- helpers ---------------------------------------------------------------------------


def _take_place(post: Post, now: datetime, actor_id: int) -> None:
    before = {"state": post.state.value, "places_taken": post.places_taken}
    post.places_taken += 1
    if post.places_taken >= post.capacity:
        post.state = PostState.FULL
    post.updated_at = now
    kind = "post_full" if post.state != PostState(before["state"]) else "place_taken"
    post.record(kind, now, actor_id, before, {"state": post.state.value, "places_taken": post.places_taken})


def _free_place(post: Post, now: datetime, actor_id: int) -> None:
    before = {"state": post.state.value, "places_taken": post.places_taken}
    post.places_taken = max(0, post.places_taken - 1)
    if post.state == PostState.FULL and post.places_taken < post.capacity:
        post.state = PostState.OPEN
    post.updated_at = now
    post.record("place_freed", now, actor_id, before, {"state": post.state.value, "places_taken": post.places_taken})


def _move_post(post: Post, to: PostState, kind: str, actor_id: int | None, now: datetime,
               after: dict[str, Any] | None = None) -> None:
    old = post.state
    post.state, post.updated_at = to, now
    post.record(kind, now, actor_id, {"state": old.value}, {"state": to.value, **(after or {})})


def _move_claim(claim_: Claim, to: ClaimState, kind: str, actor_id: int | None, now: datetime,
                after: dict[str, Any] | None = None) -> None:
    old = claim_.state
    claim_.state, claim_.updated_at = to, now
    claim_.record(kind, now, actor_id, {"state": old.value}, {"state": to.value, **(after or {})})


def _require(state: enum.Enum, allowed: frozenset[Any] | set[Any], what: str, ref: str, action: str) -> None:
    if state not in allowed:
        raise WrongState(what, ref, state.value, action)


def _check_pair(claim_: Claim, post: Post) -> None:
    if claim_.post_number != post.number:
        raise ValueError("the claim is not on this post")


def _require_own(claim_: Claim, post: Post, by: Actor) -> None:
    _check_pair(claim_, post)
    if claim_.person_id != by.person_id:
        raise NotYourClaim(post=post.number)


def _short(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    if len(text) > limit:
        raise TextTooLong(max=limit)
    return text


def _not_int(value: object) -> bool:
    return isinstance(value, bool) or not isinstance(value, int)


def _number(community_code: str, kind: str, year: int, seq: int) -> str:
    code = community_code.strip().upper()
    if not code or not code.isascii() or not code.isalnum():
        raise ValueError(f"community code must be letters or digits: {community_code!r}")
    if seq < 1:
        raise ValueError("running numbers start at 1")
    return f"{code}-{kind}-{year:04d}-{seq:06d}"
