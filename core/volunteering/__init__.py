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
  until staff lift the suspension; lifting starts the count again from zero.

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

Where each part lives: rules (pure functions that decide and record events) in `<area>.py`, the
services that load, save and tell people through the unit of work in `<area>_services.py` beside it:

    common.py / common_services.py              limits, states, errors; the policy, telling people
    registration.py / registration_services.py  "双报到"
    orders.py / orders_services.py              "群众点单"
    posts.py / posts_services.py                "社区派单、党员接单": posts, claims, the waitlist, reminders
    attendance.py / attendance_services.py      check-in/out, hours, confirm, no-show, suspension

Points and theme days have their own rules and services: core/points.py + core/points_services.py,
core/theme_day.py + core/theme_day_services.py.
"""
