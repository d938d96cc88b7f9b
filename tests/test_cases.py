"""The report loop as pure rules: who may move a case, from which state, and what is recorded."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core import cases
from core.cases import (
    Actor, BadRating, Case, CaseState, Category, ClosureReason, DescriptionTooLong, HandlerKind, MergeRefused,
    NoteRequired, NotYourCase, PhotoKind, PhotoRef, PhotoRequired, PhotoReused, ReasonRequired, TooManyPhotos,
    WrongState, case_number, is_claim_overdue, is_fixed, is_one_time_fix, is_overdue, recipients_of_outcome,
    should_auto_close,
)
from core.duplicates import cases_with_same_photo, hamming, looks_same, similar_open_cases
from core.errors import DomainError, NotAllowed, PlaceMismatch
from core.people import Role, RoleGrant, Roles
from core.places import Building, Community, Grid
from core.workdays import CHINA_TZ, WorkCalendar

NOW = datetime(2026, 3, 9, 10, 0, tzinfo=CHINA_TZ)          # a Monday morning
DEADLINE = WorkCalendar().add_working_days(NOW, 2)          # Wednesday 18:00

DONGCHENG = Community(7, 1, "东城社区", "DC")
XICHENG = Community(8, 1, "西城社区", "XC")
GRID = Grid(100, 10, "粮食局第一网格")
BUILDING_3 = Building(1000, 100, "3号楼", 32.7056, 116.7108)


def person(person_id: int, *grants: RoleGrant) -> Actor:
    return Actor(person_id, Roles(list(grants)))


WANG = person(1, RoleGrant(1, 1, Role.RESIDENT, community_id=7, building_id=1000))       # 王阿姨, reporter
ZHANG = person(6, RoleGrant(6, 6, Role.RESIDENT, community_id=7, building_id=1000))      # a neighbour
LI = person(2, RoleGrant(2, 2, Role.GRID_MEMBER, community_id=7, grid_id=100))          # 网格员
LIU = person(8, RoleGrant(8, 8, Role.GRID_MEMBER, community_id=7, grid_id=101))         # another grid's member
ZHAO = person(3, RoleGrant(3, 3, Role.STAFF, community_id=7))                           # community desk
XU = person(9, RoleGrant(9, 9, Role.STAFF, community_id=8))                             # another community's desk
CHEN = person(4, RoleGrant(4, 4, Role.DEPARTMENT, department_id=1))                     # 城管 contact
SUN = person(5)                                                                          # property company contact


def before(n: int = 1) -> PhotoRef:
    return PhotoRef(f"before{n}", PhotoKind.BEFORE, 1280, 960)


def during(n: int = 1) -> PhotoRef:
    return PhotoRef(f"during{n}", PhotoKind.DURING)


def after(n: int = 1) -> PhotoRef:
    return PhotoRef(f"after{n}", PhotoKind.AFTER)


def later(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def new_case(seq: int = 123, category: Category = Category.FIRE_LANE, reporter: Actor = WANG) -> Case:
    case = cases.submit(reporter, BUILDING_3, GRID, DONGCHENG, category, [before()], " 消防通道被车堵了 ",
                        NOW, DEADLINE, seq=seq, lat=32.7056, lon=116.7108)
    case.id = seq
    return case


def assigned_case(seq: int = 123) -> Case:
    return cases.assign(new_case(seq), LI.person_id, None, later(1))


def working_case(seq: int = 123) -> Case:
    return cases.accept(assigned_case(seq), LI, later(2))


def resolved_case(seq: int = 123) -> Case:
    return cases.resolve(working_case(seq), LI, after(), "已联系车主挪车", later(60))


def kinds(case: Case) -> list[str]:
    return [e.kind for e in case.pending_events]


def last(case: Case):
    return case.pending_events[-1]


# --- the number and the report ---------------------------------------------------------


def test_case_number_reads_like_the_articles():
    assert case_number("DC", 2026, 123) == "DC-2026-000123"
    assert case_number("dc", 2026, 1_234_567) == "DC-2026-1234567"
    with pytest.raises(ValueError):
        case_number("", 2026, 1)
    with pytest.raises(ValueError):
        case_number("DC", 2026, 0)


def test_a_resident_submits_a_report():
    case = new_case()
    assert case.number == "DC-2026-000123" and case.state == CaseState.SUBMITTED
    assert (case.reporter_id, case.community_id, case.grid_id, case.building_id) == (1, 7, 100, 1000)
    assert case.description == "消防通道被车堵了" and case.deadline == DEADLINE
    assert case.handler_id is None and case.handler_kind is None
    event = last(case)
    assert (event.subject_type, event.subject_id, event.kind, event.actor_id) == ("case", case.number, "submitted", 1)
    assert event.before is None and event.after["state"] == "submitted" and event.after["photos"] == ["before1"]


def test_the_case_year_is_chinas_year():
    new_year_in_shanghai = datetime(2026, 12, 31, 17, 0, tzinfo=CHINA_TZ) + timedelta(hours=8)
    case = cases.submit(WANG, BUILDING_3, GRID, DONGCHENG, Category.LIGHTS, [before()], "", new_year_in_shanghai,
                        new_year_in_shanghai + timedelta(days=3), seq=1)
    assert case.number == "DC-2027-000001"


def test_only_residents_submit_with_one_to_five_before_photos():
    with pytest.raises(NotAllowed):
        cases.submit(LI, BUILDING_3, GRID, DONGCHENG, Category.GARBAGE, [before()], "", NOW, DEADLINE, seq=1)
    with pytest.raises(PhotoRequired):
        cases.submit(WANG, BUILDING_3, GRID, DONGCHENG, Category.GARBAGE, [], "", NOW, DEADLINE, seq=1)
    with pytest.raises(PhotoRequired):
        cases.submit(WANG, BUILDING_3, GRID, DONGCHENG, Category.GARBAGE, [after()], "", NOW, DEADLINE, seq=1)
    with pytest.raises(TooManyPhotos):
        cases.submit(WANG, BUILDING_3, GRID, DONGCHENG, Category.GARBAGE, [before(n) for n in range(6)], "",
                     NOW, DEADLINE, seq=1)
    five = cases.submit(WANG, BUILDING_3, GRID, DONGCHENG, Category.GARBAGE, [before(n) for n in range(5)] + [before(0)],
                        "", NOW, DEADLINE, seq=1)
    assert len(five.photos) == 5          # the same file twice is one photo
    with pytest.raises(PlaceMismatch):
        cases.submit(WANG, Building(1001, 101, "4号楼"), GRID, DONGCHENG, Category.GARBAGE, [before()], "",
                     NOW, DEADLINE, seq=1)
    with pytest.raises(DescriptionTooLong):
        cases.submit(WANG, BUILDING_3, GRID, DONGCHENG, Category.GARBAGE, [before()], "字" * 501, NOW, DEADLINE, seq=1)


def test_domain_errors_carry_text_keys():
    err = WrongState("DC-2026-000123", CaseState.CLOSED, "resolve")
    assert isinstance(err, DomainError) and err.key == "case.wrong_state"
    assert err.params == {"number": "DC-2026-000123", "state": "closed", "action": "resolve"}
    assert NotYourCase("x").key == "case.not_yours"
    assert (PhotoRequired.key, NoteRequired.key, BadRating.key) == \
        ("case.photo_required", "case.note_required", "case.bad_rating")


# --- the full loop ---------------------------------------------------------------------


def test_the_full_loop_with_one_rework():
    case = new_case()
    cases.assign(case, LI.person_id, None, later(1))
    cases.accept(case, LI, later(2))
    cases.add_during_photo(case, LI, during(), later(30))
    cases.resolve(case, LI, after(1), "已联系车主挪车", later(60))
    cases.reject_fix(case, WANG, "车又停回来了", later(90))
    assert case.state == CaseState.REOPENED and case.handler_id == LI.person_id and case.rework_count == 1
    cases.resolve(case, LI, after(2), "已装隔离桩", later(24 * 60))
    cases.confirm(case, WANG, 5, later(25 * 60))
    assert case.state == CaseState.CLOSED and case.closure_reason == ClosureReason.FIXED and case.rating == 5
    assert is_fixed(case) and not is_one_time_fix(case)
    assert [p.kind.value for p in case.photos] == ["before", "during", "after", "after"]
    assert kinds(case) == ["submitted", "assigned", "accepted", "during_photo_added", "resolved", "fix_rejected",
                           "resolved", "confirmed"]
    assert [e.actor_id for e in case.pending_events] == [1, None, 2, 2, 2, 1, 2, 1]
    assert all(e.subject_id == case.number and e.subject_type == "case" for e in case.pending_events)
    assert case.updated_at == later(25 * 60) and case.closed_at == later(25 * 60)


def test_events_carry_state_before_and_after():
    case = working_case()
    cases.resolve(case, LI, after(), "已清理", later(60))
    event = last(case)
    assert event.before == {"state": "in_progress"}
    assert event.after == {"state": "resolved", "photo": "after1", "note": "已清理", "on_time": True}
    assert event.at == later(60) and event.actor_id == LI.person_id
    cases.confirm(case, WANG, 4, later(70))
    assert last(case).after == {"state": "closed", "closure_reason": "fixed", "rating": 4}


# --- assign ----------------------------------------------------------------------------


def test_routing_assigns_a_fresh_report():
    case = assigned_case()
    assert (case.state, case.handler_id, case.handler_kind) == (CaseState.ASSIGNED, 2, HandlerKind.GRID_MEMBER)
    assert last(case).before == {"state": "submitted", "handler_id": None, "handler_kind": None}
    assert last(case).after == {"state": "assigned", "handler_id": 2, "handler_kind": "grid_member"}


def test_staff_reassign_but_others_may_not_assign():
    case = working_case()
    with pytest.raises(NotAllowed):
        cases.assign(case, LIU.person_id, LI, later(5))      # a grid member cannot hand out work
    with pytest.raises(NotAllowed):
        cases.assign(case, LIU.person_id, XU, later(5))      # another community's desk
    with pytest.raises(WrongState):
        cases.assign(case, LIU.person_id, None, later(5))    # routing only handles fresh reports
    cases.assign(case, LIU.person_id, ZHAO, later(5))
    assert (case.state, case.handler_id, last(case).kind) == (CaseState.ASSIGNED, LIU.person_id, "reassigned")
    with pytest.raises(WrongState):
        cases.assign(resolved_case(), LIU.person_id, ZHAO, later(100))


# --- accept ----------------------------------------------------------------------------


def test_accept_is_for_the_assigned_grid_member_only():
    case = assigned_case()
    with pytest.raises(NotYourCase):
        cases.accept(case, LIU, later(2))
    with pytest.raises(NotYourCase):
        cases.accept(case, ZHAO, later(2))                   # staff reassign, they do not take it up
    cases.accept(case, LI, later(2))
    assert case.state == CaseState.IN_PROGRESS
    with pytest.raises(WrongState):
        cases.accept(case, LI, later(3))


# --- during photo ------------------------------------------------------------------------


def test_during_photos_are_optional_handler_only_and_in_progress():
    case = assigned_case()
    with pytest.raises(WrongState):
        cases.add_during_photo(case, LI, during(), later(3))
    cases.accept(case, LI, later(3))
    with pytest.raises(NotYourCase):
        cases.add_during_photo(case, WANG, during(), later(4))
    with pytest.raises(PhotoRequired):
        cases.add_during_photo(case, LI, after(), later(4))
    for n in range(5):
        cases.add_during_photo(case, LI, during(n), later(5 + n))
    with pytest.raises(TooManyPhotos):
        cases.add_during_photo(case, LI, during(9), later(20))
    assert case.state == CaseState.IN_PROGRESS and last(case).before == {"state": "in_progress"}


# --- resolve ---------------------------------------------------------------------------


def test_resolve_needs_the_handler_an_after_photo_and_a_note():
    case = working_case()
    with pytest.raises(NotYourCase):
        cases.resolve(case, LIU, after(), "done", later(10))
    with pytest.raises(PhotoRequired):
        cases.resolve(case, LI, None, "done", later(10))
    with pytest.raises(PhotoRequired):
        cases.resolve(case, LI, during(), "done", later(10))
    with pytest.raises(PhotoReused):
        cases.resolve(case, LI, PhotoRef("before1", PhotoKind.AFTER), "done", later(10))
    with pytest.raises(NoteRequired):
        cases.resolve(case, LI, after(), "   ", later(10))
    assert case.state == CaseState.IN_PROGRESS and len(case.photos) == 1   # nothing changed on refusal
    with pytest.raises(WrongState):
        cases.resolve(assigned_case(), LI, after(), "done", later(10))       # take it up first


# --- confirm, reject_fix, auto_close -----------------------------------------------------------


def test_confirm_by_the_reporter_with_a_rating_of_one_to_five():
    case = resolved_case()
    with pytest.raises(NotYourCase):
        cases.confirm(case, LI, 5, later(70))                # the handler cannot confirm their own fix
    for bad in (0, 6, True, 4.5, None):
        with pytest.raises(BadRating):
            cases.confirm(case, WANG, bad, later(70))  # type: ignore[arg-type]
    cases.confirm(case, WANG, 1, later(70))
    assert is_fixed(case) and case.rating == 1
    with pytest.raises(WrongState):
        cases.confirm(case, WANG, 5, later(71))


def test_only_the_first_reporter_answers_fixed_a_joiner_gives_feedback_that_changes_nothing():
    case = new_case()
    cases.join_me_too(case, ZHANG.person_id, later(1))
    cases.assign(case, LI.person_id, None, later(2))
    cases.accept(case, LI, later(3))
    with pytest.raises(WrongState):                         # nothing to give feedback on before the fix
        cases.add_feedback(case, ZHANG, True, later(3), rating=5)
    cases.resolve(case, LI, after(), "已清理", later(4))
    with pytest.raises(NotYourCase):
        cases.reject_fix(case, ZHANG, "没修好", later(5))
    with pytest.raises(NotYourCase):
        cases.confirm(case, ZHANG, 1, later(5))
    with pytest.raises(NotYourCase):                        # the reporter confirms; feedback is the joiners'
        cases.add_feedback(case, WANG, True, later(5), rating=5)
    with pytest.raises(NotYourCase):
        cases.add_feedback(case, LI, True, later(5), rating=5)
    cases.add_feedback(case, ZHANG, False, later(5), reason=cases.NotFixedReason.PARTLY, comment="只修了一半")
    assert case.state == CaseState.RESOLVED and case.rating is None and case.rework_count == 0
    assert last(case).kind == "supporter_feedback" and last(case).after == {
        "state": "resolved", "fixed": False, "rating": None, "reason": "partly", "comment": "只修了一半"}
    with pytest.raises(BadRating):
        cases.add_feedback(case, ZHANG, True, later(6), rating=9)
    cases.confirm(case, WANG, 4, later(6))
    cases.add_feedback(case, ZHANG, True, later(7), rating=2)   # after closing: still only feedback
    assert case.state == CaseState.CLOSED and case.rating == 4


def test_every_press_check_is_the_transitions_own_check():
    case = new_case()
    cases.assign(case, LI.person_id, None, later(1))
    with pytest.raises(WrongState):
        cases.check("resolve", case, LI)                    # not accepted yet
    with pytest.raises(NotYourCase):
        cases.check("accept", case, ZHANG)
    cases.check("accept", case, LI)
    cases.accept(case, LI, later(2))
    cases.check("resolve", case, LI)
    cases.resolve(case, LI, after(), "已清理", later(3))
    for action in ("resolve", "during", "accept", "escalate", "forward"):   # a stale handler button
        with pytest.raises(WrongState):
            cases.check(action, case, LI)
    cases.check("confirm", case, WANG)
    with pytest.raises(NotAllowed):
        cases.check("no_such_action", case, WANG)


def test_reject_fix_keeps_the_reason_and_the_words():
    case = resolved_case()
    cases.reject_fix(case, WANG, "  灯还是不亮 ", later(70), reason=cases.NotFixedReason.NOT_DONE)
    assert last(case).after["reason"] == "not_done" and last(case).after["comment"] == "灯还是不亮"


def test_reject_fix_sends_it_back_as_rework():
    case = resolved_case()
    with pytest.raises(NotYourCase):
        cases.reject_fix(case, LI, "", later(70))
    new_deadline = DEADLINE + timedelta(days=1)
    cases.reject_fix(case, WANG, "还是堵着", later(70), new_deadline=new_deadline)
    assert (case.state, case.rework_count, case.handler_id, case.deadline) == \
        (CaseState.REOPENED, 1, LI.person_id, new_deadline)
    assert last(case).before["rework_count"] == 0 and last(case).after["comment"] == "还是堵着"
    with pytest.raises(WrongState):
        cases.reject_fix(case, WANG, "again", later(71))
    cases.accept(case, LI, later(80))                         # a reopened case may be taken up again …
    assert case.state == CaseState.IN_PROGRESS


def test_a_reopened_case_may_be_resolved_directly():
    case = cases.reject_fix(resolved_case(), WANG, "", later(70))
    cases.resolve(case, LI, after(2), "重新处理", later(80))
    assert case.state == CaseState.RESOLVED


def test_auto_close_when_the_resident_does_not_answer():
    case = resolved_case()
    assert not should_auto_close(case, later(60 + 3 * 24 * 60 - 1), timedelta(days=3))
    assert should_auto_close(case, later(60 + 3 * 24 * 60), timedelta(days=3))
    cases.auto_close(case, later(60 + 3 * 24 * 60))
    assert is_fixed(case) and case.rating is None
    assert last(case).kind == "auto_closed" and last(case).actor_id is None and last(case).after["auto"] is True
    with pytest.raises(WrongState):
        cases.auto_close(working_case(), later(100))


# --- forward and "not mine" -----------------------------------------------------------------


def test_forward_to_the_property_company():
    case = working_case()
    with pytest.raises(NotYourCase):
        cases.forward(case, LIU, HandlerKind.PROPERTY, SUN.person_id, later(5))
    with pytest.raises(NotAllowed):
        cases.forward(case, LI, HandlerKind.STAFF, ZHAO.person_id, later(5))
    cases.forward(case, LI, HandlerKind.PROPERTY, SUN.person_id, later(5))
    assert (case.state, case.handler_id, case.handler_kind) == (CaseState.FORWARDED, 5, HandlerKind.PROPERTY)
    assert last(case).before["handler_id"] == LI.person_id and last(case).after["handler_kind"] == "property"
    with pytest.raises(NotYourCase):
        cases.accept(case, LI, later(6))                      # it is the property company's now
    cases.accept(case, SUN, later(6))
    cases.resolve(case, SUN, after(), "物业已清运", later(7))
    assert case.state == CaseState.RESOLVED
    with pytest.raises(WrongState):
        cases.forward(case, SUN, HandlerKind.DEPARTMENT, CHEN.person_id, later(8))


def test_staff_forward_from_the_desk():
    case = new_case()
    cases.forward(case, ZHAO, HandlerKind.DEPARTMENT, CHEN.person_id, later(1))
    assert case.state == CaseState.FORWARDED and case.handler_kind == HandlerKind.DEPARTMENT


def test_not_mine_puts_the_case_on_the_community_desk():
    case = assigned_case()
    with pytest.raises(NotYourCase):
        cases.decline_not_mine(case, LIU, later(2))
    cases.decline_not_mine(case, LI, later(2), "不是我的网格")
    assert (case.state, case.handler_id, case.handler_kind) == (CaseState.SUBMITTED, None, HandlerKind.STAFF)
    assert case.on_desk and last(case).after["declined_by"] == LI.person_id
    with pytest.raises(NotAllowed):
        cases.assign(case, LI.person_id, None, later(3))      # routing must not hand it straight back
    cases.assign(case, LIU.person_id, ZHAO, later(3))
    assert case.state == CaseState.ASSIGNED and not case.on_desk
    cases.accept(case, LIU, later(4))
    with pytest.raises(WrongState):
        cases.decline_not_mine(case, LIU, later(5))           # once taken up: forward or escalate instead


def test_routing_with_nobody_to_route_to_sends_the_case_to_the_desk():
    case = cases.send_to_desk(new_case(), later(1), "grid_without_member")
    assert case.on_desk and last(case).kind == "sent_to_desk" and last(case).actor_id is None
    with pytest.raises(WrongState):
        cases.send_to_desk(assigned_case(), later(2), "x")


# --- escalation ------------------------------------------------------------------------


def test_escalation_claim_and_resolve():
    case = working_case()
    claim_by, fix_by = later(24 * 60), later(5 * 24 * 60)
    with pytest.raises(NotYourCase):
        cases.escalate(case, WANG, CHEN.person_id, later(10), claim_by, fix_by)
    with pytest.raises(NotYourCase):
        cases.escalate(case, LIU, CHEN.person_id, later(10), claim_by, fix_by)
    cases.escalate(case, LI, CHEN.person_id, later(10), claim_by, fix_by)
    assert (case.state, case.handler_id, case.handler_kind) == (CaseState.ESCALATED, 4, HandlerKind.DEPARTMENT)
    assert (case.escalation_deadline, case.deadline) == (claim_by, fix_by)
    assert last(case).before["deadline"] == DEADLINE.isoformat()
    assert not is_claim_overdue(case, claim_by) and is_claim_overdue(case, claim_by + timedelta(seconds=1))
    with pytest.raises(NotYourCase):
        cases.claim_escalation(case, LI, later(20))           # the grid member blew the whistle, the department answers
    with pytest.raises(NotYourCase):
        cases.resolve(case, LI, after(), "done", later(20))
    with pytest.raises(WrongState):
        cases.resolve(case, CHEN, after(), "done", later(20))  # claim first
    cases.claim_escalation(case, CHEN, later(20))
    assert case.state == CaseState.IN_PROGRESS and case.handler_id == CHEN.person_id
    assert last(case).after == {"state": "in_progress", "in_time": True}
    with pytest.raises(WrongState):
        cases.claim_escalation(case, CHEN, later(21))
    with pytest.raises(PhotoRequired):
        cases.resolve(case, CHEN, None, "已处理", later(30))
    cases.resolve(case, CHEN, after(), "城管已拖车", later(30))
    cases.confirm(case, WANG, 5, later(40))
    assert is_fixed(case)


def test_staff_escalate_and_a_late_claim_is_recorded():
    case = assigned_case()
    cases.escalate(case, ZHAO, CHEN.person_id, later(10), later(60), later(120))
    cases.claim_escalation(case, CHEN, later(61))
    assert last(case).after["in_time"] is False
    with pytest.raises(WrongState):
        cases.escalate(resolved_case(), ZHAO, CHEN.person_id, later(100), later(160), later(220))
    with pytest.raises(ValueError):
        cases.escalate(assigned_case(), ZHAO, CHEN.person_id, later(10), later(120), later(60))


def test_a_forwarded_handler_cannot_escalate_but_staff_can():
    case = cases.forward(working_case(), LI, HandlerKind.PROPERTY, SUN.person_id, later(5))
    with pytest.raises(NotYourCase):
        cases.escalate(case, SUN, CHEN.person_id, later(10), later(60), later(120))
    cases.escalate(case, ZHAO, CHEN.person_id, later(10), later(60), later(120))
    assert case.state == CaseState.ESCALATED


# --- rejection ------------------------------------------------------------------------


def test_reject_report_needs_a_reason_and_never_counts_as_fixed():
    case = working_case()
    with pytest.raises(NotYourCase):
        cases.reject_report(case, WANG, "不是问题", later(5))
    with pytest.raises(ReasonRequired):
        cases.reject_report(case, LI, " ", later(5))
    cases.reject_report(case, LI, "车辆为临时停靠", later(5))
    assert (case.state, case.closure_reason, case.closure_note) == \
        (CaseState.REJECTED, ClosureReason.NOT_A_PROBLEM, "车辆为临时停靠")
    assert not is_fixed(case) and last(case).after["closure_reason"] == "not_a_problem"
    with pytest.raises(WrongState):
        cases.reject_report(case, LI, "again", later(6))
    with pytest.raises(WrongState):
        cases.reject_report(resolved_case(), LI, "late", later(100))


def test_staff_reject_with_another_non_fix_reason():
    case = cases.reject_report(new_case(), ZHAO, "属于市政管网，已告知居民", later(5),
                               closure_reason=ClosureReason.NOT_OUR_RESPONSIBILITY)
    assert case.closure_reason == ClosureReason.NOT_OUR_RESPONSIBILITY and not is_fixed(case)
    with pytest.raises(ValueError):
        cases.reject_report(new_case(), ZHAO, "x", later(5), closure_reason=ClosureReason.FIXED)


def test_statistics_count_only_confirmed_fixes():
    fixed = cases.confirm(resolved_case(), WANG, 5, later(70))
    auto = cases.auto_close(resolved_case(), later(5000))
    rejected = cases.reject_report(working_case(), LI, "不是问题", later(5))
    cannot = cases.reject_report(working_case(), ZHAO, "需大修，列入计划", later(5),
                                 closure_reason=ClosureReason.CANNOT_FIX_NOW)
    merged = cases.merge(new_case(seq=200), working_case(), ZHAO, later(5))
    still_open, waiting = working_case(), resolved_case()
    assert [is_fixed(c) for c in (fixed, auto, rejected, cannot, merged, still_open, waiting)] == \
        [True, True, False, False, False, False, False]
    assert is_one_time_fix(fixed) and is_one_time_fix(auto)


# --- merge and "same problem" -------------------------------------------------------------------


def test_merge_moves_the_reporters_into_the_surviving_case():
    survivor = working_case()
    duplicate = new_case(seq=124, reporter=ZHANG)
    cases.join_me_too(duplicate, 11, later(1))
    cases.join_me_too(duplicate, WANG.person_id, later(2))      # the survivor's own reporter
    with pytest.raises(NotYourCase):
        cases.merge(duplicate, survivor, LI, later(5))          # not Li's case yet, and Li is not staff
    cases.merge(duplicate, survivor, ZHAO, later(5))
    assert (duplicate.state, duplicate.closure_reason, duplicate.merged_into) == \
        (CaseState.MERGED, ClosureReason.DUPLICATE, survivor.id)
    assert survivor.me_too == [ZHANG.person_id, 11]
    assert recipients_of_outcome(survivor) == [WANG.person_id, ZHANG.person_id, 11]
    assert last(duplicate).after["merged_into"] == survivor.number
    assert last(survivor).kind == "duplicate_merged_in" and last(survivor).after["from"] == duplicate.number
    assert last(survivor).before["me_too"] == [] and survivor.state == CaseState.IN_PROGRESS


def test_merge_refusals():
    with pytest.raises(MergeRefused):
        case = working_case()
        cases.merge(case, case, ZHAO, later(5))
    other_community = cases.submit(
        person(12, RoleGrant(12, 12, Role.RESIDENT, community_id=8)), Building(2000, 200, "西1栋"),
        Grid(200, 20, "西苑网格"), XICHENG, Category.FIRE_LANE, [before()], "", NOW, DEADLINE, seq=1)
    with pytest.raises(MergeRefused):
        cases.merge(working_case(), other_community, LI, later(5))
    with pytest.raises(WrongState):
        cases.merge(working_case(1), cases.confirm(resolved_case(2), WANG, 5, later(70)), LI, later(80))
    with pytest.raises(WrongState):
        cases.merge(resolved_case(1), working_case(2), LI, later(80))


def test_join_me_too():
    case = new_case()
    cases.join_me_too(case, ZHANG.person_id, later(1))
    cases.join_me_too(case, ZHANG.person_id, later(2))         # pressed twice
    cases.join_me_too(case, WANG.person_id, later(3))          # the reporter
    assert case.me_too == [ZHANG.person_id] and kinds(case) == ["submitted", "me_too_joined"]
    assert last(case).actor_id == ZHANG.person_id and last(case).after["me_too"] == [ZHANG.person_id]
    assert recipients_of_outcome(case) == [WANG.person_id, ZHANG.person_id]
    with pytest.raises(WrongState):
        cases.join_me_too(resolved_case(), ZHANG.person_id, later(100))


# --- overdue ---------------------------------------------------------------------------


def test_overdue_means_still_open_after_the_deadline():
    case = working_case()
    assert not is_overdue(case, DEADLINE) and is_overdue(case, DEADLINE + timedelta(seconds=1))
    cases.resolve(case, LI, after(), "done", DEADLINE + timedelta(hours=1))
    assert last(case).after["on_time"] is False
    assert not is_overdue(case, DEADLINE + timedelta(days=1))   # now waiting on the resident


# --- duplicates ------------------------------------------------------------------------------


def test_similar_open_cases_same_building_or_close_by():
    here = new_case(seq=1)                                     # 3号楼
    near = new_case(seq=2)
    near.building_id, near.lat, near.lon = 1001, 32.7060, 116.7108       # about 45 m north
    far = new_case(seq=3)
    far.building_id, far.lat, far.lon = 1002, 32.7080, 116.7108          # about 270 m
    other_kind = new_case(seq=4, category=Category.GARBAGE)
    old = new_case(seq=5)
    old.created_at = NOW - timedelta(hours=49)
    done = cases.reject_report(new_case(seq=6), ZHAO, "不是问题", later(1))
    extra = new_case(seq=7)
    extra.created_at = NOW - timedelta(hours=1)               # same building, a little older
    pool = [far, near, other_kind, old, done, extra, here]
    found = similar_open_cases(pool, Category.FIRE_LANE, 1000, 32.7056, 116.7108, later(10))
    assert [c.number for c in found] == ["DC-2026-000001", "DC-2026-000007", "DC-2026-000002"]
    assert len(similar_open_cases(pool, Category.FIRE_LANE, None, 32.7056, 116.7108, later(10), limit=5)) == 3
    assert similar_open_cases(pool, Category.FIRE_LANE, 999, None, None, later(10)) == []


def test_photo_hashes_compare_bitwise():
    a = 0xF0F0_F0F0_F0F0_F0F0
    assert hamming(a, a) == 0 and hamming(a, a ^ 0b111) == 3 and hamming(0, (1 << 64) - 1) == 64
    assert hamming(-1, (1 << 64) - 1) == 0                      # a signed BIGINT from storage is the same hash
    assert looks_same(a, a ^ 0b111111) and not looks_same(a, a ^ 0b1111111)
    with pytest.raises(ValueError):
        hamming(1 << 64, 0)
    case = new_case()
    case.photos[0] = PhotoRef("before1", PhotoKind.BEFORE, dhash=a)
    assert cases_with_same_photo(a ^ 0b11, [case, new_case(seq=2)]) == [case]


# --- reopening an auto-closed case ("not fixed after all", as FixMyStreet users ask) -----------

def test_the_reporter_reopens_an_auto_closed_case_within_the_window_back_to_the_same_handler():
    closed_at = later(60 + 3 * 24 * 60)
    case = cases.auto_close(resolved_case(), closed_at)
    within = timedelta(days=7)
    with pytest.raises(NotYourCase):
        cases.reopen_after_auto_close(case, ZHANG, closed_at + timedelta(days=1), within=within)
    with pytest.raises(NotYourCase):
        cases.reopen_after_auto_close(case, LI, closed_at + timedelta(days=1), within=within)
    with pytest.raises(cases.ReopenTooLate):
        cases.reopen_after_auto_close(case, WANG, closed_at + within + timedelta(seconds=1), within=within)
    cases.reopen_after_auto_close(case, WANG, closed_at + within, within=within)
    assert case.state == CaseState.REOPENED and case.handler_id == LI.person_id and case.rework_count == 1
    assert case.closure_reason is None and case.closed_at is None and not is_fixed(case)
    event = last(case)
    assert event.kind == "reopened_after_auto_close" and event.actor_id == WANG.person_id
    assert event.before["state"] == "closed" and event.after == {"state": "reopened", "rework_count": 1}


def test_a_case_the_resident_confirmed_or_that_was_rejected_is_not_reopened_this_way():
    confirmed = cases.confirm(resolved_case(), WANG, 5, later(100))
    with pytest.raises(WrongState):
        cases.reopen_after_auto_close(confirmed, WANG, later(200), within=timedelta(days=7))
    with pytest.raises(WrongState):
        cases.reopen_after_auto_close(resolved_case(), WANG, later(200), within=timedelta(days=7))
