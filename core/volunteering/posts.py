"""Posts and claims ("社区派单、党员接单"): staff create a post, party members claim and withdraw its
places (the waitlist, overlaps, suspension), and the reminders before it starts. The rules;
`posts_services` loads, saves and tells."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from core.cases import Actor
from core.errors import NotAllowed
from core.events import Event
from core.volunteering.common import (
    AlreadyClaimed, BadPost, CLAIMABLE_POST, ClaimState, DEFAULT_WITHDRAW_CUTOFF, HOLDS_PLACE, LIVE_CLAIM, MAX_CAPACITY,
    MAX_DESCRIPTION, MAX_PLACE, MAX_POINTS_PER_PERSON, MAX_SHORT_TEXT, MAX_SKILLS, NotEndedYet, NotMember, NotYourClaim,
    Overlap, PostClosed, PostFull, PostStarted, PostState, QUIET_END, QUIET_START, ReasonRequired, Suspended,
    WithdrawTooLate, is_party_member_of, not_int, require_state, running_number, short_text,
)
from core.workdays import CHINA_TZ


def post_number(community_code: str, year: int, seq: int) -> str:
    """"DC-GW-2026-000007": community code, 岗位, year, the community's running number."""
    return running_number(community_code, "GW", year, seq)


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
    return new_post(community_id, by.person_id if by else None, now, number=number, title=title,
                    starts_at=starts_at, ends_at=ends_at, place=place, capacity=capacity,
                    points_per_person=points_per_person, skills=skills, order_number=None,
                    template_id=template_id)


def new_post(community_id: int, actor_id: int | None, now: datetime, *, number: str, title: str,
             starts_at: datetime, ends_at: datetime, place: str, capacity: int, points_per_person: int,
             skills: Sequence[str], order_number: str | None, template_id: int | None) -> Post:
    """A new open post once its fields pass, its creation recorded: staff's posts and dispatched orders."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("a post's times must be aware datetimes")
    title, place = short_text(title, MAX_SHORT_TEXT), short_text(place, MAX_PLACE)
    if not title:
        raise BadPost(why="title")
    if not place:
        raise BadPost(why="place")
    if not starts_at < ends_at:
        raise BadPost(why="times")
    if ends_at <= now:
        raise BadPost(why="past")
    if not_int(capacity) or not 1 <= capacity <= MAX_CAPACITY:
        raise BadPost(why="capacity", max=MAX_CAPACITY)
    if not_int(points_per_person) or not 0 <= points_per_person <= MAX_POINTS_PER_PERSON:
        raise BadPost(why="points", max=MAX_POINTS_PER_PERSON)
    skills = tuple(dict.fromkeys(s for s in (short_text(x, MAX_SHORT_TEXT) for x in skills) if s))
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
    require_state(post.state, CLAIMABLE_POST, "post", post.number, "cancel")
    reason = short_text(reason, MAX_DESCRIPTION)
    if not reason:
        raise ReasonRequired()
    post.cancel_reason = reason
    _move_post(post, PostState.CANCELLED, "post_cancelled", by.person_id, now, {"reason": reason})
    return post


def complete_post(post: Post, by: Actor | None, now: datetime) -> Post:
    """The post has ended: staff (or the clock, `by=None`) close it. Claims stay as they are."""
    if by is not None and not by.roles.is_staff_of(post.community_id):
        raise NotAllowed(action="post.complete")
    require_state(post.state, CLAIMABLE_POST, "post", post.number, "complete")
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
    check_in_on_site: bool | None = None       # core.proof at check-in; None: no location shared
    check_in_distance_m: float | None = None   # metres to the nearest building of the community
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
    check_pair(claim_, post)
    require_state(claim_.state, {ClaimState.CLAIMED, ClaimState.WAITLISTED}, "claim", post.number, "withdraw")
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


def move_claim(claim_: Claim, to: ClaimState, kind: str, actor_id: int | None, now: datetime,
               after: dict[str, Any] | None = None) -> None:
    """Move a claim to `to`, recording `kind`: every claim transition here and in attendance.py."""
    old = claim_.state
    claim_.state, claim_.updated_at = to, now
    claim_.record(kind, now, actor_id, {"state": old.value}, {"state": to.value, **(after or {})})


def check_pair(claim_: Claim, post: Post) -> None:
    """Refuse a claim that is not on `post` (a caller's mistake, not a person's)."""
    if claim_.post_number != post.number:
        raise ValueError("the claim is not on this post")


def require_own(claim_: Claim, post: Post, by: Actor) -> None:
    """Refuse (`NotYourClaim`) a claim on `post` that is not `by`'s own."""
    check_pair(claim_, post)
    if claim_.person_id != by.person_id:
        raise NotYourClaim(post=post.number)
