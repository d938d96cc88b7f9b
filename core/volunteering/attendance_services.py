"""Services of check-in/out and hours: check in, check out (or for someone), confirm the service
(crediting points), mark a no-show, lift a suspension."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.cases import Actor, PhotoRef
from core.errors import NotFound
from core.points import PointsReason, earn, points_for_service, service_ref
from core.points_services import load_ledger, record_points
from core.ports import UnitOfWork
from core.proof import DEFAULT_PROOF_RADIUS_M, judge_nearest
from core.volunteering import attendance as rules
from core.volunteering.common import NotYourClaim
from core.volunteering.common_services import VolunteerPolicy, display_name, save_events, staff_of, tell
from core.volunteering.posts import Claim, Post, Standing
from core.volunteering.posts_services import post_by_number


async def _claim_of(uow: UnitOfWork, post: Post, person_id: int) -> Claim:
    found = await uow.volunteering.claim(post.number, person_id)
    if found is None:
        raise NotYourClaim(post=post.number)
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
                   lat: float | None = None, lon: float | None = None,
                   radius_m: float = DEFAULT_PROOF_RADIUS_M) -> Claim:
    """The member checks in with a photo; a shared location is judged against the nearest building of the
    post's community (core.proof) and only the verdict and the metres are kept, not the position."""
    post = await post_by_number(uow, post_number)
    claim_ = await _claim_of(uow, post, by.person_id)
    rules.require_check_in(claim_, post, by, now)  # who may, before anything is measured
    proof = None
    if lat is not None and lon is not None:
        proof = judge_nearest(lat, lon, await _community_sites(uow, post.community_id), radius_m)
    rules.check_in(claim_, post, by, photo.sha256, now, proof=proof)
    await uow.volunteering.save_claim(claim_)
    await save_events(uow, claim_)
    return claim_


async def _community_sites(uow: UnitOfWork, community_id: int) -> list[tuple[float, float]]:
    grids = {g.id for g in await uow.places.grids(community_id)}
    return [(b.lat, b.lon) for b in await uow.places.buildings_with_position()
            if b.grid_id in grids and b.lat is not None and b.lon is not None]


async def check_out(uow: UnitOfWork, by: Actor, post_number: str, photo: PhotoRef, now: datetime) -> Claim:
    """The member leaves; staff (and the ordering resident) are asked to confirm the service."""
    post = await post_by_number(uow, post_number)
    claim_ = await _claim_of(uow, post, by.person_id)
    rules.check_out(claim_, post, by, photo.sha256, now)
    await uow.volunteering.save_claim(claim_)
    await save_events(uow, claim_)
    people = await staff_of(uow, post.community_id)
    if post.order_number:
        order = await uow.volunteering.order(post.order_number)
        if order is not None:
            people.append(order.resident_id)
    hours = round(rules.hours_served(claim_, post).total_seconds() / 3600, 1)
    far = ({"far_m": round(claim_.check_in_distance_m)}  # flagged to whoever confirms (core.proof)
           if rules.checked_in_far(claim_) and claim_.check_in_distance_m is not None else {})
    await tell(uow, people, "post.to_confirm",
               {"post": post.number, "title": post.title, "person": by.person_id,
                "name": await display_name(uow, by.person_id), "hours": hours, **far},
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
    await save_events(uow, claim_)
    return claim_


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
    await save_events(uow, claim_)
    points = points_for_service(claim_, post)
    if points > 0:
        ledger = await load_ledger(uow, person_id, post.community_id)
        if ledger.find(person_id, post.community_id, PointsReason.SERVICE, service_ref(claim_)) is None:
            entry = earn(ledger, person_id, post.community_id, points, PointsReason.SERVICE, service_ref(claim_), now,
                         by=by.person_id, note=post.title)
            await record_points(uow, ledger, entry)
            await tell(uow, [person_id], "points.earned",
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
    await save_events(uow, claim_)
    suspended = any(e.kind == "claims_suspended" for e in standing.pending_events)
    await uow.volunteering.save_standing(standing)
    await save_events(uow, standing)
    if suspended:  # why (the no-shows) and how to be restored (ask the community's staff)
        await tell(uow, [standing.person_id], "post.member_suspended", await _standing_told(uow, standing),
                   dedupe=f"standing:{standing.community_id}:suspended:{standing.no_shows}")
    return standing


async def lift_suspension(uow: UnitOfWork, by: Actor, person_id: int, community_id: int, now: datetime) -> Standing:
    standing = await uow.volunteering.standing(person_id, community_id) or Standing(person_id, community_id)
    rules.lift_suspension(standing, by, now)
    lifted = any(e.kind == "suspension_lifted" for e in standing.pending_events)
    await uow.volunteering.save_standing(standing)
    await save_events(uow, standing)
    if lifted:
        await tell(uow, [standing.person_id], "post.member_restored", await _standing_told(uow, standing),
                   dedupe=f"standing:{standing.community_id}:restored:{standing.no_shows}")
    return standing


async def _standing_told(uow: UnitOfWork, standing: Standing) -> dict[str, Any]:
    """What the member is told of their suspension or its lift: the no-shows and the community."""
    community = await uow.places.community(standing.community_id)
    return {"no_shows": standing.no_shows, "community": community.name if community else ""}
