"""Party-member volunteering, pure rules: "群众点单、社区派单、党员接单".

Community 7 (东城社区) has a desk (staff 1), residents and approved party members; community 8
is next door. Times are China time in June 2026.
"""

from __future__ import annotations

import copy
from datetime import datetime, time, timedelta, timezone

import pytest

from core.cases import Actor
from core.errors import AlreadyHasRole, NotAllowed
from core.people import GrantStatus, Role, RoleGrant, Roles
from core.volunteering.attendance import (
    check_in, check_out, check_out_for, confirm_service, hours_served, lift_suspension, mark_no_show,
)
from core.volunteering.common import (
    AlreadyClaimed, BadPost, BadRating, CheckInTooEarly, CheckInTooLate, ClaimState, DescriptionRequired,
    NotEndedYet, NotMember, NotResident, NotStartedYet, NotYourClaim, OrderState, Overlap, PhotoRequired,
    PhotoReused, PostClosed, PostFull, PostStarted, PostState, ReasonRequired, RegisteredElsewhere,
    RegistrationPending, ServiceKind, Suspended, TextTooLong, WithdrawTooLate, WorkUnitRequired, WrongState,
)
from core.volunteering.orders import decline_order, dispatch_order, order_number, order_service
from core.volunteering.posts import (
    Standing, cancel_post, claim, coming, complete_post, create_post, first_in_line, next_allowed_moment,
    post_number, reminder_recipients, reminders_for, withdraw,
)
from core.volunteering.registration import (
    Registration, approve_registration, decline_registration, register_party_member,
)
from core.workdays import CHINA_TZ

HOME, NEXT_DOOR = 7, 8


def at(d: int, hh: int, mm: int = 0, ss: int = 0, month: int = 6) -> datetime:
    return datetime(2026, month, d, hh, mm, ss, tzinfo=CHINA_TZ)


NOW = at(1, 10)


def actor(person_id: int, *grants: RoleGrant) -> Actor:
    return Actor(person_id, Roles(list(grants)))


def staff(person_id: int = 1, community: int = HOME) -> Actor:
    return actor(person_id, RoleGrant(None, person_id, Role.STAFF, community_id=community))


def member(person_id: int, community: int = HOME, status: GrantStatus = GrantStatus.ACTIVE) -> Actor:
    return actor(person_id, RoleGrant(None, person_id, Role.PARTY_MEMBER, status, community_id=community,
                                      work_unit="县水利局"))


def resident(person_id: int, community: int = HOME) -> Actor:
    return actor(person_id, RoleGrant(None, person_id, Role.RESIDENT, community_id=community, building_id=1))


DESK = staff()
WANG, LI, ZHAO, SUN = member(21), member(22), member(23), member(24)
AUNTIE = resident(31)


def new_post(capacity: int = 2, starts: datetime = at(6, 9), hours: float = 2, seq: int = 1, **kw):
    return create_post(DESK, HOME, NOW, number=post_number("DC", 2026, seq), title="陪王阿姨去医院",
                       starts_at=starts, ends_at=starts + timedelta(hours=hours), place="粮食局小区3号楼",
                       capacity=capacity, points_per_person=5, **kw)


def checked_out(post, who=WANG, arrive=None, leave=None):
    c = claim(post, who, NOW)
    check_in(c, post, who, "sha-in", arrive or post.starts_at)
    check_out(c, post, who, "sha-out", leave or post.ends_at)
    return c


# --- registration ("双报到") --------------------------------------------------------------


def test_party_member_registers_and_staff_approve():
    reg = register_party_member(40, Roles([]), HOME, "  县水利局 ", NOW)
    assert reg.grant.status == GrantStatus.PENDING and reg.grant.work_unit == "县水利局"
    approve_registration(reg, DESK, NOW)
    assert reg.grant.status == GrantStatus.ACTIVE and reg.grant.granted_by == 1
    assert [e.kind for e in reg.pending_events] == ["party_registration_requested", "party_registration_approved"]
    with pytest.raises(WrongState):
        approve_registration(reg, DESK, NOW)          # decided once


