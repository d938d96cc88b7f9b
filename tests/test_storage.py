"""Storage on SQLite and PostgreSQL: migrations, time zones, and the onboarding services end to end."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core.errors import AlreadyHasRole, InviteUsedUp, NotAllowed, NotFound
from core.onboarding import create_invite, meet, redeem_invite, register_resident, roles_of
from core.people import Identity, Role
from storage.engine import make_engine
from storage.migrate import current_revision, upgrade
from tests.factories import add_person, seed_world, staff_of


async def test_migrations_reach_head_and_rerun_is_harmless(db):
    from alembic.script import ScriptDirectory

    from storage.migrate import alembic_config

    await upgrade(db.engine)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None and await current_revision(db.engine) == head


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/new/dir/x.sqlite3")  # the folder is made too
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        # statements in the event loop never wait; a trip to the thread waits up to 30 s for a lock
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 0
        assert (await conn.get_raw_connection()).driver_connection.busy_timeout_ms == 30_000
    await engine.dispose()


async def test_times_come_back_aware_and_equal(db, now):
    shanghai = timezone(timedelta(hours=8))
    async with db.uow() as uow:
        person = await meet(uow, "telegram", "1", "1", "王阿姨", now.astimezone(shanghai))
        await uow.commit()
    async with db.uow() as uow:
        again = await uow.people.get(person.id)
    assert again.created_at == now and again.created_at.tzinfo is not None


async def test_one_identity_per_channel_account(db, now):
    async with db.uow() as uow:
        first = await meet(uow, "telegram", "77", "77", "A", now)
        second = await meet(uow, "telegram", "77", "77", "A again", now)
        assert first.id == second.id
        await uow.commit()
    async with db.uow() as uow:
        with pytest.raises(IntegrityError):
            await uow.people.add_identity(Identity(None, first.id, "telegram", "77", "77"))


async def test_rollback_keeps_nothing(db, now):
    async with db.uow() as uow:
        await meet(uow, "telegram", "5", "5", "gone", now)
        # leaving without commit
    async with db.uow() as uow:
        assert await uow.people.by_identity("telegram", "5") is None


async def test_multi_use_invite_counts_each_person_and_refuses_a_repeat(db, now):
    async with db.uow() as uow:
        world = await seed_world(uow)
        invite = await create_invite(uow, None, Role.PARTY_MEMBER, now, ttl_hours=24, max_uses=2,
                                     community_id=world.communities["东城社区"].id)
        a = await meet(uow, "telegram", "1", "1", "A", now)
        b = await meet(uow, "telegram", "2", "2", "B", now)
        c = await meet(uow, "telegram", "3", "3", "C", now)
        await redeem_invite(uow, a, "telegram", "1", invite.code, now)
        with pytest.raises(AlreadyHasRole):
            await redeem_invite(uow, a, "telegram", "1", invite.code, now)
        await redeem_invite(uow, b, "telegram", "2", invite.code, now)
        with pytest.raises(InviteUsedUp):
            await redeem_invite(uow, c, "telegram", "3", invite.code, now)
        await uow.commit()
    async with db.uow() as uow:
        stored = await uow.invites.get(invite.code)
        assert stored.uses == 2
        assert (await roles_of(uow, b)).has(Role.PARTY_MEMBER)
        kinds = [e.kind for e in await uow.events.of("invite", invite.code)]
    assert kinds == ["invite_created", "invite_redeemed", "invite_redeemed"]


async def test_staff_cannot_invite_for_another_community(db, now):
    async with db.uow() as uow:
        world = await seed_world(uow)
        chen = await add_person(uow, world, "chen", "陈书记", staff_of(world.communities["东城社区"]))
        await create_invite(uow, chen, Role.GRID_MEMBER, now, ttl_hours=1, grid_id=world.grids["东城花园网格"].id)
        with pytest.raises(NotAllowed):
            await create_invite(uow, chen, Role.GRID_MEMBER, now, ttl_hours=1, grid_id=world.grids["西苑网格"].id)
        with pytest.raises(NotFound):
            await create_invite(uow, chen, Role.GRID_MEMBER, now, ttl_hours=1, grid_id=99999)
        with pytest.raises(NotFound):
            await create_invite(uow, None, Role.STAFF, now, ttl_hours=1)


async def test_register_resident_records_before_and_after_when_moving(db, now):
    async with db.uow() as uow:
        world = await seed_world(uow)
        person = await meet(uow, "telegram", "1", "1", "王阿姨", now)
        b1, b2 = world.buildings["1号楼"], world.buildings["A栋"]
        dc = world.communities["东城社区"].id
        await register_resident(uow, person, dc, world.compounds["粮食局小区"].id, b1.id, now)
        await register_resident(uow, person, dc, world.compounds["粮食局小区"].id, b1.id, now)  # no-op
        await register_resident(uow, person, dc, world.compounds["东城花园"].id, b2.id, now + timedelta(days=1))
        await uow.commit()
        events = await uow.events.of("person", str(person.id))
        roles = await roles_of(uow, person)
    assert [e.kind for e in events] == ["first_contact", "consent_given", "resident_registered",
                                        "resident_moved_out", "resident_registered"]
    moved = events[3]
    assert moved.before["status"] == "active" and moved.after["status"] == "revoked"
    assert moved.before["building_id"] == b1.id
    assert roles.home_building_id() == b2.id


async def test_events_keep_json_on_both_databases(db, now):
    async with db.uow() as uow:
        person = await meet(uow, "telegram", "9", "9", "测试", now)
        await uow.commit()
    async with db.uow() as uow:
        (event, agreed) = await uow.events.of("person", str(person.id))  # met, and agreed to the notice
    assert event.after == {"channel": "telegram"} and event.at == now and isinstance(event.at, datetime)
    assert agreed.after == {"purpose": "notice", "version": 1, "channel": "telegram"}
