"""Services of posts and claims ("社区派单、党员接单"): create, list, claim, withdraw, the roster; and
the clock's work on posts (`send_post_reminders`, `complete_ended_posts`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from core.access import desk_communities, require_staff_of
from core.cases import Actor
from core.errors import NotFound
from core.ports import StaleWrite, UnitOfWork
from core.volunteering import posts as rules
from core.volunteering.common import (
    BLOCKS_TIME, CLAIMABLE_POST, ClaimState, NotYourClaim, PostFull, PostState,
)
from core.volunteering.common_services import (
    RACE_RETRIES, VolunteerPolicy, community_code, display_names, iso, party_members_of, save_events, tell,
)
from core.volunteering.posts import Claim, Post


async def new_post_number(uow: UnitOfWork, policy: VolunteerPolicy, community_id: int, now: datetime) -> str:
    """The community's next post number this year ("DC-GW-2026-000001"), for any new post."""
    year = now.astimezone(policy.tz).year
    code = await community_code(uow, community_id)
    return rules.post_number(code, year, await uow.volunteering.next_number(community_id, year, "post"))


async def announce_post(uow: UnitOfWork, policy: VolunteerPolicy, post: Post, now: datetime) -> None:
    """Tell the community's approved party members about a new post (after quiet hours)."""
    await tell(uow, await party_members_of(uow, post.community_id), "post.new",
               {"post": post.number, "title": post.title, "starts_at": iso(post.starts_at),
                "capacity": post.capacity, "points": post.points_per_person},
               dedupe=f"post:{post.number}:new", not_before=policy.held_until(now))


async def create_post(uow: UnitOfWork, policy: VolunteerPolicy, by: Actor, community_id: int, now: datetime, *,
                      title: str, starts_at: datetime, ends_at: datetime, place: str, capacity: int,
                      points_per_person: int, skills: Sequence[str] = ()) -> Post:
    """Staff put up a post directly; the community's members are told."""
    kwargs: dict[str, Any] = dict(title=title, starts_at=starts_at, ends_at=ends_at, place=place, capacity=capacity,
                                  points_per_person=points_per_person, skills=skills)
    rules.may_create_post(by, community_id)  # before a running number is taken
    number = await new_post_number(uow, policy, community_id, now)
    post = rules.create_post(by, community_id, now, number=number, **kwargs)
    await uow.volunteering.add_post(post)
    await save_events(uow, post)
    await announce_post(uow, policy, post, now)
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
    return Roster(post, claims, await display_names(uow, [c.person_id for c in claims]))


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
        await save_events(uow, post)
        if existing is None:
            await uow.volunteering.add_claim(taken)
        else:
            await uow.volunteering.save_claim(taken)
        await save_events(uow, taken)
        if taken.state == ClaimState.CLAIMED and post.order_number is not None:
            await _tell_resident_who_comes(uow, policy, post)
        return taken
    raise PostFull(post=post_number, waitlist=True)  # pragma: no cover - a storm of claims


async def _tell_resident_who_comes(uow: UnitOfWork, policy: VolunteerPolicy, post: Post) -> None:
    order = await uow.volunteering.order(post.order_number) if post.order_number else None
    if order is None:
        return
    coming = rules.coming(await uow.volunteering.claims_of_post(post.number))
    named = await display_names(uow, coming)
    names = "、".join(named[p] for p in coming)
    await tell(uow, [order.resident_id], "post.coming", {"post": post.number, "title": post.title, "names": names},
               dedupe=f"post:{post.number}:coming:{len(coming)}:{coming[-1] if coming else 0}")


async def withdraw_claim(uow: UnitOfWork, policy: VolunteerPolicy, by: Actor, post_number: str,
                         now: datetime) -> Claim | None:
    """Give up a place or a waitlist spot; returns the waitlisted claim promoted to the freed place."""
    for _ in range(RACE_RETRIES):
        post = await post_by_number(uow, post_number)
        mine = await uow.volunteering.claim(post_number, by.person_id)
        if mine is None:
            raise NotYourClaim(post=post_number)
        claims = await uow.volunteering.claims_of_post(post_number)
        waiting = [c for c in claims if c.state == ClaimState.WAITLISTED]
        held = mine.state == ClaimState.CLAIMED
        promoted = rules.withdraw(mine, post, by, now, waitlist=waiting, cutoff=policy.withdraw_cutoff)
        if held:
            try:
                await uow.volunteering.save_post(post)  # even when the place passes on: the version moves
            except StaleWrite:
                continue
            await save_events(uow, post)
        await uow.volunteering.save_claim(mine)
        await save_events(uow, mine)
        if promoted is not None:
            assert promoted.claimed_at is not None  # rules.withdraw gave it the freed place
            await uow.volunteering.save_claim(promoted)
            await save_events(uow, promoted)
            await tell(uow, [promoted.person_id], "post.promoted",
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


def reminder_payload(policy: VolunteerPolicy, post: Post) -> dict[str, Any]:
    """What a post's reminder carries (number, title, start, place); theme-day reminders say the same."""
    return {"post": post.number, "title": post.title, "starts_at": iso(post.starts_at),
            "place": post.place}


async def send_post_reminders(uow: UnitOfWork, policy: VolunteerPolicy, now: datetime) -> int:
    """Day-before and hour-before reminders whose moment has come, each once; returns how many were queued.

    A theme-day post's day-before reminder is the theme day's remind job (`run_theme_day_jobs`).
    """
    queued = 0
    for post in await uow.volunteering.posts_starting(now, now + timedelta(days=1, hours=1)):
        if post.state not in CLAIMABLE_POST:
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
            queued += await tell(uow, rules.reminder_recipients(reminder, claims), "post.reminder",
                                 reminder_payload(policy, post), dedupe=f"post:{post.number}:{reminder.kind}")
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
        await save_events(uow, post)
        done += 1
    return done