def test_registration_declined_with_a_reason_and_only_by_that_communitys_staff():
    reg = register_party_member(40, Roles([]), HOME, "县市政管理处", NOW)
    for who in (staff(2, NEXT_DOOR), WANG, AUNTIE):
        with pytest.raises(NotAllowed):
            decline_registration(reg, who, NOW, "不在本社区居住")
    decline_registration(reg, DESK, NOW, "不在本社区居住")
    assert reg.grant.status == GrantStatus.DECLINED
    assert reg.pending_events[-1].after["reason"] == "不在本社区居住"


def test_registration_refused_when_pending_already_registered_or_elsewhere():
    with pytest.raises(WorkUnitRequired):
        register_party_member(40, Roles([]), HOME, "  ", NOW)
    with pytest.raises(TextTooLong):
        register_party_member(40, Roles([]), HOME, "单" * 61, NOW)
    pending = RoleGrant(1, 40, Role.PARTY_MEMBER, GrantStatus.PENDING, community_id=HOME)
    with pytest.raises(RegistrationPending):
        register_party_member(40, Roles([pending]), NEXT_DOOR, "县水利局", NOW)
    active = RoleGrant(1, 40, Role.PARTY_MEMBER, community_id=HOME)
    with pytest.raises(AlreadyHasRole):
        register_party_member(40, Roles([active]), HOME, "县水利局", NOW)
    with pytest.raises(RegisteredElsewhere):
        register_party_member(40, Roles([active]), NEXT_DOOR, "县水利局", NOW)
    declined = RoleGrant(1, 40, Role.PARTY_MEMBER, GrantStatus.DECLINED, community_id=HOME)
    assert register_party_member(40, Roles([declined]), HOME, "县水利局", NOW).grant.status == GrantStatus.PENDING


def test_only_approved_members_of_the_community_claim():
    post = new_post()
    for who in (member(40, status=GrantStatus.PENDING), member(41, status=GrantStatus.DECLINED),
                member(42, community=NEXT_DOOR), AUNTIE, DESK):
        with pytest.raises(NotMember):
            claim(post, who, NOW)
    reg = Registration(RoleGrant(1, 40, Role.PARTY_MEMBER, GrantStatus.PENDING, community_id=HOME))
    approve_registration(reg, DESK, NOW)
    assert claim(post, actor(40, reg.grant), NOW).state == ClaimState.CLAIMED


# --- the resident's order, dispatched or declined ------------------------------------------


def test_resident_orders_a_service_and_gets_an_order_number():
    order = order_service(AUNTIE, HOME, ServiceKind.ELDERLY_HELP, "帮忙去医院取药", "周六上午", "3号楼2单元", NOW,
                          number=order_number("dc", 2026, 12))
    assert order.number == "DC-FW-2026-000012" and order.state == OrderState.NEW
    assert order.pending_events[0].kind == "order_placed"
    with pytest.raises(NotResident):
        order_service(resident(32, NEXT_DOOR), HOME, ServiceKind.CARRYING, "", "", "", NOW, number="x")
    with pytest.raises(NotResident):
        order_service(WANG, HOME, ServiceKind.CARRYING, "", "", "", NOW, number="x")
    with pytest.raises(DescriptionRequired):
        order_service(AUNTIE, HOME, ServiceKind.OTHER, "  ", "明天", "", NOW, number="x")
    with pytest.raises(TextTooLong):
        order_service(AUNTIE, HOME, ServiceKind.TUTORING, "字" * 301, "", "", NOW, number="x")
    assert order_service(AUNTIE, HOME, ServiceKind.CARRYING, "", "", "", NOW, number="x").description == ""


def _order():
    return order_service(AUNTIE, HOME, ServiceKind.SMALL_REPAIRS, "换灯泡", "周六", "3号楼", NOW,
                         number="DC-FW-2026-000001")


def test_staff_dispatch_an_order_as_a_post():
    order = _order()
    for who in (staff(2, NEXT_DOOR), WANG, AUNTIE):
        with pytest.raises(NotAllowed):
            dispatch_order(order, who, NOW, number="DC-GW-2026-000001", title="换灯泡", starts_at=at(6, 9),
                           ends_at=at(6, 10), place="3号楼", capacity=1, points_per_person=3)
    post = dispatch_order(order, DESK, NOW, number="DC-GW-2026-000001", title="换灯泡", starts_at=at(6, 9),
                          ends_at=at(6, 10), place="3号楼", capacity=1, points_per_person=3, skills=["电工"])
    assert post.order_number == order.number and post.state == PostState.OPEN and post.skills == ("电工",)
    assert order.state == OrderState.DISPATCHED and order.post_number == post.number
    with pytest.raises(WrongState):
        decline_order(order, DESK, "重复", NOW)


