"""Services of party-member volunteering: "双报到", "群众点单、社区派单、党员接单", points, theme days.

Each service loads what it needs through the unit of work, applies one transition from
`core.volunteering` / `core.points` / `core.theme_day` (which check who may and record the
events), saves, and asks the outbox to tell the people concerned — all in the caller's
transaction; the caller commits. A DomainError leaves the caller to roll back.

Race safety: a post is saved with a check on the version it was loaded with
(`uow.volunteering.save_post` raises `StaleWrite` when another unit of work changed it first).
`claim_post` and `withdraw_claim` write the post before anything else, so on a lost race there is
nothing of theirs to undo: they reload and decide again (the loser of the last place is told
"post.full"). Points keep a balance row updated with `balance + delta >= 0` in the WHERE clause.

Moments in payloads are ISO timestamps in UTC (`iso`) under keys ending in `_at`; the bot words
them in each reader's language. The scheduler's work (`run_theme_day_jobs`, `send_post_reminders`,
`complete_ended_posts`) is at the end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta, timezone
from typing import Any, Mapping, Protocol, Sequence
from zoneinfo import ZoneInfo

from core import volunteering as rules
from core.access import desk_communities, require_staff_of
from core.cases import Actor, Case, PhotoRef
from core.errors import NotFound
from core.events import Event
from core.ids import saved_id
from core.notifications import Notification
from core.people import GrantStatus, Person, Role, RoleGrant, Roles
from core.places import Community
from core.points import (
    DEFAULT_REPORT_POINTS, LeaderboardRow, Ledger, PointsEntry, PointsReason, earn, month_bounds,
    monthly_leaderboard, points_for_report, points_for_service, report_ref, service_ref, spend,
)
from core.ports import Database, StaleWrite, UnitOfWork
from core.theme_day import (
    DEFAULT_SCHEDULE, Job, JobKind, may_keep_templates, ThemeDaySchedule, ThemeDayTemplate, job_key, member_month,
    participation_summary, theme_day_for, theme_post, theme_slot,
)
from core.theme_day import due_jobs as theme_due_jobs
from core.volunteering import (
    BLOCKS_TIME, ClaimState, Claim, Order, OrderState, Post, PostState, Registration, ServiceKind, Standing,
    next_allowed_moment,
)
from core.workdays import CHINA_TZ, WorkCalendar

log = logging.getLogger(__name__)

RACE_RETRIES = 5


class PointsTable(Protocol):
    """What `credit_report` reads of a policy (VolunteerPolicy, reporting's ReportPolicy): points per category."""

    @property
    def report_points(self) -> Mapping[str, int]: ...


@dataclass(frozen=True)
class VolunteerPolicy:
    """The community's volunteering rules; settings fill it in (`volunteer_policy(settings)`)."""

    calendar: WorkCalendar
    withdraw_cutoff: timedelta = rules.DEFAULT_WITHDRAW_CUTOFF
    no_show_limit: int = rules.DEFAULT_NO_SHOW_LIMIT
    quiet_start: time = rules.QUIET_START
    quiet_end: time = rules.QUIET_END
    report_points: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_REPORT_POINTS))
    schedule: ThemeDaySchedule = DEFAULT_SCHEDULE

    @property
    def tz(self) -> ZoneInfo:
        return self.calendar.tz

    def allowed(self, now: datetime) -> datetime:
        """`now`, or the end of quiet hours when `now` is inside them."""
        return next_allowed_moment(now, self.quiet_start, self.quiet_end, self.tz)

    def held_until(self, now: datetime) -> datetime | None:
        """When a notice made at `now` goes out: None for at once, else the end of the quiet hours
        (so whoever caused it can be told "at 07:00", not "told")."""
        moment = self.allowed(now)
        return None if moment == now.astimezone(self.tz) else moment


def iso(moment: datetime) -> str:
    """How payloads carry a moment: an ISO timestamp in UTC (JSON has no datetimes). The bot words it
    in the reader's language and time zone (bot/outgoing.py), so the key ends in `_at`."""
    return moment.astimezone(timezone.utc).isoformat()


def _quiet(policy: VolunteerPolicy, now: datetime) -> datetime | None:
    return policy.held_until(now)


async def _tell(uow: UnitOfWork, people: Sequence[int], kind: str, payload: dict[str, Any],
                dedupe: str | None = None, not_before: datetime | None = None) -> int:
    """One notification per person (duplicates dropped); `dedupe` + person id makes its key."""
    notes = [Notification(p, kind, dict(payload), f"{dedupe}:{p}" if dedupe else None, None, not_before)
             for p in dict.fromkeys(people)]
    for note in notes:
        await uow.outbox.add(note)
    return len(notes)


async def _staff_of(uow: UnitOfWork, community_id: int) -> list[int]:
    return [saved_id(p) for p in await uow.people.with_role(Role.STAFF, community_id)]


async def _members_of(uow: UnitOfWork, community_id: int) -> list[int]:
    return [saved_id(p) for p in await uow.people.with_role(Role.PARTY_MEMBER, community_id)]


async def _name(uow: UnitOfWork, person_id: int) -> str:
    return (await _names(uow, [person_id]))[person_id]


async def _names(uow: UnitOfWork, person_ids: Sequence[int]) -> dict[int, str]:
    """Display names in one query; someone since removed shows as their number."""
    found = await uow.people.display_names(person_ids)
    return {p: found.get(p, str(p)) for p in person_ids}


class _Recording(Protocol):
    """An entity whose transitions record events until they are saved (a post, claim, order, template …)."""

    pending_events: list[Event]


