"""Volunteering services on SQLite and PostgreSQL: "双报到", order → post → claims → service → points,
the refusals that protect members' time, suspensions, and the last place under a race."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from core import points_services
from core.volunteering import attendance_services, common_services, orders_services, posts_services, registration_services
from core.cases import Actor, PhotoKind, PhotoRef
from core.onboarding import roles_of
from core.people import GrantStatus, Role, RoleGrant
from core.points import NotEnoughPoints, PointsReason
from core.ports import StaleWrite
from core.errors import NotAllowed
from core.volunteering.common import (
    ClaimState, NotEndedYet, Overlap, PostFull, PostState, ServiceKind, Suspended,
)
from core.workdays import CHINA_TZ, WorkCalendar
from storage import tables
from storage.volunteering import SqlVolunteering
from tests.factories import add_person, seed_world, staff_of

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=CHINA_TZ)
SATURDAY_9 = datetime(2026, 11, 28, 9, 0, tzinfo=CHINA_TZ)
POLICY = common_services.VolunteerPolicy(calendar=WorkCalendar())


def photo(n: int) -> PhotoRef:
    return PhotoRef(f"{n:064x}", PhotoKind.DURING, 1600, 1200)


def member_of(community) -> RoleGrant:
    return RoleGrant(None, 0, Role.PARTY_MEMBER, community_id=community.id, work_unit="县财政局")


async def outbox(db, kind: str) -> list:
    async with db.engine.connect() as conn:
        return list(await conn.execute(select(tables.outbox).where(tables.outbox.c.kind == kind)
                                       .order_by(tables.outbox.c.id)))


@pytest.fixture
async def town(db):
    async with db.uow() as uow:
        w = await seed_world(uow)
        dc = w.communities["东城社区"]
        await add_person(uow, w, "wang", "王阿姨", RoleGrant(None, 0, Role.RESIDENT, community_id=dc.id,
                                                           building_id=w.buildings["3号楼"].id))
        await add_person(uow, w, "chen", "陈书记", staff_of(dc))
        for key, name in (("m1", "党员甲"), ("m2", "党员乙"), ("m3", "党员丙")):
            await add_person(uow, w, key, name, member_of(dc))
        await add_person(uow, w, "xi", "西城党员", member_of(w.communities["西城社区"]))
    w.db = db
    w.dc = w.communities["东城社区"]
    return w


async def actor(db, person) -> Actor:
    async with db.uow() as uow:
        return Actor(person.id, await roles_of(uow, person))


async def do(town, service, *args, **kwargs):
    """Run one service in its own committed unit of work (as one bot update does)."""
    async with town.db.uow() as uow:
        result = await service(uow, *args, **kwargs)
        await uow.commit()
    return result


async def as_(town, key):
    return await actor(town.db, town.people[key])


async def new_post(town, starts=SATURDAY_9, hours=2, capacity=1, points=5, title="帮老人搬米", now=MONDAY):
    return await do(town, posts_services.create_post, POLICY, await as_(town, "chen"), town.dc.id, now, title=title,
                    starts_at=starts, ends_at=starts + timedelta(hours=hours), place="社区党群服务中心",
                    capacity=capacity, points_per_person=points)


async def test_order_dispatch_claim_waitlist_service_and_points(town):
    p = town.people
    order = await do(town, orders_services.order_service, await as_(town, "wang"), town.dc.id, ServiceKind.CARRYING, "十袋米搬上楼",
                     "周六上午", "3号楼2单元301", MONDAY)
    assert order.number == "DC-FW-2026-000001"
    assert [r.person_id for r in await outbox(town.db, "order.new")] == [p["chen"].id]
    async with town.db.uow() as uow:
        assert [o.number for o in await orders_services.new_orders(uow, town.dc.id)] == [order.number]

    post = await do(town, orders_services.dispatch_order, POLICY, await as_(town, "chen"), order.number, MONDAY, title="帮王阿姨搬米",
                    starts_at=SATURDAY_9, ends_at=SATURDAY_9 + timedelta(hours=2), place="3号楼2单元301",
                    capacity=1, points_per_person=5)
    assert post.number == "DC-GW-2026-000001" and post.order_number == order.number
    dispatched = await outbox(town.db, "order.dispatched")
    assert [r.person_id for r in dispatched] == [p["wang"].id]
    assert dispatched[0].payload["starts_at"] == "2026-11-28T01:00:00+00:00"  # ISO in UTC; each reader's words
    assert datetime.fromisoformat(dispatched[0].payload["starts_at"]) == SATURDAY_9
    announced = await outbox(town.db, "post.new")
    assert sorted(r.person_id for r in announced) == sorted(p[k].id for k in ("m1", "m2", "m3"))  # not 西城's
    async with town.db.uow() as uow:
        assert (await orders_services.order_by_number(uow, order.number)).state.value == "dispatched"
        assert await orders_services.new_orders(uow, town.dc.id) == []

    first = await do(town, posts_services.claim_post, POLICY, await as_(town, "m1"), post.number, MONDAY)
    assert first.state == ClaimState.CLAIMED
    coming = await outbox(town.db, "post.coming")
    assert [r.person_id for r in coming] == [p["wang"].id] and coming[0].payload["names"] == "党员甲"
    with pytest.raises(PostFull) as full:
        await do(town, posts_services.claim_post, POLICY, await as_(town, "m2"), post.number, MONDAY)
    assert full.value.params["waitlist"] is True
    waiting = await do(town, posts_services.claim_post, POLICY, await as_(town, "m2"), post.number, MONDAY, waitlist=True)
    assert waiting.state == ClaimState.WAITLISTED

    promoted = await do(town, posts_services.withdraw_claim, POLICY, await as_(town, "m1"), post.number, MONDAY + timedelta(hours=1))
    assert promoted is not None and promoted.person_id == p["m2"].id and promoted.state == ClaimState.CLAIMED
    assert [r.person_id for r in await outbox(town.db, "post.promoted")] == [p["m2"].id]
    async with town.db.uow() as uow:
        stored = await posts_services.post_by_number(uow, post.number)
        assert (stored.places_taken, stored.state) == (1, PostState.FULL)
        assert [c for c, _ in await posts_services.my_claims(uow, p["m1"].id, MONDAY)] == []
        assert [x.number for _, x in await posts_services.my_claims(uow, p["m2"].id, MONDAY)] == [post.number]

    m2 = await as_(town, "m2")
    await do(town, attendance_services.check_in, m2, post.number, photo(1), SATURDAY_9 - timedelta(minutes=10), lat=32.7, lon=116.7)
    out = await do(town, attendance_services.check_out, m2, post.number, photo(2), SATURDAY_9 + timedelta(hours=1, minutes=50))
    assert out.state == ClaimState.CHECKED_OUT
    to_confirm = await outbox(town.db, "post.to_confirm")
    assert sorted(r.person_id for r in to_confirm) == sorted([p["chen"].id, p["wang"].id])
    assert to_confirm[0].payload["hours"] == 2.0 and to_confirm[0].payload["name"] == "党员乙"

    done = await do(town, attendance_services.confirm_service, POLICY, await as_(town, "wang"), post.number, p["m2"].id,
                    SATURDAY_9 + timedelta(hours=3), rating=5)
    assert done.state == ClaimState.CONFIRMED and done.served == timedelta(hours=2)
    earned = await outbox(town.db, "points.earned")
    assert [(r.person_id, r.payload["points"], r.payload["balance"]) for r in earned] == [(p["m2"].id, 5, 5)]

    chen = await as_(town, "chen")
    await do(town, points_services.redeem, chen, p["m2"].id, town.dc.id, 3, "洗衣液", SATURDAY_9 + timedelta(days=1))
    with pytest.raises(NotEnoughPoints):
        await do(town, points_services.redeem, chen, p["m2"].id, town.dc.id, 3, "大米", SATURDAY_9 + timedelta(days=1, hours=1))
    async with town.db.uow() as uow:
        assert await points_services.points_balance(uow, p["m2"].id, town.dc.id) == 2
        history = await points_services.points_history(uow, p["m2"].id, town.dc.id)
        assert [(e.reason, e.delta) for e in history] == [(PointsReason.REDEMPTION, -3), (PointsReason.SERVICE, 5)]
        board = await points_services.leaderboard(uow, town.dc.id, 2026, 11)
        assert [(r.rank, r.person_id, r.points) for r in board] == [(1, p["m2"].id, 5)]
        kinds = [e.kind for e in await uow.events.of("claim", f"{post.number}:{p['m2'].id}")]
    assert kinds == ["waitlisted", "promoted", "checked_in", "checked_out", "service_confirmed"]


async def test_overlapping_posts_are_refused_back_to_back_are_not(town):
    a = await new_post(town, capacity=1)
    b = await new_post(town, starts=SATURDAY_9 + timedelta(hours=1), capacity=3, title="清扫楼道")
    c = await new_post(town, starts=SATURDAY_9 + timedelta(hours=2), capacity=3, title="政策宣讲")
    m1, m2 = await as_(town, "m1"), await as_(town, "m2")
    await do(town, posts_services.claim_post, POLICY, m1, a.number, MONDAY)
    with pytest.raises(Overlap):
        await do(town, posts_services.claim_post, POLICY, m1, b.number, MONDAY)
    assert (await do(town, posts_services.claim_post, POLICY, m1, c.number, MONDAY)).state == ClaimState.CLAIMED  # back to back
    assert (await do(town, posts_services.claim_post, POLICY, m2, b.number, MONDAY)).state == ClaimState.CLAIMED
    with pytest.raises(Overlap):  # waiting for a place on a keeps m2's time busy too, so b clashes
        await do(town, posts_services.claim_post, POLICY, m2, a.number, MONDAY, waitlist=True)


async def test_two_no_shows_suspend_until_staff_lift_it(town):
    posts = [await new_post(town, starts=SATURDAY_9 + timedelta(days=d), capacity=2) for d in (0, 1, 2)]
    m1, chen = await as_(town, "m1"), await as_(town, "chen")
    for post in posts[:2]:
        await do(town, posts_services.claim_post, POLICY, m1, post.number, MONDAY)
    first = await do(town, attendance_services.mark_no_show, POLICY, chen, posts[0].number, m1.person_id, SATURDAY_9 + timedelta(hours=1))
    assert (first.no_shows, first.suspended) == (1, False)
    second = await do(town, attendance_services.mark_no_show, POLICY, chen, posts[1].number, m1.person_id,
                      SATURDAY_9 + timedelta(days=1, hours=1))
    assert (second.no_shows, second.suspended) == (2, True)
    with pytest.raises(Suspended):
        await do(town, posts_services.claim_post, POLICY, m1, posts[2].number, SATURDAY_9 + timedelta(days=1, hours=2))
    # the member is told why (2 no-shows) and how to be restored, once
    told = await outbox(town.db, "post.member_suspended")
    assert [(r.person_id, r.payload["no_shows"]) for r in told] == [(m1.person_id, 2)]
    lifted = await do(town, attendance_services.lift_suspension, chen, m1.person_id, town.dc.id, SATURDAY_9 + timedelta(days=1, hours=3))
    await do(town, attendance_services.lift_suspension, chen, m1.person_id, town.dc.id, SATURDAY_9 + timedelta(days=1, hours=3))
    assert (lifted.no_shows, lifted.suspended) == (2, False)  # the count is kept with the lift
    assert [(r.person_id, r.payload["no_shows"]) for r in await outbox(town.db, "post.member_restored")] == [
        (m1.person_id, 2)]
    async with town.db.uow() as uow:
        lifts = [e for e in await uow.events.of("person", str(m1.person_id)) if e.kind == "suspension_lifted"]
    assert [(e.actor_id, e.after["no_shows"]) for e in lifts] == [(chen.person_id, 2)]
    again = await do(town, posts_services.claim_post, POLICY, m1, posts[2].number, SATURDAY_9 + timedelta(days=1, hours=4))
    assert again.state == ClaimState.CLAIMED
    # one more no-show after the lift is one, not a third that suspends at once
    third = await do(town, attendance_services.mark_no_show, POLICY, chen, posts[2].number, m1.person_id,
                     SATURDAY_9 + timedelta(days=2, hours=1))
    assert (third.no_shows, third.suspended) == (3, False)


async def test_registration_is_asked_approved_and_told(town):
    async with town.db.uow() as uow:
        from core.people import Person

        newcomer = Person(None, "新党员")
        await uow.people.add(newcomer)
        await uow.commit()
    registration = await do(town, registration_services.ask_to_register, newcomer.id, town.dc.id, "县教育局", MONDAY)
    assert registration.grant.status == GrantStatus.PENDING
    requested = await outbox(town.db, "party.registration_requested")
    assert [(r.person_id, r.payload["name"], r.payload["work_unit"], r.payload["community"]) for r in requested] == \
        [(town.people["chen"].id, "新党员", "县教育局", town.dc.id)]
    async with town.db.uow() as uow:
        waiting = await registration_services.pending_registrations(uow, town.dc.id)
    assert [(person.id, grant.work_unit) for person, grant in waiting] == [(newcomer.id, "县教育局")]
    await do(town, registration_services.approve_registration, await as_(town, "chen"), newcomer.id, town.dc.id, MONDAY)
    assert [r.payload["community"] for r in await outbox(town.db, "party.registration_approved")] == ["东城社区"]
    async with town.db.uow() as uow:
        assert await registration_services.pending_registrations(uow, town.dc.id) == []
        grants = await uow.people.grants(newcomer.id)
    assert [(g.role, g.status) for g in grants] == [(Role.PARTY_MEMBER, GrantStatus.ACTIVE)]


stale: list[str] = []  # saves refused because another unit of work had changed the post


async def _claim_when_both_have_loaded(town, monkeypatch, keys: list[str], post_number: str) -> list:
    """Both units of work load the post before either saves it: the classic lost update, unless guarded."""
    barrier = asyncio.Barrier(len(keys))
    stale.clear()
    original = SqlVolunteering.save_post
    first_time: set[int] = set()

    async def save_after_everyone_loaded(self, post):
        if id(self) not in first_time:
            first_time.add(id(self))
            await barrier.wait()
        try:
            return await original(self, post)
        except StaleWrite:
            stale.append(post.number)
            raise

    monkeypatch.setattr(SqlVolunteering, "save_post", save_after_everyone_loaded)
    actors = [await as_(town, k) for k in keys]

    async def one(who):
        try:
            return await do(town, posts_services.claim_post, POLICY, who, post_number, MONDAY)
        except PostFull as refusal:
            return refusal

    return await asyncio.wait_for(asyncio.gather(*(one(a) for a in actors)), timeout=30)


async def test_two_claims_for_the_last_place_exactly_one_wins(town, monkeypatch):
    post = await new_post(town, capacity=2)
    await do(town, posts_services.claim_post, POLICY, await as_(town, "m3"), post.number, MONDAY)  # one place left
    results = await _claim_when_both_have_loaded(town, monkeypatch, ["m1", "m2"], post.number)
    winners = [r for r in results if not isinstance(r, PostFull)]
    losers = [r for r in results if isinstance(r, PostFull)]
    assert len(winners) == 1 and len(losers) == 1 and winners[0].state == ClaimState.CLAIMED
    assert losers[0].params["waitlist"] is True
    assert stale == [post.number]  # the loser did load the free place: the version check stopped it
    async with town.db.uow() as uow:
        stored = await posts_services.post_by_number(uow, post.number)
        claims = await posts_services.claims_of_post(uow, post.number)
    assert (stored.places_taken, stored.state) == (2, PostState.FULL)
    assert sorted(c.person_id for c in claims if c.holds_place) == \
        sorted([town.people["m3"].id, winners[0].person_id])


async def test_joining_the_waitlist_while_the_holder_withdraws_never_strands_the_waiter(town, monkeypatch):
    post = await new_post(town, capacity=1)
    m1, m2 = await as_(town, "m1"), await as_(town, "m2")
    await do(town, posts_services.claim_post, POLICY, m1, post.number, MONDAY)
    barrier = asyncio.Barrier(2)
    original, seen = SqlVolunteering.save_post, set()

    async def save_after_both_loaded(self, p):
        if id(self) not in seen:
            seen.add(id(self))
            await barrier.wait()
        try:
            return await original(self, p)
        except StaleWrite:
            stale.append(p.number)
            raise

    stale.clear()
    monkeypatch.setattr(SqlVolunteering, "save_post", save_after_both_loaded)
    await asyncio.wait_for(asyncio.gather(do(town, posts_services.claim_post, POLICY, m2, post.number, MONDAY, waitlist=True),
                                          do(town, posts_services.withdraw_claim, POLICY, m1, post.number, MONDAY)), timeout=30)
    async with town.db.uow() as uow:
        stored = await posts_services.post_by_number(uow, post.number)
        mine = await uow.volunteering.claim(post.number, m2.person_id)
    assert stale == [post.number]  # both had seen the full post with m1 in it
    assert mine.state == ClaimState.CLAIMED and (stored.places_taken, stored.state) == (1, PostState.FULL)


async def test_two_redemptions_at_once_never_go_below_zero(town):
    chen = await as_(town, "chen")
    post = await new_post(town, points=10)
    m1 = await as_(town, "m1")
    await do(town, posts_services.claim_post, POLICY, m1, post.number, MONDAY)
    await do(town, attendance_services.check_in, m1, post.number, photo(1), SATURDAY_9)
    await do(town, attendance_services.check_out, m1, post.number, photo(2), SATURDAY_9 + timedelta(hours=2))
    await do(town, attendance_services.confirm_service, POLICY, chen, post.number, m1.person_id, SATURDAY_9 + timedelta(hours=2))
    # both staff sessions see a balance of 10 and spend 8: the balance row's conditional update lets one through
    uows = [town.db.uow() for _ in range(2)]
    a, b = [await u.__aenter__() for u in uows]
    try:
        first = await points_services.redeem(a, chen, m1.person_id, town.dc.id, 8, "米", SATURDAY_9 + timedelta(days=1), ref="r1")
        second = asyncio.create_task(points_services.redeem(b, chen, m1.person_id, town.dc.id, 8, "油",
                                                            SATURDAY_9 + timedelta(days=1), ref="r2"))
        await asyncio.sleep(0.2)  # PostgreSQL: the second waits for the first's row lock
        await a.commit()
        with pytest.raises(NotEnoughPoints):
            await asyncio.wait_for(second, timeout=20)
    finally:
        for u in uows:
            await u.__aexit__(None, None, None)
    async with town.db.uow() as uow:
        assert await points_services.points_balance(uow, m1.person_id, town.dc.id) == 2
    assert first.delta == -8


async def test_migration_0004_builds_exactly_the_volunteering_tables(db):
    """`alembic upgrade` ran in the fixture; what it built must be what storage/volunteer_tables.py declares."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage import volunteer_tables
    from storage.tables import metadata

    from sqlalchemy import Table

    ours = {value.name for value in vars(volunteer_tables).values() if isinstance(value, Table)}
    async with db.engine.connect() as conn:
        diffs = await conn.run_sync(lambda c: compare_metadata(
            MigrationContext.configure(c, opts={"compare_type": True}), metadata))
    about_ours = [d for d in diffs if any(f"'{name}'" in repr(d) for name in ours)]
    assert len(ours) == 9 and about_ours == []