def test_staff_decline_an_order_with_a_reason():
    order = _order()
    with pytest.raises(ReasonRequired):
        decline_order(order, DESK, " ", NOW)
    with pytest.raises(NotAllowed):
        decline_order(order, staff(2, NEXT_DOOR), "不是志愿服务", NOW)
    decline_order(order, DESK, "属于物业维修，已转物业", NOW)
    assert order.state == OrderState.DECLINED and order.decline_reason == "属于物业维修，已转物业"
    with pytest.raises(WrongState):
        dispatch_order(order, DESK, NOW, number="n", title="t", starts_at=at(6, 9), ends_at=at(6, 10),
                       place="p", capacity=1, points_per_person=1)


def test_posts_are_created_by_staff_or_by_the_scheduler_from_a_template():
    with pytest.raises(NotAllowed):
        create_post(WANG, HOME, NOW, number="n", title="t", starts_at=at(6, 9), ends_at=at(6, 10), place="p",
                    capacity=1, points_per_person=1)
    with pytest.raises(NotAllowed):
        create_post(None, HOME, NOW, number="n", title="t", starts_at=at(6, 9), ends_at=at(6, 10), place="p",
                    capacity=1, points_per_person=1)
    post = create_post(None, HOME, NOW, number="n", title="t", starts_at=at(6, 9), ends_at=at(6, 10),
                       place="p", capacity=1, points_per_person=1, template_id=3)
    assert post.is_theme_day and post.created_by is None
    for kw in ({"ends_at": at(6, 9)}, {"starts_at": at(1, 8), "ends_at": at(1, 9)}, {"capacity": 0},
               {"capacity": True}, {"points_per_person": -1}, {"title": " "}, {"place": ""},
               {"skills": ["a", "b", "c", "d", "e", "f"]}):
        args = dict(number="n", title="t", starts_at=at(6, 9), ends_at=at(6, 10), place="p", capacity=1,
                    points_per_person=1) | kw
        with pytest.raises(BadPost):
            create_post(DESK, HOME, NOW, **args)


# --- claiming places -------------------------------------------------------------------------


def test_claims_fill_the_post_and_a_full_post_offers_the_waitlist():
    post = new_post(capacity=2)
    first = claim(post, WANG, NOW)
    assert first.state == ClaimState.CLAIMED and post.places_taken == 1 and post.state == PostState.OPEN
    claim(post, LI, NOW)
    assert post.places_taken == 2 and post.state == PostState.FULL
    with pytest.raises(PostFull) as refused:
        claim(post, ZHAO, NOW)
    assert refused.value.key == "post.full" and refused.value.params["waitlist"] is True
    waiting = claim(post, ZHAO, NOW, waitlist=True)
    assert waiting.state == ClaimState.WAITLISTED and post.places_taken == 2
    with pytest.raises(AlreadyClaimed):
        claim(post, WANG, NOW, existing=first)
    assert coming([waiting, first]) == [21]


def test_claim_refused_once_started_or_when_cancelled():
    post = new_post()
    with pytest.raises(PostStarted):
        claim(post, WANG, post.starts_at)
    cancel_post(post, DESK, "下雨改期", NOW)
    with pytest.raises(PostClosed):
        claim(post, WANG, NOW)