async def _save_events(uow: UnitOfWork, obj: _Recording) -> None:
    for event in obj.pending_events:
        await uow.events.add(event)
    obj.pending_events.clear()


async def _code(uow: UnitOfWork, community_id: int) -> str:
    community = await uow.places.community(community_id)
    if community is None:
        raise NotFound(what="community")
    return community.code


# ---- registration ("双报到") -----------------------------------------------------------------

async def ask_to_register(uow: UnitOfWork, person_id: int, community_id: int, work_unit: str,
                          now: datetime) -> Registration:
    """The party member asks their home community to confirm them; its staff are told."""
    if await uow.places.community(community_id) is None:
        raise NotFound(what="community")
    roles = Roles(list(await uow.people.grants(person_id)))
    registration = rules.register_party_member(person_id, roles, community_id, work_unit, now)
    await uow.people.add_grant(registration.grant)
    await _save_events(uow, registration)
    await _tell(uow, await _staff_of(uow, community_id), "party.registration_requested",
                {"person": person_id, "community": community_id, "name": await _name(uow, person_id),
                 "work_unit": registration.grant.work_unit},
                dedupe=f"party:{registration.grant.id}:requested")
    return registration


async def pending_registrations(uow: UnitOfWork, community_id: int) -> list[tuple[Person, RoleGrant]]:
    """Who waits for the community's "双报到" decision, oldest request first."""
    return list(await uow.volunteering.pending_registrations(community_id))


async def pending_members(uow: UnitOfWork, by: Actor) -> list[tuple[int, Person, RoleGrant]]:
    """Every "双报到" request waiting in the communities `by` keeps: (community, person, grant)."""
    return [(community, who, grant) for community in await desk_communities(uow, by, "party.decide")
            for who, grant in await pending_registrations(uow, community)]


async def registration_to_decide(uow: UnitOfWork, by: Actor, person_id: int,
                                 community_id: int | None) -> tuple[int, Person | None]:
    """The community whose decision on `person_id` a ✅ / ✖ press asks for, and the person.

    The button names the community (staff of another community are refused); on a button from
    before it named one, it is the community of those `by` staffs where the person waits. Already
    decided: WrongState."""
    if community_id is not None:
        require_staff_of(by, community_id, "party.decide")
        candidates = [community_id]
    else:
        candidates = await desk_communities(uow, by, "party.decide")
    who = await uow.people.get(person_id)
    for community in candidates:
        if any(p.id == person_id for p, _ in await pending_registrations(uow, community)):
            return community, who
    raise rules.WrongState("registration", who.display_name if who else str(person_id), "decided", "decide")


async def _registration(uow: UnitOfWork, person_id: int, community_id: int) -> Registration:
    for grant in await uow.people.grants(person_id):
        if (grant.role == Role.PARTY_MEMBER and grant.community_id == community_id
                and grant.status == GrantStatus.PENDING):
            return Registration(grant)
    raise NotFound(what="registration")


async def _community_name(uow: UnitOfWork, community_id: int) -> str:
    community = await uow.places.community(community_id)
    return community.name if community else str(community_id)


async def approve_registration(uow: UnitOfWork, by: Actor, person_id: int, community_id: int,
                               now: datetime) -> Registration:
    registration = rules.approve_registration(await _registration(uow, person_id, community_id), by, now)
    await uow.people.update_grant(registration.grant)
    await _save_events(uow, registration)
    await _tell(uow, [person_id], "party.registration_approved", {"community": await _community_name(uow, community_id)},
                dedupe=f"party:{registration.grant.id}:approved")
    return registration


async def decline_registration(uow: UnitOfWork, by: Actor, person_id: int, community_id: int, reason: str,
                               now: datetime) -> Registration:
    registration = rules.decline_registration(await _registration(uow, person_id, community_id), by, now, reason)
    await uow.people.update_grant(registration.grant)
    await _save_events(uow, registration)
    await _tell(uow, [person_id], "party.registration_declined",
                {"community": await _community_name(uow, community_id), "reason": " ".join(reason.split())},
                dedupe=f"party:{registration.grant.id}:declined")
    return registration


# ---- orders ("群众点单") -------------------------------------------------------------------

async def order_service(uow: UnitOfWork, resident: Actor, community_id: int, kind: ServiceKind, description: str,
                        preferred_time: str, place: str, now: datetime, *, tz: ZoneInfo = CHINA_TZ) -> Order:
    """A resident's order gets the community's running number; the desk is told.

    A refusal rolls the caller's transaction back, so it uses up no number.
    """
    if not rules.is_resident_of(resident.roles, community_id):
        raise rules.NotResident()
    code = await _code(uow, community_id)
    year = now.astimezone(tz).year
    seq = await uow.volunteering.next_number(community_id, year, "order")
    order = rules.order_service(resident, community_id, kind, description, preferred_time, place, now,
                                number=rules.order_number(code, year, seq))
    await uow.volunteering.add_order(order)
    await _save_events(uow, order)
    await _tell(uow, await _staff_of(uow, community_id), "order.new",
                {"order": order.number, "kind": order.kind.value, "description": order.description,
                 "preferred_time": order.preferred_time}, dedupe=f"order:{order.number}:new")
    return order


async def new_orders(uow: UnitOfWork, community_id: int) -> list[Order]:
    """Orders waiting for the desk's decision, oldest first."""
    return list(await uow.volunteering.orders_in_state(community_id, OrderState.NEW.value))


async def order_by_number(uow: UnitOfWork, number: str) -> Order:
    order = await uow.volunteering.order(number)
    if order is None:
        raise NotFound(what="order")
    return order