async def test_a_fixed_report_earns_the_reporter_its_categorys_points_once(town):
    from core import cases_services
    from core.cases import Category

    async with town.db.uow() as uow:
        await add_person(uow, town, "li", "李网格", RoleGrant(None, 0, Role.GRID_MEMBER, grid_id=town.grids["粮食局第一网格"].id))
    policy = cases_services.ReportPolicy(calendar=WorkCalendar(), report_points={"lights": 7, "default": 1})
    wang, li = await as_(town, "wang"), await as_(town, "li")

    async def fixed(category, confirm: bool) -> str:
        case = await do(town, cases_services.report_problem, policy, wang, town.buildings["3号楼"].id, category,
                        [PhotoRef(f"{category.value:0>64}"[-64:], PhotoKind.BEFORE)], "坏了", MONDAY)
        await do(town, cases_services.accept_case, li, case.number, MONDAY)
        await do(town, cases_services.resolve_case, li, case.number, PhotoRef("f" * 64, PhotoKind.AFTER), "修好了", MONDAY)
        if confirm:
            await do(town, cases_services.confirm_fix, wang, case.number, 5, MONDAY + timedelta(hours=1), policy=policy)
        return case.number

    lights = await fixed(Category.LIGHTS, confirm=True)
    noise = await fixed(Category.NOISE, confirm=False)
    async with town.db.uow() as uow:  # the resident never answers: closed as accepted after the wait, 1 point
        await cases_services.sweep(uow, policy, MONDAY + policy.confirm_wait + timedelta(minutes=1))
        await cases_services.sweep(uow, policy, MONDAY + policy.confirm_wait + timedelta(minutes=2))
        await uow.commit()
    earned = await outbox(town.db, "points.report_earned")
    assert [(r.person_id, r.payload["case"], r.payload["points"], r.payload["balance"]) for r in earned] == [
        (wang.person_id, lights, 7, 7), (wang.person_id, noise, 1, 8)]
    async with town.db.uow() as uow:
        assert await points_services.points_balance(uow, wang.person_id, town.dc.id) == 8
        case = await uow.cases.by_number(lights)
        assert await points_services.credit_report(uow, policy, case, MONDAY + timedelta(days=9)) is None  # never twice


