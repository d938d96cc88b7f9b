"""Check-in, check-out and hours: a member proves attendance with photos; staff check out a
member who forgot, confirm the service (with a rating) or mark a no-show, and lift a suspension.
The rules; `attendance_services` loads, saves, credits points and tells."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.cases import Actor
from core.errors import NotAllowed
from core.proof import OnSpot
from core.volunteering.common import (
    BadRating, CHECK_IN_EARLY, CheckInTooEarly, CheckInTooLate, ClaimState, DEFAULT_NO_SHOW_LIMIT, NotEndedYet,
    NotStartedYet, PhotoRequired, PhotoReused, PostClosed, PostState, not_int, require_state,
)
from core.volunteering.orders import Order
from core.volunteering.posts import Claim, Post, Standing, check_pair, move_claim, require_own


def require_check_in(claim_: Claim, post: Post, by: Actor, now: datetime, *,
                     early: timedelta = CHECK_IN_EARLY) -> None:
    """May the member check in now? Their own place, not cancelled, from `early` before the start
    until the end. Asked at the press, before the member is asked for a photo, and again with it."""
    require_own(claim_, post, by)
    require_state(claim_.state, {ClaimState.CLAIMED}, "claim", post.number, "check_in")
    if post.state == PostState.CANCELLED:
        raise PostClosed(post=post.number)
    if now < post.starts_at - early:
        raise CheckInTooEarly(post=post.number, opens_at=(post.starts_at - early).isoformat())
    if now >= post.ends_at:
        raise CheckInTooLate(post=post.number)


def require_check_out(claim_: Claim, post: Post, by: Actor, now: datetime) -> None:
    """May the member check out now? Their own place, checked in. Asked at the press and with the photo."""
    require_own(claim_, post, by)
    require_state(claim_.state, {ClaimState.CHECKED_IN}, "claim", post.number, "check_out")


def check_in(claim_: Claim, post: Post, by: Actor, photo: str, now: datetime, *,
             lat: float | None = None, lon: float | None = None, early: timedelta = CHECK_IN_EARLY,
             proof: OnSpot | None = None) -> Claim:
    """On the day: the member arrives and proves it with a photo (location if they share it).

    `proof` is the verdict on their location (core.proof), kept instead of the position: far from the
    community's buildings, the check-in counts all the same and is flagged to staff."""
    require_check_in(claim_, post, by, now, early=early)
    photo = (photo or "").strip()
    if not photo:
        raise PhotoRequired(action="check_in")
    claim_.checked_in_at, claim_.check_in_photo = now, photo
    claim_.check_in_lat, claim_.check_in_lon = lat, lon
    claim_.check_in_on_site = proof.on_site if proof is not None else None
    claim_.check_in_distance_m = proof.distance_m if proof is not None else None
    located = proof is not None or (lat is not None and lon is not None)
    move_claim(claim_, ClaimState.CHECKED_IN, "checked_in", by.person_id, now,
               {"photo": photo, "located": located, **(proof.event_view() if proof is not None else {})})
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
    move_claim(claim_, ClaimState.CHECKED_OUT, "checked_out", by.person_id, now,
               {"photo": photo, "hours": hours_served(claim_, post).total_seconds() / 3600})
    return claim_


def check_out_for(claim_: Claim, post: Post, by: Actor, now: datetime) -> Claim:
    """Staff check out a member who checked in and forgot to check out, once the post has ended.

    The check-out moment is the post's end (so the hours are the end minus the check-in,
    capped as usual); there is no photo. The event says who did it. Afterwards the claim
    is confirmed (or not) like any other checked-out claim.
    """
    check_pair(claim_, post)
    if not by.roles.is_staff_of(post.community_id):
        raise NotAllowed(action="post.check_out_for")
    require_state(claim_.state, {ClaimState.CHECKED_IN}, "claim", post.number, "check_out_for")
    if now < post.ends_at:
        raise NotEndedYet(post=post.number)
    out_at = post.ends_at
    if claim_.checked_in_at is not None and out_at < claim_.checked_in_at:
        out_at = claim_.checked_in_at
    claim_.checked_out_at, claim_.check_out_photo = out_at, None
    move_claim(claim_, ClaimState.CHECKED_OUT, "checked_out_by_staff", by.person_id, now,
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
    check_pair(claim_, post)
    is_staff = may_confirm(post, by, order=order)
    require_state(claim_.state, {ClaimState.CHECKED_OUT}, "claim", post.number, "confirm")
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
    if rating is not None and (not_int(rating) or not 1 <= rating <= 5):
        raise BadRating(rating=rating)
    claim_.served = hours_served(claim_, post)
    claim_.rating, claim_.confirmed_by = rating, by.person_id
    move_claim(claim_, ClaimState.CONFIRMED, "service_confirmed", by.person_id, now,
               {"rating": rating, "hours": claim_.served.total_seconds() / 3600,
                "by": "staff" if is_staff else "resident"})
    return claim_


def mark_no_show(claim_: Claim, post: Post, standing: Standing, by: Actor, now: datetime, *,
                 limit: int = DEFAULT_NO_SHOW_LIMIT) -> Standing:
    """Staff record that a member holding a place did not come; at `limit` they are suspended.

    Only after the post has started, and only for a claim that never checked in.
    """
    check_pair(claim_, post)
    if not by.roles.is_staff_of(post.community_id):
        raise NotAllowed(action="post.no_show")
    if standing.person_id != claim_.person_id or standing.community_id != post.community_id:
        raise ValueError("the standing must be the member's in the post's community")
    require_state(claim_.state, {ClaimState.CLAIMED}, "claim", post.number, "no_show")
    if now < post.starts_at:
        raise NotStartedYet(post=post.number)
    if limit < 1:
        raise ValueError("the no-show limit must be at least 1")
    move_claim(claim_, ClaimState.NO_SHOW, "no_show", by.person_id, now)
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


def checked_in_far(claim_: Claim) -> bool:
    """Checked in with a location that was not on the spot (core.proof): flagged to staff."""
    return claim_.check_in_on_site is False


def hours_served(claim_: Claim, post: Post) -> timedelta:
    """Check-out minus check-in, never more than the post's length and never negative.

    Nothing counts without both check-in and check-out. Early arrival is not cut off:
    setting up counts, only the total is capped.
    """
    if claim_.checked_in_at is None or claim_.checked_out_at is None:
        return timedelta(0)
    return max(timedelta(0), min(claim_.checked_out_at - claim_.checked_in_at, post.length))