def test_the_last_place_race_exactly_one_of_two_simultaneous_claims_wins():
    """Both presses load the same snapshot and both are told "yes" by the pure rule; storage's
    conditional update (`… WHERE id = :id AND version = :loaded`) lets only the first one commit.
    The loser reloads, asks again, and is told politely that the post is full."""

    class Store:  # one row of volunteer_posts, saved with an optimistic version check
        def __init__(self, post):
            self.row, self.claims = copy.deepcopy(post), []

        def load(self):
            return copy.deepcopy(self.row)

        def save(self, post, loaded_version, new_claim) -> bool:
            if self.row.version != loaded_version:
                return False                                 # UPDATE changed no row: lost the race
            self.row = copy.deepcopy(post)
            self.row.version = loaded_version + 1
            self.claims.append(new_claim)
            return True

    post = new_post(capacity=3)
    claim(post, WANG, NOW)
    claim(post, LI, NOW)                                     # one place left
    store = Store(post)

    snap_zhao, snap_sun = store.load(), store.load()
    zhao_claim = claim(snap_zhao, ZHAO, NOW)
    sun_claim = claim(snap_sun, SUN, NOW)
    assert zhao_claim.state == sun_claim.state == ClaimState.CLAIMED     # the same counts, the same answer

    assert store.save(snap_zhao, snap_sun.version, zhao_claim) is True
    assert store.save(snap_sun, snap_sun.version, sun_claim) is False   # Sun's update finds version moved on
    retry = store.load()
    with pytest.raises(PostFull):
        claim(retry, SUN, NOW)
    assert store.row.places_taken == 3 and store.row.state == PostState.FULL
    assert [c.person_id for c in store.claims] == [23]


def test_a_claim_overlapping_another_of_the_members_posts_is_refused():
    morning = new_post(starts=at(6, 9), hours=2, seq=1)
    claim(morning, WANG, NOW)
    clash = new_post(starts=at(6, 10), hours=2, seq=2)
    with pytest.raises(Overlap) as refused:
        claim(clash, WANG, NOW, other_posts=[morning])
    assert refused.value.key == "post.overlap" and refused.value.params["post"] == morning.number
    back_to_back = new_post(starts=at(6, 11), hours=1, seq=3)
    assert claim(back_to_back, WANG, NOW, other_posts=[morning]).state == ClaimState.CLAIMED
    with pytest.raises(Overlap):
        claim(new_post(starts=at(6, 11, 30), hours=1, seq=4), WANG, NOW, other_posts=[morning, back_to_back])
    cancel_post(morning, DESK, "改期", NOW)
    assert claim(clash, WANG, NOW, other_posts=[morning]).state == ClaimState.CLAIMED   # cancelled: not busy


def test_a_waitlist_place_keeps_the_time_busy_too():
    full = new_post(capacity=1, starts=at(6, 9), seq=1)
    claim(full, LI, NOW)
    claim(full, WANG, NOW, waitlist=True)
    with pytest.raises(Overlap):
        claim(new_post(starts=at(6, 10), seq=2), WANG, NOW, other_posts=[full])


# --- withdrawing, and the waitlist ----------------------------------------------------------


def test_withdrawal_allowed_up_to_the_cutoff_and_refused_after_it():
    post = new_post(starts=at(6, 9))
    c = claim(post, WANG, NOW)
    with pytest.raises(WithdrawTooLate) as late:
        withdraw(c, post, WANG, at(6, 6, 0, 1))             # 2 h 59 min 59 s before start
    assert late.value.key == "post.withdraw_too_late" and late.value.params["cutoff_hours"] == 3
    assert withdraw(c, post, WANG, at(6, 6)) is None       # exactly three hours before: still allowed
    assert c.state == ClaimState.WITHDRAWN and post.places_taken == 0


def test_withdrawal_cutoff_is_a_setting():
    post = new_post(starts=at(6, 9))
    c = claim(post, WANG, NOW)
    with pytest.raises(WithdrawTooLate):
        withdraw(c, post, WANG, at(5, 9, 0, 1), cutoff=timedelta(hours=24))
    withdraw(c, post, WANG, at(6, 8), cutoff=timedelta(hours=1))


def test_withdrawal_promotes_the_first_in_line_and_reopens_when_nobody_waits():
    post = new_post(capacity=1)
    wang = claim(post, WANG, NOW)
    li = claim(post, LI, NOW + timedelta(minutes=5), waitlist=True)
    zhao = claim(post, ZHAO, NOW + timedelta(minutes=1), waitlist=True)
    li.id, zhao.id = 2, 3
    promoted = withdraw(wang, post, WANG, at(2, 9), waitlist=[li, zhao])
    assert promoted is zhao and zhao.state == ClaimState.CLAIMED and zhao.claimed_at == at(2, 9)
    assert post.places_taken == 1 and post.state == PostState.FULL
    assert promoted.pending_events[-1].kind == "promoted"
    again = withdraw(zhao, post, ZHAO, at(2, 10), waitlist=[li, zhao])
    assert again is li
    assert withdraw(li, post, LI, at(2, 11), waitlist=[li]) is None
    assert post.places_taken == 0 and post.state == PostState.OPEN


