"""Proof on the spot ("现场确认", issue #20) through the services and the database: a party member's
check-in far from the community is counted all the same and flagged; the dashboard counts the fixes
resolved without proof and the far check-ins (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core import cases_services
from core.cases import Actor, Category, PhotoKind, PhotoRef
from core.onboarding import roles_of
from core.people import Role, RoleGrant
from core.statistics import month
from core.statistics_services import PlaceChoice, overview
from core.volunteering import attendance_services, posts_services
from core.volunteering.common import ClaimState
from core.workdays import CHINA_TZ, WorkCalendar
from storage import tables
from tests.factories import add_person
from tests.test_volunteer_services import MONDAY, POLICY, SATURDAY_9, as_, do, new_post, photo, town  # noqa: F401

BEIJING = (39.9042, 116.4074)
NEAR_2 = (32.7054, 116.7104)     # a few metres from 2号楼 (东城社区)


async def test_a_check_in_far_from_the_community_counts_and_is_flagged_near_is_not(town):
    post = await new_post(town, capacity=2)
    for key in ("m1", "m2"):
        await do(town, posts_services.claim_post, POLICY, await as_(town, key), post.number, MONDAY)
    at = SATURDAY_9 - timedelta(minutes=5)
    far = await do(town, attendance_services.check_in, await as_(town, "m1"), post.number, photo(1), at,
                   lat=BEIJING[0], lon=BEIJING[1])
    assert far.state == ClaimState.CHECKED_IN                 # counted all the same
    assert far.check_in_on_site is False and far.check_in_distance_m > 700_000
    near = await do(town, attendance_services.check_in, await as_(town, "m2"), post.number, photo(2), at,
                    lat=NEAR_2[0], lon=NEAR_2[1], radius_m=150)
    assert near.check_in_on_site is True and near.check_in_distance_m < 50
    async with town.db.uow() as uow:
        stored = await uow.volunteering.claim(post.number, town.people["m1"].id)
        events = [e for e in await uow.events.of("claim", f"{post.number}:{town.people['m1'].id}")
                  if e.kind == "checked_in"]
    assert stored.check_in_on_site is False and round(stored.check_in_distance_m) == round(far.check_in_distance_m)
    assert events[-1].after["on_site"] is False and events[-1].after["located"] is True
    async with town.db.uow() as uow:
        chen = Actor(town.people["chen"].id, await roles_of(uow, town.people["chen"]))
        figures = await overview(uow, chen, PlaceChoice(), month(2026, 11, CHINA_TZ), SATURDAY_9)
    assert figures.volunteering is not None and figures.volunteering.check_ins_far == 1
    # whoever confirms the service is told the check-in was far; the near one says nothing of it
    for key in ("m1", "m2"):
        await do(town, attendance_services.check_out, await as_(town, key), post.number, photo(3 if key == "m1" else 4),
                 SATURDAY_9 + timedelta(hours=1))
    async with town.db.engine.connect() as conn:
        rows = list(await conn.execute(select(tables.outbox).where(tables.outbox.c.kind == "post.to_confirm")))
    far_m = {r.payload["person"]: r.payload.get("far_m") for r in rows}
    assert far_m == {town.people["m1"].id: round(far.check_in_distance_m), town.people["m2"].id: None}


async def test_the_overview_counts_fixes_resolved_without_proof_on_the_spot(town):
    policy = cases_services.ReportPolicy(calendar=WorkCalendar())
    building = town.buildings["3号楼"]
    numbers = []
    async with town.db.uow() as uow:
        wang = Actor(town.people["wang"].id, await roles_of(uow, town.people["wang"]))
        for n in range(4):
            case = await cases_services.report_problem(uow, policy, wang, building.id, Category.LIGHTS,
                                                       [PhotoRef(f"{n:064d}", PhotoKind.BEFORE)], "", MONDAY)
            numbers.append(case.number)
        await uow.commit()
    # nobody owns 粮食局第一网格 yet: the cases wait on the desk, which gives them to 李网格员
    chen = await as_(town, "chen")
    async with town.db.uow() as uow:
        li = await add_person(uow, town, "li", "李网格员", RoleGrant(None, 0, Role.GRID_MEMBER,
                                                                 community_id=town.dc.id, grid_id=building.grid_id))
        await uow.commit()
    li_actor = await as_(town, "li")
    proofs = [dict(location=(building.lat, building.lon)), dict(location=BEIJING),
              dict(skip_reason="location_off"), {}]   # near, far, skipped, not asked (an older channel)
    for number, proof in zip(numbers, proofs):
        await do(town, cases_services.reassign, chen, number, li.id, MONDAY)
        await do(town, cases_services.accept_case, li_actor, number, MONDAY)
        await do(town, cases_services.resolve_case, li_actor, number, PhotoRef(f"a{number[-1]:0>63}", PhotoKind.AFTER),
                 "修好了", MONDAY + timedelta(hours=1), policy=policy, **proof)
    async with town.db.uow() as uow:
        figures = await overview(uow, chen, PlaceChoice(), month(2026, 11, CHINA_TZ), MONDAY + timedelta(days=1))
        desk = [c.number for c in await cases_services.desk(uow, chen, MONDAY + timedelta(hours=2))]
    assert figures.cases.without_proof == 2
    assert set(desk) == {numbers[1], numbers[2]}    # the far and the skipped wait on the desk


async def test_migration_0014_builds_what_the_tables_declare(db):
    """`alembic upgrade` ran in the fixture: the proof columns are as storage declares them."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage import tables as t

    async with db.engine.connect() as conn:
        diffs = await conn.run_sync(lambda c: compare_metadata(
            MigrationContext.configure(c, opts={"compare_type": True}), t.metadata))
    ours = ("on_site", "proof_distance_m", "proof_reason", "proof_words", "check_in_distance_m")
    assert [d for d in diffs if any(name in repr(d) for name in ours)] == []