async def order_desk(uow: UnitOfWork, by: Actor) -> list[Order]:
    """New orders in the communities whose desk `by` keeps."""
    return [o for c in await desk_communities(uow, by, "order.desk") for o in await new_orders(uow, c)]


async def order_to_decide(uow: UnitOfWork, by: Actor, number: str) -> Order:
    """A new order its community's staff may dispatch or decline; checked at the press, before the
    dialog asks for a title or a reason."""
    order = await order_by_number(uow, number)
    require_staff_of(by, order.community_id, "order.dispatch")
    if order.state != OrderState.NEW:
        raise rules.WrongState("order", order.number, order.state.value, "dispatch")
    return order


async def _new_post_number(uow: UnitOfWork, policy: VolunteerPolicy, community_id: int, now: datetime) -> str:
    year = now.astimezone(policy.tz).year
    code = await _code(uow, community_id)
    return rules.post_number(code, year, await uow.volunteering.next_number(community_id, year, "post"))


async def _announce_post(uow: UnitOfWork, policy: VolunteerPolicy, post: Post, now: datetime) -> None:
    """Tell the community's approved party members about a new post (after quiet hours)."""
    await _tell(uow, await _members_of(uow, post.community_id), "post.new",
                {"post": post.number, "title": post.title, "starts_at": iso(post.starts_at),
                 "capacity": post.capacity, "points": post.points_per_person},
                dedupe=f"post:{post.number}:new", not_before=_quiet(policy, now))


async def dispatch_order(uow: UnitOfWork, policy: VolunteerPolicy, by: Actor, order_number: str, now: datetime, *,
                         title: str, starts_at: datetime, ends_at: datetime, place: str, capacity: int,
                         points_per_person: int, skills: Sequence[str] = ()) -> Post:
    """"社区派单": the order becomes a post; the resident and the members are told."""
    order = await uow.volunteering.order(order_number, for_update=True)
    if order is None:
        raise NotFound(what="order")
    require_staff_of(by, order.community_id, "order.dispatch")  # before a running number is taken
    # a refusal below rolls the caller's transaction back, the running number with it
    number = await _new_post_number(uow, policy, order.community_id, now)
    post = rules.dispatch_order(order, by, now, number=number, title=title, starts_at=starts_at, ends_at=ends_at,
                                place=place, capacity=capacity, points_per_person=points_per_person, skills=skills)
    await uow.volunteering.add_post(post)
    await _save_events(uow, post)
    await uow.volunteering.save_order(order)
    await _save_events(uow, order)
    await _tell(uow, [order.resident_id], "order.dispatched",
                {"order": order.number, "post": post.number, "title": post.title,
                 "starts_at": iso(post.starts_at)}, dedupe=f"order:{order.number}:dispatched")
    await _announce_post(uow, policy, post, now)
    return post


async def decline_order(uow: UnitOfWork, by: Actor, order_number: str, reason: str, now: datetime) -> Order:
    order = await uow.volunteering.order(order_number, for_update=True)
    if order is None:
        raise NotFound(what="order")
    rules.decline_order(order, by, reason, now)
    await uow.volunteering.save_order(order)
    await _save_events(uow, order)
    await _tell(uow, [order.resident_id], "order.declined", {"order": order.number, "reason": order.decline_reason},
                dedupe=f"order:{order.number}:declined")
    return order


async def create_post(uow: UnitOfWork, policy: VolunteerPolicy, by: Actor, community_id: int, now: datetime, *,
                      title: str, starts_at: datetime, ends_at: datetime, place: str, capacity: int,
                      points_per_person: int, skills: Sequence[str] = ()) -> Post:
    """Staff put up a post directly; the community's members are told."""
    kwargs: dict[str, Any] = dict(title=title, starts_at=starts_at, ends_at=ends_at, place=place, capacity=capacity,
                                  points_per_person=points_per_person, skills=skills)
    rules.may_create_post(by, community_id)  # before a running number is taken
    number = await _new_post_number(uow, policy, community_id, now)
    post = rules.create_post(by, community_id, now, number=number, **kwargs)
    await uow.volunteering.add_post(post)
    await _save_events(uow, post)
    await _announce_post(uow, policy, post, now)
    return post


async def post_communities(uow: UnitOfWork, by: Actor, community_id: int | None = None) -> list[int]:
    """Where `by` may put up a post: the one named (checked), or every community whose desk they keep."""
    if community_id is not None:
        rules.may_create_post(by, community_id)
        return [community_id]
    return await desk_communities(uow, by, "post.create")


# ---- posts and claims ("党员接单") ---------------------------------------------------------

async def open_posts(uow: UnitOfWork, community_id: int, now: datetime) -> list[Post]:
    """Posts members can still claim or wait for (open or full, not started), soonest first."""
    return list(await uow.volunteering.open_posts(community_id, now))


async def unsettled_posts(uow: UnitOfWork, community_id: int, now: datetime, limit: int = 20) -> list[Post]:
    """Posts that have started or ended (not cancelled) where staff still have something to do, most
    recent first: a member holding a place who neither checked in nor was marked a no-show, one
    who checked out and waits for confirmation, or — once the post has ended — one who checked in
    and forgot to check out (staff check them out with `check_out_for`, then confirm)."""
    return list(await uow.volunteering.unsettled_posts(community_id, now, limit))


async def post_by_number(uow: UnitOfWork, number: str) -> Post:
    post = await uow.volunteering.post(number)
    if post is None:
        raise NotFound(what="post")
    return post


async def staff_posts(uow: UnitOfWork, by: Actor, now: datetime) -> tuple[list[Post], list[Post]]:
    """/posts for the desk: (posts started that still wait for staff, coming posts) in the
    communities `by` keeps."""
    communities = await desk_communities(uow, by, "post.create")
    unsettled = [p for c in communities for p in await unsettled_posts(uow, c, now)]
    coming = [p for c in communities for p in await open_posts(uow, c, now)]
    return unsettled, coming


