"""The demo's three months of history (demo/seed.py): made once, through core, sending nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from core.clock import ManualClock
from core.statistics import Area, Period
from core.statistics_services import overview_of
from demo.app import prepare_demo_world
from demo.seed import seed_history
from storage.tables import outbox


async def test_history_is_seeded_once_and_its_notifications_are_not_sent(db, now, tmp_path):
    clock = ManualClock(now)
    await prepare_demo_world(db, clock)
    async with db.engine.connect() as conn:
        pending_before = (await conn.execute(select(func.count()).where(outbox.c.state == "pending"))).scalar()
    made = await seed_history(db, now, tmp_path, days=21)
    assert made > 10 and await seed_history(db, now, tmp_path, days=21) == 0
    async with db.engine.connect() as conn:
        pending = (await conn.execute(select(func.count()).where(outbox.c.state == "pending"))).scalar()
    assert pending == pending_before  # nobody is told today of what happened weeks ago
    async with db.uow() as uow:
        (community,) = await uow.places.communities()
        seen = await overview_of(uow, Area((community.id,)), Period(now - timedelta(days=22), now), now)
    assert seen.cases.received == made and seen.cases.closed > made // 2 and seen.cases.rated > 0
    assert seen.volunteering.hours > 0 and seen.points.earned > 0
    assert len(list((tmp_path / "photos").rglob("*.jpg"))) == 24  # before, during and after pictures, stored once


async def test_three_months_before_any_day_are_seeded_though_a_member_gets_suspended(db, tmp_path):
    """`redgrid demo --fresh` on 2026-12-02 stopped with post.suspended: two no-shows in the random
    history suspend a party member (as the rules say), whose next claim is refused. The history goes on
    without them."""
    from datetime import datetime, timezone

    from sqlalchemy import func, select

    from storage.volunteer_tables import volunteer_standings

    day = datetime(2026, 12, 2, 4, 40, tzinfo=timezone.utc)
    await prepare_demo_world(db, ManualClock(day))
    assert await seed_history(db, day, tmp_path) > 100
    async with db.engine.connect() as conn:
        suspended = (await conn.execute(select(func.count()).select_from(volunteer_standings)
                                        .where(volunteer_standings.c.suspended.is_(True)))).scalar()
    assert suspended >= 1  # the case that stopped the demo happened, and the history went on