def test_waitlist_order_breaks_ties_by_id_and_a_waitlisted_member_may_leave_until_start():
    post = new_post(capacity=1, starts=at(6, 9))
    claim(post, WANG, NOW)
    a = claim(post, LI, NOW, waitlist=True)
    b = claim(post, ZHAO, NOW, waitlist=True)
    a.id, b.id = 9, 4
    assert first_in_line([a, b]) is b
    assert withdraw(a, post, LI, at(6, 8, 59)) is None      # after the cut-off, but only waiting
    assert a.state == ClaimState.WITHDRAWN and post.places_taken == 1
    with pytest.raises(PostStarted):
        withdraw(b, post, ZHAO, at(6, 9))


def test_only_the_member_withdraws_their_claim_and_may_claim_again_later():
    post = new_post()
    c = claim(post, WANG, NOW)
    with pytest.raises(NotYourClaim):
        withdraw(c, post, LI, NOW)
    withdraw(c, post, WANG, NOW)
    with pytest.raises(WrongState):
        withdraw(c, post, WANG, NOW)
    again = claim(post, WANG, NOW + timedelta(hours=1), existing=c)
    assert again is c and c.state == ClaimState.CLAIMED and post.places_taken == 1


# --- on the day: check in, check out, confirm --------------------------------------------------


def test_check_in_window_and_photos():
    post = new_post(starts=at(6, 9))
    c = claim(post, WANG, NOW)
    with pytest.raises(NotYourClaim):
        check_in(c, post, LI, "sha-in", at(6, 9))
    with pytest.raises(CheckInTooEarly):
        check_in(c, post, WANG, "sha-in", at(6, 8, 29))
    with pytest.raises(CheckInTooLate):
        check_in(c, post, WANG, "sha-in", post.ends_at)
    with pytest.raises(PhotoRequired):
        check_in(c, post, WANG, " ", at(6, 9))
    check_in(c, post, WANG, "sha-in", at(6, 8, 30), lat=32.7, lon=116.7)
    assert c.state == ClaimState.CHECKED_IN and c.check_in_photo == "sha-in"
    with pytest.raises(PhotoReused):
        check_out(c, post, WANG, "sha-in", at(6, 10))
    with pytest.raises(PhotoRequired):
        check_out(c, post, WANG, "", at(6, 10))
    check_out(c, post, WANG, "sha-out", at(6, 10))
    assert c.state == ClaimState.CHECKED_OUT
    with pytest.raises(WrongState):
        check_in(c, post, WANG, "sha-x", at(6, 10))


def test_hours_come_from_check_in_and_out_capped_by_the_posts_length():
    post = new_post(starts=at(6, 9), hours=2)
    assert hours_served(checked_out(post, WANG, at(6, 9), at(6, 10, 30)), post) == timedelta(hours=1.5)
    assert hours_served(checked_out(post, LI, at(6, 8, 30), at(6, 11, 45)), post) == timedelta(hours=2)
    other = new_post(seq=2)
    c = claim(other, ZHAO, NOW)
    assert hours_served(c, other) == timedelta(0)           # never checked in
    check_in(c, other, ZHAO, "x", at(6, 9))
    assert hours_served(c, other) == timedelta(0)           # never checked out


def test_staff_check_out_a_member_who_forgot_once_the_post_has_ended():
    post = new_post(starts=at(6, 9), hours=2)                        # 09:00–11:00
    c = claim(post, WANG, NOW)
    check_in(c, post, WANG, "sha-in", at(6, 9, 20))
    for who in (WANG, LI, AUNTIE, staff(2, NEXT_DOOR)):             # only staff of the community
        with pytest.raises(NotAllowed):
            check_out_for(c, post, who, at(6, 12))
    with pytest.raises(NotEndedYet):
        check_out_for(c, post, DESK, at(6, 10, 59))
    assert c.state == ClaimState.CHECKED_IN and c.pending_events[-1].kind == "checked_in"
    check_out_for(c, post, DESK, at(6, 18))
    assert c.state == ClaimState.CHECKED_OUT
    assert c.checked_out_at == post.ends_at and c.check_out_photo is None
    assert hours_served(c, post) == timedelta(hours=1, minutes=40)   # end − check-in
    event = c.pending_events[-1]
    assert event.kind == "checked_out_by_staff" and event.actor_id == DESK.person_id
    assert event.after["by"] == DESK.person_id and event.after["state"] == "checked_out"
    with pytest.raises(WrongState):                                  # once only
        check_out_for(c, post, DESK, at(6, 18))
    confirm_service(c, post, DESK, at(6, 18, 5))
    assert c.state == ClaimState.CONFIRMED and c.served == timedelta(hours=1, minutes=40)