@dataclass(frozen=True)
class Roster:
    post: Post
    claims: list[Claim]
    names: dict[int, str]


async def roster(uow: UnitOfWork, by: Actor, post_number: str) -> Roster:
    """Who holds, waits for or served a post, for its community's staff."""
    post = await post_by_number(uow, post_number)
    require_staff_of(by, post.community_id, "post.roster")
    claims = list(await uow.volunteering.claims_of_post(post.number))
    return Roster(post, claims, await _names(uow, [c.person_id for c in claims]))


async def _busy_posts(uow: UnitOfWork, person_id: int) -> list[Post]:
    return [p for c, p in await uow.volunteering.claims_of_person(person_id, [s.value for s in BLOCKS_TIME])]


async def claim_post(uow: UnitOfWork, policy: VolunteerPolicy, by: Actor, post_number: str, now: datetime, *,
                     waitlist: bool = False) -> Claim:
    """Take a place (or, with `waitlist`, join the waitlist of a full post); race-safe for the last place."""
    for _ in range(RACE_RETRIES):
        post = await post_by_number(uow, post_number)
        existing = await uow.volunteering.claim(post_number, by.person_id)
        standing = await uow.volunteering.standing(by.person_id, post.community_id)
        taken = rules.claim(post, by, now, other_posts=await _busy_posts(uow, by.person_id), standing=standing,
                            existing=existing, waitlist=waitlist)
        try:
            # the first write, so a lost race leaves nothing to undo. Joining the waitlist saves the
            # (unchanged) post too: a withdrawal at the same moment then either sees this member
            # waiting and promotes them, or frees the place first and this claim, retried, takes it.
            await uow.volunteering.save_post(post)
        except StaleWrite:
            continue
        await _save_events(uow, post)
        if existing is None:
            await uow.volunteering.add_claim(taken)
        else:
            await uow.volunteering.save_claim(taken)
        await _save_events(uow, taken)
        if taken.state == ClaimState.CLAIMED and post.order_number is not None:
            await _tell_resident_who_comes(uow, policy, post)
        return taken
    raise rules.PostFull(post=post_number, waitlist=True)  # pragma: no cover - a storm of claims


async def _tell_resident_who_comes(uow: UnitOfWork, policy: VolunteerPolicy, post: Post) -> None:
    order = await uow.volunteering.order(post.order_number) if post.order_number else None
    if order is None:
        return
    coming = rules.coming(await uow.volunteering.claims_of_post(post.number))
    named = await _names(uow, coming)
    names = "、".join(named[p] for p in coming)
    await _tell(uow, [order.resident_id], "post.coming", {"post": post.number, "title": post.title, "names": names},
                dedupe=f"post:{post.number}:coming:{len(coming)}:{coming[-1] if coming else 0}")


async def withdraw_claim(uow: UnitOfWork, policy: VolunteerPolicy, by: Actor, post_number: str,
                         now: datetime) -> Claim | None:
    """Give up a place or a waitlist spot; returns the waitlisted claim promoted to the freed place."""
    for _ in range(RACE_RETRIES):
        post = await post_by_number(uow, post_number)
        mine = await uow.volunteering.claim(post_number, by.person_id)
        if mine is None:
            raise rules.NotYourClaim(post=post_number)
        claims = await uow.volunteering.claims_of_post(post_number)
        waiting = [c for c in claims if c.state == ClaimState.WAITLISTED]
        held = mine.state == ClaimState.CLAIMED
        promoted = rules.withdraw(mine, post, by, now, waitlist=waiting, cutoff=policy.withdraw_cutoff)
        if held:
            try:
                await uow.volunteering.save_post(post)  # even when the place passes on: the version moves
            except StaleWrite:
                continue
            await _save_events(uow, post)
        await uow.volunteering.save_claim(mine)
        await _save_events(uow, mine)
        if promoted is not None:
            assert promoted.claimed_at is not None  # rules.withdraw gave it the freed place
            await uow.volunteering.save_claim(promoted)
            await _save_events(uow, promoted)
            await _tell(uow, [promoted.person_id], "post.promoted",
                        {"post": post.number, "title": post.title, "starts_at": iso(post.starts_at)},
                        dedupe=f"post:{post.number}:promoted:{promoted.claimed_at.isoformat()}")
        return promoted
    raise StaleWrite(post_number)  # pragma: no cover


async def my_claims(uow: UnitOfWork, person_id: int, now: datetime) -> list[tuple[Claim, Post]]:
    """The member's live claims (holding, waiting, checked in or out) on posts not done, soonest first."""
    pairs = await uow.volunteering.claims_of_person(
        person_id, [s.value for s in (ClaimState.CLAIMED, ClaimState.WAITLISTED, ClaimState.CHECKED_IN,
                                      ClaimState.CHECKED_OUT)])
    live = [(c, p) for c, p in pairs if p.state != PostState.CANCELLED
            and (p.ends_at > now or c.state in (ClaimState.CHECKED_IN, ClaimState.CHECKED_OUT))]
    return sorted(live, key=lambda cp: (cp[1].starts_at, cp[1].number))


async def claims_of_post(uow: UnitOfWork, post_number: str) -> list[Claim]:
    await post_by_number(uow, post_number)
    return list(await uow.volunteering.claims_of_post(post_number))


async def _claim_of(uow: UnitOfWork, post: Post, person_id: int) -> Claim:
    found = await uow.volunteering.claim(post.number, person_id)
    if found is None:
        raise rules.NotYourClaim(post=post.number)
    return found


