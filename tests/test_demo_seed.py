"""The demo world: the sample community plus its people, seeded once however often the demo starts."""

from __future__ import annotations

from sqlalchemy import func, select

from core.clock import ManualClock
from core.onboarding import roles_of
from core.people import Role
from demo.app import prepare_demo_world
from storage import tables


async def _count(db, table) -> int:
    async with db.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def test_demo_world_has_every_role_and_reseeding_changes_nothing(db, now):
    clock = ManualClock(now)
    personas = await prepare_demo_world(db, clock)
    people, grants, buildings = [await _count(db, t) for t in (tables.persons, tables.role_grants, tables.buildings)]
    again = await prepare_demo_world(db, clock)
    assert [p.user_id for p in again] == [p.user_id for p in personas]
    assert (await _count(db, tables.persons), await _count(db, tables.role_grants),
            await _count(db, tables.buildings), await _count(db, tables.consents)) == (people, grants, buildings,
                                                                                  len(personas) - 1)
    assert buildings == 12
    wanted = {Role.RESIDENT: 3, Role.GRID_MEMBER: 4, Role.PARTY_MEMBER: 6, Role.STAFF: 1, Role.DEPARTMENT: 1,
              Role.ADMIN: 1}
    found = {role: 0 for role in wanted}
    async with db.uow() as uow:
        for persona in personas[1:]:  # the first is the unregistered newcomer
            person = await uow.people.by_identity("telegram", str(persona.user_id))
            assert person.notice_version == 1  # they stand for people who agreed: the newcomer has not
            for role in (await roles_of(uow, person)).names:
                found[role] += 1
        assert await uow.people.by_identity("telegram", str(personas[0].user_id)) is None
    assert found == wanted


async def test_demo_community_has_theme_day_activities_and_an_open_post_once(db, now):
    from core.volunteering import posts_services

    clock = ManualClock(now)
    await prepare_demo_world(db, clock)
    await prepare_demo_world(db, clock)
    async with db.uow() as uow:
        (community,) = [c for c in await uow.places.communities() if c.code == "DC"]
        templates = await uow.volunteering.templates(community.id)
        posts = await posts_services.open_posts(uow, community.id, now)
    assert [t.title for t in templates] == ["政策宣讲进社区", "环境整治义务清扫"]
    assert templates[1].workday_starts is None  # the clean-up needs daylight
    assert [p.title for p in posts] == ["清理楼道小广告"] and posts[0].starts_at > now
    from core.workdays import CHINA_TZ
    assert posts[0].starts_at.astimezone(CHINA_TZ).weekday() == 5  # a Saturday afternoon