async def test_staff_see_started_posts_until_every_claim_on_them_is_settled(town):
    """`unsettled_posts`: a place held by someone who never checked in (mark a no-show) or a check-out
    waiting for confirmation keeps a started post on the staff's list, ended or not; a member who
    checked in and never checked out keeps it there once it has ended; nothing else does."""
    chen, m1, m2, m3 = [await as_(town, k) for k in ("chen", "m1", "m2", "m3")]
    absent = await new_post(town, capacity=2, title="无人签到")
    served = await new_post(town, starts=SATURDAY_9 + timedelta(hours=3), capacity=2, title="签退待确认")
    busy = await new_post(town, starts=SATURDAY_9 + timedelta(hours=6), hours=4, title="还在服务")
    empty = await new_post(town, starts=SATURDAY_9 + timedelta(hours=1), title="没人接")
    coming = await new_post(town, starts=SATURDAY_9 + timedelta(days=1), title="明天")
    await do(town, posts_services.claim_post, POLICY, m1, absent.number, MONDAY)
    await do(town, posts_services.claim_post, POLICY, m2, served.number, MONDAY)
    await do(town, posts_services.claim_post, POLICY, m3, busy.number, MONDAY)
    await do(town, posts_services.claim_post, POLICY, m1, coming.number, MONDAY)
    await do(town, attendance_services.check_in, m2, served.number, photo(1), SATURDAY_9 + timedelta(hours=3))
    await do(town, attendance_services.check_out, m2, served.number, photo(2), SATURDAY_9 + timedelta(hours=5))
    await do(town, attendance_services.check_in, m3, busy.number, photo(3), SATURDAY_9 + timedelta(hours=6))
    evening = SATURDAY_9 + timedelta(hours=7)
    async with town.db.uow() as uow:
        await posts_services.complete_ended_posts(uow, evening)  # the first two have ended: done, but not settled
        await uow.commit()

    async def listed(now) -> list[str]:
        async with town.db.uow() as uow:
            return [p.title for p in await posts_services.unsettled_posts(uow, town.dc.id, now)]

    assert await listed(MONDAY) == []
    assert await listed(evening) == ["签退待确认", "无人签到"]  # most recent first; not 还在服务, 没人接, 明天
    async with town.db.uow() as uow:
        assert await posts_services.unsettled_posts(uow, town.communities["西城社区"].id, evening) == []
        assert (await posts_services.post_by_number(uow, absent.number)).state == PostState.DONE
    await do(town, attendance_services.confirm_service, POLICY, chen, served.number, m2.person_id, evening, rating=5)
    assert await listed(evening) == ["无人签到"]
    await do(town, attendance_services.mark_no_show, POLICY, chen, absent.number, m1.person_id, evening)
    assert await listed(evening) == []
    # m3 checked in at 15:00 and never checked out: once 还在服务 has ended (19:00) it is listed
    night = SATURDAY_9 + timedelta(hours=11)
    assert await listed(night) == ["还在服务"]
    with pytest.raises(NotAllowed):                            # a member cannot do it for another
        await do(town, attendance_services.check_out_for, m1, busy.number, m3.person_id, night)
    with pytest.raises(NotEndedYet):
        await do(town, attendance_services.check_out_for, chen, busy.number, m3.person_id, evening)
    claim_ = await do(town, attendance_services.check_out_for, chen, busy.number, m3.person_id, night)
    assert claim_.state == ClaimState.CHECKED_OUT and claim_.check_out_photo is None
    assert await listed(night) == ["还在服务"]                    # now it waits for confirmation
    async with town.db.uow() as uow:
        saved = await uow.volunteering.claim(busy.number, m3.person_id)
        assert saved.state == ClaimState.CHECKED_OUT and saved.check_out_photo is None
        assert saved.checked_out_at == SATURDAY_9 + timedelta(hours=10)   # the post's end
    confirmed = await do(town, attendance_services.confirm_service, POLICY, chen, busy.number, m3.person_id, night)
    assert confirmed.served == timedelta(hours=4)
    assert await listed(night) == []