async def may_check_in(uow: UnitOfWork, by: Actor, post_number: str, now: datetime) -> Post:
    """The member pressed 📍 check in: refused now (too early, too late, not theirs) rather than after
    the photo they would be asked for next."""
    post = await post_by_number(uow, post_number)
    rules.require_check_in(await _claim_of(uow, post, by.person_id), post, by, now)
    return post


async def may_check_out(uow: UnitOfWork, by: Actor, post_number: str, now: datetime) -> Post:
    """The member pressed 🏁 check out: refused now if they are not checked in on this post."""
    post = await post_by_number(uow, post_number)
    rules.require_check_out(await _claim_of(uow, post, by.person_id), post, by, now)
    return post


async def check_in(uow: UnitOfWork, by: Actor, post_number: str, photo: PhotoRef, now: datetime, *,
                   lat: float | None = None, lon: float | None = None) -> Claim:
    post = await post_by_number(uow, post_number)
    claim_ = await _claim_of(uow, post, by.person_id)
    rules.check_in(claim_, post, by, photo.sha256, now, lat=lat, lon=lon)
    await uow.volunteering.save_claim(claim_)
    await _save_events(uow, claim_)
    return claim_


async def check_out(uow: UnitOfWork, by: Actor, post_number: str, photo: PhotoRef, now: datetime) -> Claim:
    """The member leaves; staff (and the ordering resident) are asked to confirm the service."""
    post = await post_by_number(uow, post_number)
    claim_ = await _claim_of(uow, post, by.person_id)
    rules.check_out(claim_, post, by, photo.sha256, now)
    await uow.volunteering.save_claim(claim_)
    await _save_events(uow, claim_)
    people = await _staff_of(uow, post.community_id)
    if post.order_number:
        order = await uow.volunteering.order(post.order_number)
        if order is not None:
            people.append(order.resident_id)
    hours = round(rules.hours_served(claim_, post).total_seconds() / 3600, 1)
    await _tell(uow, people, "post.to_confirm",
                {"post": post.number, "title": post.title, "person": by.person_id,
                 "name": await _name(uow, by.person_id), "hours": hours},
                dedupe=f"post:{post.number}:to_confirm:{by.person_id}")
    return claim_


async def check_out_for(uow: UnitOfWork, by: Actor, post_number: str, person_id: int, now: datetime) -> Claim:
    """Staff check out a member who checked in and forgot to, after the post ended; then they confirm."""
    post = await post_by_number(uow, post_number)
    claim_ = await uow.volunteering.claim(post_number, person_id)
    if claim_ is None:
        raise NotFound(what="claim")
    rules.check_out_for(claim_, post, by, now)
    await uow.volunteering.save_claim(claim_)
    await _save_events(uow, claim_)
    return claim_


async def _ledger(uow: UnitOfWork, person_id: int, community_id: int) -> Ledger:
    return Ledger(await uow.volunteering.points_entries(person_id, community_id))


async def _record_points(uow: UnitOfWork, ledger: Ledger, entry: PointsEntry) -> None:
    await uow.volunteering.add_points(entry)
    ledger.pending.clear()
    await uow.volunteering.save_events(ledger.pending_events)
    ledger.pending_events.clear()


async def may_confirm_service(uow: UnitOfWork, by: Actor, post_number: str, person_id: int) -> Claim:
    """Staff pressed ✅ confirm on a roster line: who may is decided before the stars are shown, and
    before anything about the claim is (a forged press learns nothing of the roster)."""
    post = await post_by_number(uow, post_number)
    order = await uow.volunteering.order(post.order_number) if post.order_number else None
    rules.may_confirm(post, by, order=order)
    claim_ = await uow.volunteering.claim(post_number, person_id)
    if claim_ is None:
        raise NotFound(what="claim")
    rules.require_confirm(claim_, post, by, order=order)
    return claim_


async def confirm_service(uow: UnitOfWork, policy: VolunteerPolicy, by: Actor, post_number: str, person_id: int,
                          now: datetime, *, rating: int | None = None) -> Claim:
    """Staff (or the ordering resident) confirm; the member's points are credited and they are told."""
    post = await post_by_number(uow, post_number)
    claim_ = await uow.volunteering.claim(post_number, person_id)
    if claim_ is None:
        raise NotFound(what="claim")
    order = await uow.volunteering.order(post.order_number) if post.order_number else None
    rules.confirm_service(claim_, post, by, now, rating=rating, order=order)
    await uow.volunteering.save_claim(claim_)
    await _save_events(uow, claim_)
    points = points_for_service(claim_, post)
    if points > 0:
        ledger = await _ledger(uow, person_id, post.community_id)
        if ledger.find(person_id, post.community_id, PointsReason.SERVICE, service_ref(claim_)) is None:
            entry = earn(ledger, person_id, post.community_id, points, PointsReason.SERVICE, service_ref(claim_), now,
                         by=by.person_id, note=post.title)
            await _record_points(uow, ledger, entry)
            await _tell(uow, [person_id], "points.earned",
                        {"points": points, "balance": ledger.balance(person_id, post.community_id),
                         "title": post.title}, dedupe=f"points:{service_ref(claim_)}")
    return claim_