def test_staff_check_out_only_a_checked_in_claim_and_hours_stay_capped():
    post = new_post(starts=at(6, 9), hours=2)
    never_came = claim(post, LI, NOW)
    with pytest.raises(WrongState):
        check_out_for(never_came, post, DESK, at(6, 12))
    done = checked_out(post, WANG)
    with pytest.raises(WrongState):
        check_out_for(done, post, DESK, at(6, 12))
    early = new_post(starts=at(7, 9), hours=2, seq=2)
    c = claim(early, ZHAO, NOW)
    check_in(c, early, ZHAO, "sha-in", at(7, 8, 30))                 # came half an hour early
    check_out_for(c, early, DESK, at(7, 11))                         # the very end is enough
    assert hours_served(c, early) == timedelta(hours=2)              # capped by the post's length


def test_staff_or_the_ordering_resident_confirm_and_rate():
    order = _order()
    post = dispatch_order(order, DESK, NOW, number="DC-GW-2026-000009", title="换灯泡", starts_at=at(6, 9),
                          ends_at=at(6, 10), place="3号楼", capacity=2, points_per_person=3)
    c = checked_out(post, WANG)
    for who, o in ((resident(32), order), (LI, order), (staff(2, NEXT_DOOR), order), (AUNTIE, None)):
        with pytest.raises(NotAllowed):
            confirm_service(c, post, who, at(6, 11), rating=5, order=o)
    with pytest.raises(BadRating):
        confirm_service(c, post, AUNTIE, at(6, 11), order=order)     # a resident must rate
    for bad in (0, 6, True, 4.5):
        with pytest.raises(BadRating):
            confirm_service(c, post, AUNTIE, at(6, 11), rating=bad, order=order)
    confirm_service(c, post, AUNTIE, at(6, 11), rating=5, order=order)
    assert c.state == ClaimState.CONFIRMED and c.rating == 5 and c.served == timedelta(hours=1)
    with pytest.raises(WrongState):
        confirm_service(c, post, DESK, at(6, 11))
    other = claim(post, LI, NOW)
    with pytest.raises(WrongState):                                  # not checked out yet
        confirm_service(other, post, DESK, at(6, 11))


def test_staff_confirm_without_a_rating():
    post = new_post()
    c = checked_out(post, WANG)
    confirm_service(c, post, DESK, at(6, 12))
    assert c.state == ClaimState.CONFIRMED and c.rating is None


def test_posts_are_completed_after_they_end():
    post = new_post()
    with pytest.raises(NotAllowed):
        complete_post(post, WANG, at(7, 9))
    with pytest.raises(NotEndedYet):
        complete_post(post, None, at(6, 10))
    complete_post(post, None, post.ends_at)
    assert post.state == PostState.DONE


# --- no-shows and suspension ----------------------------------------------------------------


def test_two_no_shows_suspend_until_staff_lift_it():
    standing = Standing(21, HOME)
    first, second = new_post(seq=1, starts=at(6, 9)), new_post(seq=2, starts=at(13, 9))
    c1, c2 = claim(first, WANG, NOW), claim(second, WANG, NOW, other_posts=[first])
    with pytest.raises(NotStartedYet):
        mark_no_show(c1, first, standing, DESK, at(6, 8))
    with pytest.raises(NotAllowed):
        mark_no_show(c1, first, standing, LI, at(6, 10))
    mark_no_show(c1, first, standing, DESK, at(6, 10))
    assert c1.state == ClaimState.NO_SHOW and standing.no_shows == 1 and not standing.suspended
    assert claim(new_post(seq=3, starts=at(20, 9)), WANG, NOW, standing=standing).state == ClaimState.CLAIMED
    mark_no_show(c2, second, standing, DESK, at(13, 12))
    assert standing.suspended and standing.pending_events[-1].kind == "claims_suspended"
    with pytest.raises(Suspended) as refused:
        claim(new_post(seq=4, starts=at(27, 9)), WANG, NOW, standing=standing)
    assert refused.value.key == "post.suspended"
    with pytest.raises(NotAllowed):
        lift_suspension(standing, staff(2, NEXT_DOOR), at(14, 9))
    lift_suspension(standing, DESK, at(14, 9))
    assert not standing.suspended and standing.no_shows == 2      # kept, and recorded with the lift
    assert standing.pending_events[-1].after["no_shows"] == 2
    lift_suspension(standing, DESK, at(14, 9))                  # twice is once
    assert [e.kind for e in standing.pending_events].count("suspension_lifted") == 1
    assert claim(new_post(seq=5, starts=at(27, 9)), WANG, at(14, 9), standing=standing).state == ClaimState.CLAIMED


