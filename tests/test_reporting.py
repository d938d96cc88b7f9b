"""The report loop's services on SQLite and PostgreSQL: routing, the whole loop, refusals, the clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from core import cases_services
from core.cases import Actor, CaseState, Category, ClosureReason, NotYourCase, PhotoKind, PhotoRef, WrongState
from core.onboarding import roles_of
from core.people import Role, RoleGrant
from core.cases_services import ReportPolicy
from core.workdays import WorkCalendar
from storage import tables
from tests.factories import add_person, seed_world, staff_of

# Monday 2026-11-23 10:00 in Shanghai
MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
POLICY = ReportPolicy(calendar=WorkCalendar())


def photo(n: int, kind: PhotoKind = PhotoKind.BEFORE) -> PhotoRef:
    return PhotoRef(f"{n:064x}", kind, 1600, 1200, dhash=n * 7919)


async def outbox(db, kind: str | None = None) -> list:
    async with db.engine.connect() as conn:
        stmt = select(tables.outbox)
        if kind:
            stmt = stmt.where(tables.outbox.c.kind == kind)
        return list(await conn.execute(stmt.order_by(tables.outbox.c.id)))


@pytest.fixture
async def town(db):
    async with db.uow() as uow:
        w = await seed_world(uow)
        dc = w.communities["东城社区"]
        await add_person(uow, w, "wang", "王阿姨", RoleGrant(None, 0, Role.RESIDENT, community_id=dc.id,
                                                           building_id=w.buildings["3号楼"].id))
        await add_person(uow, w, "zhao", "赵大爷", RoleGrant(None, 0, Role.RESIDENT, community_id=dc.id,
                                                           building_id=w.buildings["2号楼"].id))
        await add_person(uow, w, "li", "李网格", RoleGrant(None, 0, Role.GRID_MEMBER, grid_id=w.grids["粮食局第一网格"].id))
        await add_person(uow, w, "hu", "胡网格", RoleGrant(None, 0, Role.GRID_MEMBER, grid_id=w.grids["东城花园网格"].id))
        await add_person(uow, w, "chen", "陈书记", staff_of(dc))
        await add_person(uow, w, "cg", "城管老刘", RoleGrant(None, 0, Role.DEPARTMENT))
    w.db = db
    return w


async def actor(db, person) -> Actor:
    async with db.uow() as uow:
        return Actor(person.id, await roles_of(uow, person))


async def report(town, who="wang", building="3号楼", category=Category.LIGHTS, now=MONDAY, photos=(1,)):
    async with town.db.uow() as uow:
        case = await cases_services.report_problem(uow, POLICY, await actor(town.db, town.people[who]),
                                                   town.buildings[building].id, category,
                                                   [photo(n) for n in photos], "楼道灯坏了", now)
        await uow.commit()
    return case


async def do(town, service, who, *args, now=MONDAY):
    async with town.db.uow() as uow:
        result = await service(uow, await actor(town.db, town.people[who]), *args, now)
        await uow.commit()
    return result


async def test_report_is_numbered_routed_and_due_in_two_working_days(town):
    case = await report(town)
    assert case.number == "DC-2026-000001"
    assert case.state == CaseState.ASSIGNED and case.handler_id == town.people["li"].id
    # Monday 10:00 → Wednesday 18:00 Shanghai
    assert case.deadline == datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
    second = await report(town, who="zhao", building="2号楼", category=Category.GARBAGE)
    assert second.number == "DC-2026-000002"
    rows = await outbox(town.db, "case.new_for_handler")
    assert [r.person_id for r in rows] == [town.people["li"].id, town.people["li"].id]
    assert rows[0].payload["case"] == case.number


async def test_report_in_a_grid_without_member_goes_to_the_desk(town):
    case = await report(town, building="4号楼")  # 粮食局第二网格 has nobody
    assert case.state == CaseState.SUBMITTED and case.on_desk
    rows = await outbox(town.db, "case.on_desk")
    assert [r.person_id for r in rows] == [town.people["chen"].id]


async def test_the_whole_loop_with_rework(town):
    case = await report(town)
    n = case.number
    await do(town, cases_services.accept_case, "li", n)
    await do(town, cases_services.add_during_photo, "li", n, photo(2, PhotoKind.DURING))
    await do(town, cases_services.resolve_case, "li", n, photo(3, PhotoKind.AFTER), "换了灯泡")
    await do(town, cases_services.reject_fix, "wang", n, "还是不亮")
    await do(town, cases_services.accept_case, "li", n)
    await do(town, cases_services.resolve_case, "li", n, photo(4, PhotoKind.AFTER), "换了开关")
    closed = await do(town, cases_services.confirm_fix, "wang", n, 5)
    assert closed.state == CaseState.CLOSED and closed.closure_reason == ClosureReason.FIXED
    assert closed.rating == 5 and closed.rework_count == 1
    async with town.db.uow() as uow:
        stored = await uow.cases.by_number(n)
        kinds = [e.kind for e in await uow.events.of("case", n)]
    assert [p.kind for p in stored.photos] == ["before", "during", "after", "after"]
    assert kinds == ["submitted", "assigned", "accepted", "during_photo_added", "resolved", "fix_rejected",
                     "accepted", "resolved", "confirmed"]
    assert len(await outbox(town.db, "case.resolved")) == 2  # once per resolution, rework included
    assert [r.person_id for r in await outbox(town.db, "case.confirmed")] == [town.people["li"].id]


async def test_other_grid_member_and_wrong_moment_are_refused_and_nothing_changes(town):
    case = await report(town)
    with pytest.raises(NotYourCase):
        await do(town, cases_services.accept_case, "hu", case.number)  # another grid's member
    with pytest.raises(WrongState):
        await do(town, cases_services.confirm_fix, "wang", case.number, 5)
    async with town.db.uow() as uow:
        again = await uow.cases.by_number(case.number)
    assert again.state == CaseState.ASSIGNED


async def test_escalation_is_claimed_and_fixed_by_the_department(town):
    case = await report(town, category=Category.PARKING)
    async with town.db.uow() as uow:
        escalated = await cases_services.escalate_case(uow, POLICY, await actor(town.db, town.people["chen"]),
                                                       case.number, town.people["cg"].id, MONDAY)
        await uow.commit()
    assert escalated.state == CaseState.ESCALATED
    assert escalated.escalation_deadline == MONDAY + timedelta(hours=24)
    with pytest.raises(NotYourCase):
        await do(town, cases_services.claim_escalation, "li", case.number)
    await do(town, cases_services.claim_escalation, "cg", case.number)
    done = await do(town, cases_services.resolve_case, "cg", case.number, photo(9, PhotoKind.AFTER), "已拖走车辆")
    assert done.state == CaseState.RESOLVED
    assert [r.person_id for r in await outbox(town.db, "case.escalated_to_you")] == [town.people["cg"].id]


async def test_same_problem_joins_and_merge_tells_everyone(town):
    first = await report(town)
    async with town.db.uow() as uow:
        similar = await cases_services.similar_cases(uow, POLICY, town.buildings["2号楼"].id, Category.LIGHTS, MONDAY)
    assert [c.number for c in similar] == [first.number]  # 2号楼 is ~50 m from 3号楼
    second = await report(town, who="zhao", building="2号楼")
    rows = await outbox(town.db, "case.new_for_handler")
    assert rows[-1].payload["duplicate_of"] == first.number  # flagged to the handler
    into = await do(town, cases_services.merge_cases, "li", second.number, first.number)
    assert town.people["zhao"].id in into.me_too
    await do(town, cases_services.accept_case, "li", first.number)
    await do(town, cases_services.resolve_case, "li", first.number, photo(5, PhotoKind.AFTER), "修好了")
    told = {r.person_id for r in await outbox(town.db, "case.resolved")}
    assert told == {town.people["wang"].id, town.people["zhao"].id}


async def test_rejected_report_is_not_counted_as_fixed(town):
    case = await report(town, category=Category.NOISE)
    rejected = await do(town, cases_services.reject_report, "li", case.number, "正常施工，有许可证")
    assert rejected.state == CaseState.REJECTED and rejected.closure_reason == ClosureReason.NOT_A_PROBLEM
    (row,) = await outbox(town.db, "case.rejected")
    assert row.payload["reason"] == "正常施工，有许可证"


async def test_the_clock_reminds_once_escalates_overdue_and_closes_silent_confirmations(town):
    case = await report(town)
    half = case.deadline - timedelta(hours=5)

    async def sweep(at):
        async with town.db.uow() as uow:
            counts = await cases_services.sweep(uow, POLICY, at)
            await uow.commit()
        return counts

    assert (await sweep(MONDAY + timedelta(minutes=1)))["half_time"] == 0
    assert (await sweep(half))["half_time"] == 1
    await sweep(half + timedelta(minutes=1))  # again: the dedupe key keeps it to one message
    assert len(await outbox(town.db, "case.half_time")) == 1
    assert (await sweep(case.deadline - timedelta(hours=1)))["due_soon"] == 1
    assert (await sweep(case.deadline + timedelta(minutes=1)))["overdue"] == 1
    await sweep(case.deadline + timedelta(minutes=2))
    assert [r.person_id for r in await outbox(town.db, "case.overdue")] == [town.people["chen"].id]

    await do(town, cases_services.accept_case, "li", case.number)
    resolved_at = case.deadline + timedelta(hours=1)
    await do(town, cases_services.resolve_case, "li", case.number, photo(6, PhotoKind.AFTER), "好了", now=resolved_at)
    assert (await sweep(resolved_at + timedelta(days=2)))["auto_closed"] == 0
    assert (await sweep(resolved_at + timedelta(days=3, minutes=1)))["auto_closed"] == 1
    async with town.db.uow() as uow:
        closed = await uow.cases.by_number(case.number)
    assert closed.state == CaseState.CLOSED and closed.closure_reason == ClosureReason.FIXED


async def test_rollback_leaves_no_case_and_no_notification(town):
    async with town.db.uow() as uow:
        await cases_services.report_problem(uow, POLICY, await actor(town.db, town.people["wang"]),
                                            town.buildings["3号楼"].id, Category.LIGHTS, [photo(1)], "", MONDAY)
        # leaving without commit
    assert await outbox(town.db) == []
    async with town.db.uow() as uow:
        assert await uow.cases.open_in_community(town.communities["东城社区"].id) == []


async def test_two_first_reports_of_the_year_at_once_both_get_numbers(town):
    import asyncio

    async def one(who, building):
        async with town.db.uow() as uow:
            case = await cases_services.report_problem(uow, POLICY, await actor(town.db, town.people[who]),
                                                       town.buildings[building].id, Category.GARBAGE, [photo(7)], "", MONDAY)
            await asyncio.sleep(0.05)  # hold the transaction open so the two overlap
            await uow.commit()
        return case.number

    numbers = await asyncio.gather(one("wang", "3号楼"), one("zhao", "2号楼"))
    assert sorted(numbers) == ["DC-2026-000001", "DC-2026-000002"]


async def test_same_problem_is_looked_for_nearby_only_and_by_photo_anywhere_in_the_community(town):
    first = await report(town)  # 3号楼, lights, photo 1
    async with town.db.uow() as uow:
        near = await cases_services.similar_cases(uow, POLICY, town.buildings["4号楼"].id, Category.LIGHTS, MONDAY)
        far = await cases_services.similar_cases(uow, POLICY, town.buildings["A栋"].id, Category.LIGHTS, MONDAY)
        other_kind = await cases_services.similar_cases(uow, POLICY, town.buildings["3号楼"].id, Category.NOISE, MONDAY)
        later = await cases_services.similar_cases(uow, POLICY, town.buildings["3号楼"].id, Category.LIGHTS,
                                                   MONDAY + POLICY.duplicate_window + timedelta(minutes=1))
    assert [c.number for c in near] == [first.number]  # another grid, ~60 m away
    assert far == [] and other_kind == [] and later == []  # ~300 m away; another category; too old
    # the same picture sent again from far away is still flagged, by its photo
    second = await report(town, who="zhao", building="A栋", category=Category.NOISE, photos=(1,))
    rows = await outbox(town.db, "case.new_for_handler")
    assert rows[-1].payload["duplicate_of"] == first.number
    await report(town, who="zhao", building="B栋", category=Category.NOISE, photos=(99,))
    rows = await outbox(town.db, "case.new_for_handler")
    assert rows[-1].payload["duplicate_of"] == second.number  # same kind ~50 m away, another photo


async def join(town, who, number, building, category, now=MONDAY):
    async with town.db.uow() as uow:
        case = await cases_services.join_same_problem(uow, POLICY, await actor(town.db, town.people[who]), number,
                                                      town.buildings[building].id, category, now)
        await uow.commit()
    return case


async def test_a_forged_same_problem_press_joins_only_a_case_that_was_offered(town):
    """Case numbers are sequential: a join names one, and core works out the offer again at the press."""
    from core.cases import JoinRefused

    first = await report(town)  # 3号楼, lights
    for building, category in (("A栋", Category.LIGHTS),      # ~300 m away
                               ("3号楼", Category.NOISE)):     # the same place, another kind of problem
        with pytest.raises(JoinRefused):
            await join(town, "zhao", first.number, building, category)
    with pytest.raises(JoinRefused):                           # too late: no longer offered
        await join(town, "zhao", first.number, "2号楼", Category.LIGHTS,
                   now=MONDAY + POLICY.duplicate_window + timedelta(minutes=1))
    async with town.db.uow() as uow:
        assert (await uow.cases.by_number(first.number)).me_too == []
    joined = await join(town, "zhao", first.number, "2号楼", Category.LIGHTS)   # ~50 m, same kind: offered
    assert joined.me_too == [town.people["zhao"].id]


async def test_a_joiner_is_told_the_outcome_but_only_the_reporter_closes_the_case(town):
    first = await report(town)
    await join(town, "zhao", first.number, "2号楼", Category.LIGHTS)
    await do(town, cases_services.accept_case, "li", first.number)
    await do(town, cases_services.resolve_case, "li", first.number, photo(5, PhotoKind.AFTER), "换了灯泡")
    with pytest.raises(NotYourCase):
        await do(town, cases_services.confirm_fix, "zhao", first.number, 1)
    async with town.db.uow() as uow:
        await cases_services.give_feedback(uow, await actor(town.db, town.people["zhao"]), first.number, False, MONDAY,
                                           comment="二单元还是黑的")
        await uow.commit()
    async with town.db.uow() as uow:
        case = await uow.cases.by_number(first.number)
    assert case.state == CaseState.RESOLVED and case.rating is None
    told = await outbox(town.db, "case.supporter_not_fixed")
    assert [r.person_id for r in told] == [town.people["chen"].id] and told[0].payload["comment"] == "二单元还是黑的"
    await do(town, cases_services.confirm_fix, "wang", first.number, 5)   # the reporter's answer stands
    async with town.db.uow() as uow:
        case = await uow.cases.by_number(first.number)
    assert case.state == CaseState.CLOSED and case.rating == 5


async def test_the_case_numbers_year_is_the_year_its_sequence_counts_in(town):
    """#15: the number's year came from China's zone, its running number from the configured one; with
    TIMEZONE=UTC a report at 23:30 UTC on New Year's Eve (07:30 on 1 January in Beijing) was numbered
    2027 on the 2026 sequence."""
    from zoneinfo import ZoneInfo

    utc_policy = ReportPolicy(calendar=WorkCalendar(tz=ZoneInfo("UTC")))
    eve = datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)
    async with town.db.uow() as uow:
        first = await cases_services.report_problem(uow, utc_policy, await actor(town.db, town.people["wang"]),
                                                    town.buildings["3号楼"].id, Category.LIGHTS, [photo(1)], "", eve)
        second = await cases_services.report_problem(uow, utc_policy, await actor(town.db, town.people["wang"]),
                                                     town.buildings["3号楼"].id, Category.NOISE, [photo(2)], "",
                                                     eve + timedelta(hours=1))
        await uow.commit()
    assert (first.number, second.number) == ("DC-2026-000001", "DC-2027-000001")