async def mark_no_show(uow: UnitOfWork, policy: VolunteerPolicy, by: Actor, post_number: str, person_id: int,
                       now: datetime) -> Standing:
    post = await post_by_number(uow, post_number)
    claim_ = await uow.volunteering.claim(post_number, person_id)
    if claim_ is None:
        raise NotFound(what="claim")
    standing = await uow.volunteering.standing(person_id, post.community_id) or Standing(person_id, post.community_id)
    rules.mark_no_show(claim_, post, standing, by, now, limit=policy.no_show_limit)
    await uow.volunteering.save_claim(claim_)
    await _save_events(uow, claim_)
    suspended = any(e.kind == "claims_suspended" for e in standing.pending_events)
    await uow.volunteering.save_standing(standing)
    await _save_events(uow, standing)
    if suspended:  # why (the no-shows) and how to be restored (ask the community's staff)
        await _tell(uow, [standing.person_id], "post.member_suspended", await _standing_told(uow, standing),
                    dedupe=f"standing:{standing.community_id}:suspended:{standing.no_shows}")
    return standing


async def lift_suspension(uow: UnitOfWork, by: Actor, person_id: int, community_id: int, now: datetime) -> Standing:
    standing = await uow.volunteering.standing(person_id, community_id) or Standing(person_id, community_id)
    rules.lift_suspension(standing, by, now)
    lifted = any(e.kind == "suspension_lifted" for e in standing.pending_events)
    await uow.volunteering.save_standing(standing)
    await _save_events(uow, standing)
    if lifted:
        await _tell(uow, [standing.person_id], "post.member_restored", await _standing_told(uow, standing),
                    dedupe=f"standing:{standing.community_id}:restored:{standing.no_shows}")
    return standing


async def _standing_told(uow: UnitOfWork, standing: Standing) -> dict[str, Any]:
    """What the member is told of their suspension or its lift: the no-shows and the community."""
    community = await uow.places.community(standing.community_id)
    return {"no_shows": standing.no_shows, "community": community.name if community else ""}


# ---- points ("积分") ----------------------------------------------------------------------

async def points_balance(uow: UnitOfWork, person_id: int, community_id: int) -> int:
    return await uow.volunteering.balance(person_id, community_id)


async def points_history(uow: UnitOfWork, person_id: int, community_id: int, limit: int = 20) -> list[PointsEntry]:
    """Newest first."""
    return (await _ledger(uow, person_id, community_id)).history(person_id, community_id)[:limit]


async def leaderboard(uow: UnitOfWork, community_id: int, year: int, month: int, limit: int = 10, *,
                      tz: ZoneInfo = CHINA_TZ) -> list[LeaderboardRow]:
    start, end = month_bounds(year, month, tz)
    entries = await uow.volunteering.points_between(community_id, start, end)
    return monthly_leaderboard(entries, community_id, year, month, top=limit, tz=tz)


async def shop_communities(uow: UnitOfWork, by: Actor) -> list[int]:
    """The communities whose points shop `by` keeps."""
    return await desk_communities(uow, by, "points.spend")


async def redeem(uow: UnitOfWork, by: Actor, person_id: int, community_id: int, points: int, item: str,
                 now: datetime, *, ref: str | None = None) -> PointsEntry:
    """Staff record a purchase at the points shop; never below zero, even when two staff press at once.

    `ref` names the redemption (a receipt, the bot's message id) so pressing twice records it once;
    without it each call is a new redemption.
    """
    ledger = await _ledger(uow, person_id, community_id)
    entry = spend(ledger, by, person_id, community_id, points, item, now,
                  ref=ref or f"shop:{by.person_id}:{now.isoformat()}")
    await _record_points(uow, ledger, entry)  # the balance row's conditional update is the real check
    await _tell(uow, [person_id], "points.redeemed",
                {"points": points, "item": entry.note, "balance": ledger.balance(person_id, community_id)},
                dedupe=f"points:redeemed:{entry.ref}")
    return entry


async def credit_report(uow: UnitOfWork, policy: PointsTable | None, case: Case, now: datetime) -> PointsEntry | None:
    """The reporter's points for a report confirmed useful (fixed); None when it earns nothing.

    `policy` is anything with `report_points` (VolunteerPolicy or ReportPolicy; None: the defaults).
    Crediting the same case again does nothing.
    """
    table = (policy.report_points if policy is not None else None) or DEFAULT_REPORT_POINTS
    points = points_for_report(case, table)
    if points <= 0:
        return None
    ledger = await _ledger(uow, case.reporter_id, case.community_id)
    if ledger.find(case.reporter_id, case.community_id, PointsReason.REPORT, report_ref(case)) is not None:
        return None
    entry = earn(ledger, case.reporter_id, case.community_id, points, PointsReason.REPORT, report_ref(case), now)
    await _record_points(uow, ledger, entry)
    await _tell(uow, [case.reporter_id], "points.report_earned",
                {"case": case.number, "points": points,
                 "balance": ledger.balance(case.reporter_id, case.community_id)},
                dedupe=f"points:{report_ref(case)}")
    return entry


# ---- theme-day templates -------------------------------------------------------------------

async def define_template(uow: UnitOfWork, by: Actor, community_id: int, now: datetime, *,
                          policy: VolunteerPolicy | None = None, **kwargs: Any) -> ThemeDayTemplate:
    """Staff keep a theme-day activity (see core.theme_day.define_template for the arguments).

    Defined after this month's create job ran for the community (the 14th), with this month's
    theme day still ahead, it gets its post at once rather than next month — announced to the
    members too if the announcement (the 21st) has gone out. The job running again cannot make
    a second one: storage keeps (template, theme day) unique.
    """
    from core.theme_day import define_template as define

    policy = policy or VolunteerPolicy(calendar=WorkCalendar())
    template = define(by, community_id, now, **kwargs)
    await uow.volunteering.add_template(template)
    template.pending_events[:] = [replace(e, subject_id=str(template.id)) for e in template.pending_events]
    await _save_events(uow, template)
    local = now.astimezone(policy.tz)
    year, month = local.year, local.month
    done = await uow.volunteering.done_keys(f"theme:{year:04d}-{month:02d}:")
    if f"{job_key(year, month, JobKind.CREATE)}:c{community_id}" in done:
        slot = theme_slot(template, theme_day_for(year, month), policy.calendar, policy.tz)
        if slot is not None and slot[0] > now:
            post = await _make_theme_post(uow, policy, template, year, month, now)
            if post is not None and f"{job_key(year, month, JobKind.ANNOUNCE)}:c{community_id}" in done:
                await _announce_post(uow, policy, post, now)
    return template


