"""The report loop's services on the in-memory unit of work (tests/fakes.py): the rules of routing,
"same problem", feedback, confirmation and the clock, with no database, in milliseconds.

The same services run on SQLite and PostgreSQL in tests/test_reporting.py and tests/test_sweep.py;
what needs SQL (locks, numbering under concurrency, migrations, rollback of real rows) stays there.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from core import cases_services
from core.cases import CaseState, Category, ClosureReason, JoinRefused, NotYourCase, PhotoKind
from core.people import Role, RoleGrant
from tests.factories import add_person, seed_world, staff_of
from tests.fakes import FakeDatabase
from tests.test_reporting import MONDAY, POLICY, actor, do, join, photo, report


@pytest.fixture
async def town():
    db = FakeDatabase()
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
        await uow.commit()
    w.db = db
    return w


async def test_a_report_is_routed_to_the_grid_member_or_else_to_the_desk(town):
    case = await report(town)
    assert case.number == "DC-2026-000001" and case.handler_id == town.people["li"].id
    desk = await report(town, building="4号楼")  # 粮食局第二网格 has nobody
    assert desk.state == CaseState.SUBMITTED and desk.on_desk
    assert [n.person_id for n in town.db.notifications("case.new_for_handler")] == [town.people["li"].id]
    assert [n.person_id for n in town.db.notifications("case.on_desk")] == [town.people["chen"].id]


async def test_only_an_offered_case_may_be_joined(town):
    first = await report(town)  # 3号楼, lights
    for building, category in (("A栋", Category.LIGHTS), ("3号楼", Category.NOISE)):
        with pytest.raises(JoinRefused):
            await join(town, "zhao", first.number, building, category)
    with pytest.raises(JoinRefused):
        await join(town, "zhao", first.number, "2号楼", Category.LIGHTS,
                   now=MONDAY + POLICY.duplicate_window + timedelta(minutes=1))
    joined = await join(town, "zhao", first.number, "2号楼", Category.LIGHTS)
    assert joined.me_too == [town.people["zhao"].id]


async def test_a_joiners_feedback_never_closes_and_the_reporter_confirms(town):
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
    (told,) = town.db.notifications("case.supporter_not_fixed")
    assert told.person_id == town.people["chen"].id and told.payload["comment"] == "二单元还是黑的"
    closed = await do(town, cases_services.confirm_fix, "wang", first.number, 5)
    assert closed.state == CaseState.CLOSED and closed.closure_reason == ClosureReason.FIXED and closed.rating == 5
    assert [n.payload["points"] for n in town.db.notifications("points.report_earned")] == [
        POLICY.report_points["lights"]]


async def test_a_refused_press_changes_nothing(town):
    case = await report(town)
    with pytest.raises(NotYourCase):
        await do(town, cases_services.accept_case, "hu", case.number)  # another grid's member
    async with town.db.uow() as uow:
        assert (await uow.cases.by_number(case.number)).state == CaseState.ASSIGNED
        await cases_services.accept_case(uow, await actor(town.db, town.people["li"]), case.number, MONDAY)
        # left without commit: rolled back
    async with town.db.uow() as uow:
        assert (await uow.cases.by_number(case.number)).state == CaseState.ASSIGNED


async def test_the_clock_reminds_once_and_leaves_the_told_backlog_alone(town):
    cases = [await report(town, photos=(n,)) for n in range(1, 4)]
    deadline = cases[0].deadline

    async def sweep(at):
        async with town.db.uow() as uow:
            counts = await cases_services.sweep(uow, POLICY, at)
            due = len(await uow.cases.due(at))
            await uow.commit()
        return counts, due

    assert (await sweep(deadline - timedelta(hours=5)))[0]["half_time"] == 3
    assert (await sweep(deadline - timedelta(hours=1)))[0]["due_soon"] == 3
    assert (await sweep(deadline + timedelta(minutes=1)))[0]["overdue"] == 3
    counts, due = await sweep(deadline + timedelta(minutes=2))
    assert sum(counts.values()) == 0 and due == 0
    assert len(town.db.notifications("case.overdue")) == 3 and len(town.db.notifications("case.half_time")) == 3