def test_no_show_limit_is_a_setting_and_a_checked_in_member_is_no_no_show():
    standing = Standing(21, HOME)
    post = new_post()
    c = claim(post, WANG, NOW)
    check_in(c, post, WANG, "x", post.starts_at)
    with pytest.raises(WrongState):
        mark_no_show(c, post, standing, DESK, post.ends_at)
    other = new_post(seq=2)
    c2 = claim(other, LI, NOW)
    strict = Standing(22, HOME)
    mark_no_show(c2, other, strict, DESK, other.ends_at, limit=1)
    assert strict.suspended


# --- quiet hours and reminders --------------------------------------------------------------


def test_quiet_hours_move_messages_to_seven_in_the_morning_across_midnight():
    assert next_allowed_moment(at(5, 23)) == at(6, 7)
    assert next_allowed_moment(at(5, 22)) == at(6, 7)            # the window includes 22:00
    assert next_allowed_moment(at(6, 3, 15)) == at(6, 7)
    assert next_allowed_moment(at(6, 7)) == at(6, 7)             # and excludes 07:00
    assert next_allowed_moment(at(5, 21, 59)) == at(5, 21, 59)
    assert next_allowed_moment(at(30, 23, 30)) == at(1, 7, month=7)  # across a month end
    new_year = datetime(2026, 12, 31, 23, 30, tzinfo=CHINA_TZ)
    assert next_allowed_moment(new_year) == datetime(2027, 1, 1, 7, 0, tzinfo=CHINA_TZ)
    utc = datetime(2026, 6, 5, 15, 0, tzinfo=timezone.utc)           # 23:00 in China
    assert next_allowed_moment(utc) == at(6, 7)
    assert next_allowed_moment(at(5, 13, 30), time(13), time(14)) == at(5, 14)   # a daytime window
    assert next_allowed_moment(at(5, 23), time(0), time(0)) == at(5, 23)         # no quiet hours
    with pytest.raises(ValueError):
        next_allowed_moment(datetime(2026, 6, 5, 23, 0))


def test_reminders_a_day_and_an_hour_before_respect_quiet_hours():
    post = new_post(starts=at(6, 10))
    assert [(r.kind, r.at) for r in reminders_for(post)] == [("day_before", at(5, 10)), ("hour_before", at(6, 9))]
    early = new_post(starts=at(6, 6), seq=2)
    # 06:00 the day before moves to 07:00; 05:00 on the day would move past the start: dropped
    assert [(r.kind, r.at) for r in reminders_for(early)] == [("day_before", at(5, 7))]
    day_before = reminders_for(post)[0]
    assert day_before.dedupe_key(21) == f"post:{post.number}:day_before:21"
    old = claim(post, WANG, at(1, 10))
    late = claim(post, LI, at(5, 12))                        # claimed after the day-before reminder
    assert reminder_recipients(day_before, [old, late]) == [21]
    assert reminder_recipients(reminders_for(post)[1], [old, late]) == [21, 22]


def test_events_are_recorded_for_every_change_of_a_post():
    post = new_post(capacity=1)
    c = claim(post, WANG, NOW)
    withdraw(c, post, WANG, NOW)
    assert [e.kind for e in post.pending_events] == ["post_created", "post_full", "place_freed"]
    assert [e.kind for e in c.pending_events] == ["claimed", "withdrawn"]
    assert c.pending_events[0].subject_id == f"{post.number}:21"