async def theme_templates(uow: UnitOfWork, community_id: int) -> list[ThemeDayTemplate]:
    """The community's active theme-day activities, oldest first (retired ones are kept, not listed)."""
    return list(await uow.volunteering.templates(community_id))


async def template_communities(uow: UnitOfWork, by: Actor) -> list[int]:
    """The communities whose theme-day activities `by` keeps."""
    return await desk_communities(uow, by, "theme.template")


async def theme_desk(uow: UnitOfWork, by: Actor, community_id: int) -> tuple[Community | None, list[ThemeDayTemplate]]:
    """A community's active theme-day activities, for its staff."""
    may_keep_templates(by, community_id)
    return await uow.places.community(community_id), await theme_templates(uow, community_id)


def may_define_template(by: Actor, community_id: int) -> None:
    """Checked when ➕ is pressed, before the dialog asks for anything."""
    may_keep_templates(by, community_id)


async def template_to_retire(uow: UnitOfWork, by: Actor, template_id: int) -> ThemeDayTemplate:
    """🗑 pressed: the template, if `by` may retire it (the press itself changes nothing)."""
    template = await theme_template(uow, template_id)
    may_keep_templates(by, template.community_id)
    return template


async def theme_template(uow: UnitOfWork, template_id: int) -> ThemeDayTemplate:
    template = await uow.volunteering.template(template_id)
    if template is None:
        raise NotFound(what="template")
    return template


async def retire_template(uow: UnitOfWork, by: Actor, template_id: int, now: datetime) -> ThemeDayTemplate:
    """Staff of its community stop an activity: from next month on it makes no post; posts already
    made stay. Retiring a retired one changes nothing and records nothing."""
    from core.theme_day import retire_template as retire

    template = retire(await theme_template(uow, template_id), by, now)
    if template.pending_events:
        await uow.volunteering.save_template(template)
        await _save_events(uow, template)
    return template


# ---- the clock -----------------------------------------------------------------------------

def _community_key(job: Job, community_id: int) -> str:
    return f"{job.dedupe_key}:c{community_id}"


async def run_theme_day_jobs(db: Database, policy: VolunteerPolicy, now: datetime) -> list[str]:
    """Run each community's due theme-day jobs, each once: the returned keys are those this call ran.

    Each job is its own transaction holding its work, its notifications and its done key
    ("theme:2026-12:announce:c3"); the key is inserted first, so a second scheduler waits for the
    first (PostgreSQL) and then finds it done, and a crash before commit leaves it to run again.
    """
    factory = db.uow
    local = now.astimezone(policy.tz)
    last = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    async with factory() as uow:
        communities = [saved_id(c) for c in await uow.places.communities()]
        done_all: set[str] = set()
        for y, m in (last, (local.year, local.month)):  # due_jobs looks no further back
            done_all |= await uow.volunteering.done_keys(f"theme:{y:04d}-{m:02d}:")
    ran: list[str] = []
    for community_id in communities:
        done = {k.rsplit(":", 1)[0] for k in done_all if k.endswith(f":c{community_id}")}
        jobs = theme_due_jobs(now, done, policy.schedule, tz=policy.tz, quiet_start=policy.quiet_start,
                              quiet_end=policy.quiet_end)
        for job in jobs:
            key = _community_key(job, community_id)
            try:
                async with factory() as uow:
                    if not await uow.volunteering.mark_done(key, now):
                        continue  # another scheduler ran it meanwhile
                    await _THEME_WORK[job.kind](uow, policy, community_id, job, now)
                    await uow.commit()
            except Exception:  # one community's trouble must not stop the others; next minute tries again
                log.exception("theme day job %s failed; it will be tried again", key)
                continue
            ran.append(key)
            log.info("theme day job %s done", key)
    return ran


async def _make_theme_post(uow: UnitOfWork, policy: VolunteerPolicy, template: ThemeDayTemplate, year: int,
                           month: int, now: datetime) -> Post | None:
    """The template's post for the month's theme day; None when there is none to make or it exists."""
    probe = theme_post(template, year, month, policy.calendar, now, number="X-GW-0000-000001", tz=policy.tz)
    if probe is None:
        return None
    number = await _new_post_number(uow, policy, template.community_id, now)
    post = theme_post(template, year, month, policy.calendar, now, number=number, tz=policy.tz)
    assert post is not None
    if not await uow.volunteering.add_post(post, theme_day=theme_day_for(year, month)):
        return None
    await _save_events(uow, post)
    return post


async def _theme_create(uow: UnitOfWork, policy: VolunteerPolicy, community_id: int, job: Job, now: datetime) -> None:
    year, month = job.year_month
    for template in await uow.volunteering.templates(community_id):
        await _make_theme_post(uow, policy, template, year, month, now)


