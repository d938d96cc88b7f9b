"""Points (积分): an append-only ledger; never negative; a monthly leaderboard per community."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from core.cases import Actor, Case, CaseState, Category, ClosureReason
from core.errors import NotAllowed
from core.people import Role, RoleGrant, Roles
from core.points import (
    DEFAULT_REPORT_POINTS, AlreadyCredited, BadAmount, ItemRequired, Ledger, LeaderboardRow, NotEnoughPoints,
    PointsEntry, PointsReason, balance, correct, earn, month_bounds, monthly_leaderboard, points_for_report,
    points_for_service, report_ref, service_ref, spend,
)
from core.volunteering.common import ClaimState, PostState
from core.volunteering.posts import Claim, Post
from core.workdays import CHINA_TZ

HOME, NEXT_DOOR = 7, 8
DESK = Actor(1, Roles([RoleGrant(None, 1, Role.STAFF, community_id=HOME)]))
OTHER_DESK = Actor(2, Roles([RoleGrant(None, 2, Role.STAFF, community_id=NEXT_DOOR)]))
WANG = 21


def at(m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(2026, m, d, hh, mm, tzinfo=CHINA_TZ)


NOW = at(6, 10)


def test_earn_and_balance_per_person_and_community():
    ledger = Ledger()
    earn(ledger, WANG, HOME, 10, PointsReason.SERVICE, "claim:1", NOW)
    earn(ledger, WANG, HOME, 5, "report", "case:1", NOW)
    earn(ledger, WANG, NEXT_DOOR, 7, PointsReason.SERVICE, "claim:2", NOW)
    earn(ledger, 22, HOME, 3, PointsReason.SERVICE, "claim:1", NOW)
    assert ledger.balance(WANG, HOME) == 15 and ledger.balance(WANG, NEXT_DOOR) == 7
    assert balance(ledger.entries) == 25 and balance(ledger.entries, person_id=WANG) == 22
    assert balance(ledger.entries, community_id=HOME) == 18
    assert len(ledger.pending) == 4 and [e.kind for e in ledger.pending_events] == ["points_earned"] * 4
    assert ledger.pending_events[1].before == {"balance": 10} and ledger.pending_events[1].after["balance"] == 15


def test_the_same_earning_is_credited_once():
    ledger = Ledger([PointsEntry(WANG, HOME, 10, PointsReason.SERVICE, "claim:1", NOW, id=1)])
    with pytest.raises(AlreadyCredited) as twice:
        earn(ledger, WANG, HOME, 10, PointsReason.SERVICE, "claim:1", NOW)
    assert twice.value.key == "points.already_credited"
    earn(ledger, WANG, HOME, 2, PointsReason.REPORT, "claim:1", NOW)      # another reason is another earning
    assert ledger.balance(WANG, HOME) == 12


def test_bad_amounts_are_refused():
    ledger = Ledger()
    for bad in (0, -3, True, 2.5):
        with pytest.raises(BadAmount):
            earn(ledger, WANG, HOME, bad, PointsReason.SERVICE, f"x{bad}", NOW)
    with pytest.raises(ValueError):
        earn(ledger, WANG, HOME, 5, PointsReason.REDEMPTION, "sneaky", NOW)
    assert ledger.entries == ()


def test_spending_never_takes_a_balance_below_zero():
    ledger = Ledger()
    earn(ledger, WANG, HOME, 10, PointsReason.SERVICE, "claim:1", NOW)
    with pytest.raises(NotEnoughPoints) as refused:
        spend(ledger, DESK, WANG, HOME, 11, "洗衣液", NOW, ref="r1")
    assert refused.value.key == "points.not_enough" and refused.value.params == {"balance": 10, "wanted": 11}
    entry = spend(ledger, DESK, WANG, HOME, 10, "洗衣液", NOW, ref="r1")
    assert entry.delta == -10 and entry.note == "洗衣液" and entry.by == 1
    assert ledger.balance(WANG, HOME) == 0
    with pytest.raises(NotEnoughPoints):
        spend(ledger, DESK, WANG, HOME, 1, "毛巾", NOW, ref="r2")
    earn(ledger, WANG, HOME, 5, PointsReason.SERVICE, "claim:2", NOW)
    with pytest.raises(AlreadyCredited):                                 # the same receipt pressed twice
        spend(ledger, DESK, WANG, HOME, 1, "洗衣液", NOW, ref="r1")
    assert ledger.balance(WANG, HOME) == 5
    with pytest.raises(AlreadyCredited):  # a repeat is named as one even when the rest could not pay for it
        spend(ledger, DESK, WANG, HOME, 10, "洗衣液", NOW, ref="r1")


def test_points_at_one_community_cannot_be_spent_at_another():
    ledger = Ledger()
    earn(ledger, WANG, NEXT_DOOR, 50, PointsReason.SERVICE, "claim:1", NOW)
    with pytest.raises(NotEnoughPoints):
        spend(ledger, DESK, WANG, HOME, 5, "大米", NOW, ref="r1")


def test_only_staff_of_the_community_record_a_redemption_and_name_the_item():
    ledger = Ledger([PointsEntry(WANG, HOME, 10, PointsReason.SERVICE, "claim:1", NOW)])
    member = Actor(WANG, Roles([RoleGrant(None, WANG, Role.PARTY_MEMBER, community_id=HOME)]))
    for who in (member, OTHER_DESK):
        with pytest.raises(NotAllowed):
            spend(ledger, who, WANG, HOME, 5, "大米", NOW, ref="r1")
    with pytest.raises(ItemRequired):
        spend(ledger, DESK, WANG, HOME, 5, "  ", NOW, ref="r1")
    with pytest.raises(BadAmount):
        spend(ledger, DESK, WANG, HOME, -5, "大米", NOW, ref="r1")      # a negative spend would be an earning
    assert ledger.balance(WANG, HOME) == 10


def test_the_ledger_is_append_only_and_a_mistake_is_corrected_once():
    ledger = Ledger()
    wrong = earn(ledger, WANG, HOME, 8, PointsReason.REPORT, "case:DC-2026-000001", NOW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        wrong.delta = 80                                                 # type: ignore[misc]
    assert not hasattr(ledger, "remove") and isinstance(ledger.entries, tuple)
    with pytest.raises(NotAllowed):
        correct(ledger, OTHER_DESK, wrong, "重复积分", NOW)
    with pytest.raises(ItemRequired):
        correct(ledger, DESK, wrong, "", NOW)
    reversal = correct(ledger, DESK, wrong, "重复积分", NOW)
    assert reversal.delta == -8 and reversal.reason == PointsReason.CORRECTION
    assert ledger.balance(WANG, HOME) == 0 and len(ledger.entries) == 2
    with pytest.raises(AlreadyCredited):
        correct(ledger, DESK, wrong, "重复积分", NOW)


def test_a_correction_after_the_points_were_spent_is_refused():
    ledger = Ledger()
    e = earn(ledger, WANG, HOME, 8, PointsReason.SERVICE, "claim:1", NOW)
    spend(ledger, DESK, WANG, HOME, 5, "毛巾", NOW, ref="r1")
    with pytest.raises(NotEnoughPoints):
        correct(ledger, DESK, e, "记错了", NOW)
    assert ledger.balance(WANG, HOME) == 3


def test_history_is_newest_first():
    ledger = Ledger()
    earn(ledger, WANG, HOME, 8, PointsReason.SERVICE, "claim:1", at(6, 1))
    spend(ledger, DESK, WANG, HOME, 5, "毛巾", at(6, 3), ref="r1")
    earn(ledger, WANG, HOME, 2, PointsReason.REPORT, "case:1", at(6, 2))
    assert [e.ref for e in ledger.history(WANG, HOME)] == ["r1", "case:1", "claim:1"]


# --- what earns points ---------------------------------------------------------------------


def _case(state: CaseState, reason: ClosureReason | None, category: Category = Category.FIRE_LANE) -> Case:
    return Case(id=1, number="DC-2026-000001", reporter_id=31, community_id=HOME, grid_id=1, building_id=1,
                category=category, description="", photos=[], state=state, deadline=NOW, created_at=NOW,
                updated_at=NOW, closure_reason=reason)


def test_report_points_per_category_for_fixed_reports_only():
    fixed = _case(CaseState.CLOSED, ClosureReason.FIXED)
    assert points_for_report(fixed) == DEFAULT_REPORT_POINTS["fire_lane"] == 2
    table = {"fire_lane": 5, "default": 1}
    assert points_for_report(fixed, table) == 5
    assert points_for_report(_case(CaseState.CLOSED, ClosureReason.FIXED, Category.FLYERS), table) == 1
    assert points_for_report(_case(CaseState.CLOSED, ClosureReason.FIXED, Category.FLYERS), {"noise": 3}) == 0
    assert points_for_report(_case(CaseState.REJECTED, ClosureReason.NOT_A_PROBLEM), table) == 0
    assert points_for_report(_case(CaseState.MERGED, ClosureReason.DUPLICATE), table) == 0
    assert points_for_report(_case(CaseState.RESOLVED, None), table) == 0
    assert report_ref(fixed) == "case:DC-2026-000001"


def test_service_points_only_once_confirmed():
    post = Post(1, "DC-GW-2026-000001", HOME, "t", at(6, 20, 9), at(6, 20, 11), "p", 2, 6, PostState.OPEN, NOW, NOW)
    c = Claim(1, post.number, WANG, ClaimState.CHECKED_OUT, NOW, NOW)
    assert points_for_service(c, post) == 0
    c.state = ClaimState.CONFIRMED
    assert points_for_service(c, post) == 6 and service_ref(c) == "claim:DC-GW-2026-000001:21"


# --- the monthly leaderboard ---------------------------------------------------------------------


def entry(person: int, delta: int, when: datetime, reason=PointsReason.SERVICE, community: int = HOME,
          ref=None) -> PointsEntry:
    return PointsEntry(person, community, delta, reason, ref or f"{person}:{when.isoformat()}:{delta}", when)


def test_leaderboard_order_and_ties_share_a_rank():
    entries = [
        entry(1, 10, at(6, 1)), entry(2, 8, at(6, 2)), entry(3, 8, at(6, 1)), entry(4, 5, at(6, 5)),
        entry(5, 3, at(6, 6)),
        entry(1, -10, at(6, 7), PointsReason.REDEMPTION),          # spending does not cost a place
        entry(6, 50, at(6, 3), community=NEXT_DOOR),               # another community
        entry(7, 99, at(5, 31, 23, 59)), entry(7, 99, at(7, 1, 0, 0)),  # other months
    ]
    board = monthly_leaderboard(entries, HOME, 2026, 6)
    # 3 and 2 tie on 8: both rank 2, and 3 reached 8 first; the next rank is 4
    assert board == [LeaderboardRow(1, 1, 10), LeaderboardRow(2, 3, 8), LeaderboardRow(2, 2, 8),
                     LeaderboardRow(4, 4, 5), LeaderboardRow(5, 5, 3)]


def test_leaderboard_top_keeps_everyone_tied_at_the_last_rank():
    entries = [entry(1, 10, at(6, 1)), entry(2, 8, at(6, 2)), entry(3, 8, at(6, 3)), entry(4, 1, at(6, 4))]
    assert [r.person_id for r in monthly_leaderboard(entries, HOME, 2026, 6, top=2)] == [1, 2, 3]
    assert [r.person_id for r in monthly_leaderboard(entries, HOME, 2026, 6, top=1)] == [1]
    assert monthly_leaderboard(entries, HOME, 2026, 6, top=0) == []


def test_leaderboard_ties_on_the_same_moment_fall_back_to_person_id_and_corrections_count():
    entries = [entry(9, 5, at(6, 1)), entry(4, 5, at(6, 1)), entry(5, 6, at(6, 1)),
               entry(5, -6, at(6, 2), PointsReason.CORRECTION)]
    assert monthly_leaderboard(entries, HOME, 2026, 6) == [LeaderboardRow(1, 4, 5), LeaderboardRow(1, 9, 5)]


def test_leaderboard_months_are_china_time():
    late_june_utc = datetime(2026, 6, 30, 16, 30, tzinfo=timezone.utc)     # 1 July 00:30 in China
    entries = [entry(1, 5, late_june_utc), entry(2, 4, datetime(2026, 6, 30, 15, 59, tzinfo=timezone.utc))]
    assert [r.person_id for r in monthly_leaderboard(entries, HOME, 2026, 7)] == [1]
    assert [r.person_id for r in monthly_leaderboard(entries, HOME, 2026, 6)] == [2]


def test_month_bounds_across_december_and_february():
    assert month_bounds(2026, 12) == (at(12, 1, 0), datetime(2027, 1, 1, tzinfo=CHINA_TZ))
    start, end = month_bounds(2026, 2)
    assert end - start == timedelta(days=28)
    start, end = month_bounds(2028, 2)
    assert end - start == timedelta(days=29)