async def _theme_announce(uow: UnitOfWork, policy: VolunteerPolicy, community_id: int, job: Job,
                          now: datetime) -> None:
    posts = [p for p in await uow.volunteering.theme_posts(community_id, job.theme_day)
             if p.state in rules.CLAIMABLE_POST]
    members = await _members_of(uow, community_id)
    if not posts or not members:
        return
    lines = "\n".join(f"· {p.title} {p.starts_at.astimezone(policy.tz):%H:%M}–{p.ends_at.astimezone(policy.tz):%H:%M}"
                      f" ({p.number})" for p in sorted(posts, key=lambda p: (p.starts_at, p.number)))
    community = await _community_name(uow, community_id)
    day = job.theme_day
    await uow.broadcasts.start(f"{community} {day.month}月{day.day}日主题党日", members, "theme.announce",
                               {"community": community, "month": day.month, "day": day.day, "posts": lines},
                               None, now=now, not_before=_quiet(policy, now))


async def _theme_remind(uow: UnitOfWork, policy: VolunteerPolicy, community_id: int, job: Job, now: datetime) -> None:
    """The day-before reminder of the theme-day posts (send_post_reminders leaves it to this job)."""
    for post in await uow.volunteering.theme_posts(community_id, job.theme_day):
        if post.state not in rules.CLAIMABLE_POST:
            continue
        holders = [c.person_id for c in await uow.volunteering.claims_of_post(post.number)
                   if c.state == ClaimState.CLAIMED]
        await _tell(uow, holders, "post.reminder", _reminder_payload(policy, post),
                    dedupe=f"post:{post.number}:day_before", not_before=_quiet(policy, now))


async def _theme_summary(uow: UnitOfWork, policy: VolunteerPolicy, community_id: int, job: Job,
                         now: datetime) -> None:
    day = job.theme_day
    posts = list(await uow.volunteering.theme_posts(community_id, day))
    claims = list(await uow.volunteering.claims_of_posts([p.number for p in posts]))
    summary = participation_summary(community_id, day, posts, claims, policy.tz)
    later = _quiet(policy, now)
    if not summary.posts:
        return  # no theme day was held here this month: nothing to sum up
    named = await _names(uow, [p.person_id for p in summary.took_part])
    names = "、".join([f"{named[p.person_id]} {p.hours.total_seconds() / 3600:.1f}h"
                      for p in summary.took_part]) or "—"
    await _tell(uow, await _staff_of(uow, community_id), "theme.summary_staff",
                {"month": day.month, "day": day.day, "posts": summary.posts, "places": summary.places,
                 "people": len(summary.took_part), "hours": round(summary.hours.total_seconds() / 3600, 1),
                 "names": names, "no_shows": len(summary.no_shows), "unsettled": len(summary.unsettled)},
                dedupe=f"{job.dedupe_key}:c{community_id}:staff", not_before=later)
    year, month = job.year_month
    start, end = month_bounds(year, month, policy.tz)
    month_claims = list(await uow.volunteering.claims_in_community(community_id, start, end))
    entries = list(await uow.volunteering.points_between(community_id, start, end))
    balances = await uow.volunteering.balances(community_id)
    for member in await _members_of(uow, community_id):
        mine = member_month(member, community_id, year, month, [cp for cp in month_claims if cp[0].person_id == member],
                            [e for e in entries if e.person_id == member], policy.tz)
        mine = replace(mine, balance=balances.get(member, 0))
        await _tell(uow, [member], "theme.summary_member",
                    {"month": month, "services": mine.services, "theme_days": mine.theme_days,
                     "hours": round(mine.hours.total_seconds() / 3600, 1), "no_shows": mine.no_shows,
                     "points": mine.points_earned, "balance": mine.balance},
                    dedupe=f"{job.dedupe_key}:member", not_before=later)


_THEME_WORK = {JobKind.CREATE: _theme_create, JobKind.ANNOUNCE: _theme_announce, JobKind.REMIND: _theme_remind,
               JobKind.SUMMARY: _theme_summary}


def _reminder_payload(policy: VolunteerPolicy, post: Post) -> dict[str, Any]:
    return {"post": post.number, "title": post.title, "starts_at": iso(post.starts_at),
            "place": post.place}


async def send_post_reminders(uow: UnitOfWork, policy: VolunteerPolicy, now: datetime) -> int:
    """Day-before and hour-before reminders whose moment has come, each once; returns how many were queued.

    A theme-day post's day-before reminder is the theme day's remind job (`run_theme_day_jobs`).
    """
    queued = 0
    for post in await uow.volunteering.posts_starting(now, now + timedelta(days=1, hours=1)):
        if post.state not in rules.CLAIMABLE_POST:
            continue
        claims: list[Claim] | None = None
        for reminder in rules.reminders_for(post, quiet_start=policy.quiet_start, quiet_end=policy.quiet_end,
                                            tz=policy.tz):
            if not reminder.at <= now < post.starts_at:
                continue
            if post.is_theme_day and reminder.kind == "day_before":
                continue
            if not await uow.volunteering.mark_done(f"post:{post.number}:{reminder.kind}", now):
                continue
            if claims is None:
                claims = list(await uow.volunteering.claims_of_post(post.number))
            queued += await _tell(uow, rules.reminder_recipients(reminder, claims), "post.reminder",
                                  _reminder_payload(policy, post), dedupe=f"post:{post.number}:{reminder.kind}")
    return queued


async def complete_ended_posts(uow: UnitOfWork, now: datetime) -> int:
    """Close posts that have ended (the clock's `complete_post`); returns how many."""
    done = 0
    for post in await uow.volunteering.ended_posts(now):
        rules.complete_post(post, None, now)
        try:
            await uow.volunteering.save_post(post)
        except StaleWrite:
            continue  # someone changed it meanwhile; the next minute looks again
        await _save_events(uow, post)
        done += 1
    return done
