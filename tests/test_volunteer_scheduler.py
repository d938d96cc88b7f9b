"""The volunteering clock on SQLite and PostgreSQL: a theme-day month minute by minute where it
matters (made on the 14th, announced on the 21st, reminded on the 27th, summed up on the 29th,
each once), a month the bot was down over the 21st, quiet hours, and post reminders."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from core import theme_day_services
from core.volunteering import attendance_services, posts_services
from core.clock import ManualClock
from core.theme_day import JobKind, ThemeActivity, monthly_jobs
from core.volunteering.common import ClaimState, PostState
from core.workdays import CHINA_TZ
from scheduler.volunteering import volunteering_tick
from storage import tables
from tests.test_volunteer_services import POLICY, as_, do, outbox, photo, town  # noqa: F401  (fixture)


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHINA_TZ)


async def with_template(town, capacity: int = 2) -> None:
    await do(town, theme_day_services.define_template, await as_(town, "chen"), town.dc.id, at(12, 1, 10),
             title="楼道清扫", activity=ThemeActivity.CLEAN_UP, place="粮食局小区", capacity=capacity,
             points_per_person=3)


def moments(start: datetime, end: datetime, every: timedelta, *extra: datetime) -> list[datetime]:
    out, t = set(extra), start
    while t <= end:
        out.add(t)
        t += every
    return sorted(out)


async def run(town, clock, times, ran: dict[str, list[datetime]], between=None) -> None:
    """Tick at each moment (as the every-minute job would at that minute); record which job keys ran when."""
    for moment in times:
        clock.set(moment)
        if between is not None:
            await between(moment)
        result = await volunteering_tick(town.db, POLICY, clock)
        for key in result["theme_jobs"]:
            ran.setdefault(key, []).append(moment)
        if result["reminders"]:
            ran.setdefault("reminders", []).append((moment, result["reminders"]))


async def broadcasts(db) -> list:
    async with db.engine.connect() as conn:
        return list(await conn.execute(select(tables.broadcasts).order_by(tables.broadcasts.c.id)))


async def test_a_whole_theme_day_month_each_job_once(town):
    await with_template(town)
    dc, p = f"c{town.dc.id}", town.people
    clock = ManualClock(at(12, 1))
    ran: dict[str, list[datetime]] = {}
    key_moments = [at(12, 14, 8, 59), at(12, 14, 9), at(12, 14, 9, 1), at(12, 21, 8, 59), at(12, 21, 9),
                   at(12, 27, 18, 59), at(12, 27, 19), at(12, 28, 17, 29), at(12, 28, 17, 30), at(12, 28, 20, 31),
                   at(12, 29, 8, 59), at(12, 29, 9), at(12, 29, 9, 1)]
    state = {}

    async def members_act(moment: datetime) -> None:
        if moment == at(12, 21, 9):  # just before the announcement goes out, two members are quick
            for key in ("m1", "m2"):
                await do(town, posts_services.claim_post, POLICY, await as_(town, key), state["post"], moment)
        elif moment == at(12, 28, 20, 31):
            post, m1, chen = state["post"], await as_(town, "m1"), await as_(town, "chen")
            await do(town, attendance_services.check_in, m1, post, photo(1), at(12, 28, 18, 25))
            await do(town, attendance_services.check_out, m1, post, photo(2), at(12, 28, 20, 25))
            await do(town, attendance_services.confirm_service, POLICY, chen, post, m1.person_id, at(12, 28, 20, 30))
            await do(town, attendance_services.mark_no_show, POLICY, chen, post, p["m2"].id, at(12, 28, 20, 30))

    async def between(moment: datetime) -> None:
        if "post" not in state and moment > at(12, 14, 9):
            async with town.db.uow() as uow:
                posts = await uow.volunteering.theme_posts(town.dc.id, at(12, 28).date())
            state["post"] = posts[0].number
        await members_act(moment)

    await run(town, clock, moments(at(12, 1), at(12, 31, 23), timedelta(hours=6), *key_moments), ran, between)

    mine = {k: v for k, v in ran.items() if k.endswith(dc) and k.startswith("theme:2026-12")}
    assert mine == {f"theme:2026-12:create:{dc}": [at(12, 14, 9)],
                    f"theme:2026-12:announce:{dc}": [at(12, 21, 9)],
                    f"theme:2026-12:remind:{dc}": [at(12, 27, 19)],
                    f"theme:2026-12:summary:{dc}": [at(12, 29, 9)]}

    async with town.db.uow() as uow:
        post = await posts_services.post_by_number(uow, state["post"])
    # Monday 28 December is a working day: the activity starts after work; the clock closed it after it ended
    assert post.starts_at == at(12, 28, 18, 30) and post.template_id is not None
    assert post.state == PostState.DONE

    [announcement] = [b for b in await broadcasts(town.db) if b.kind == "theme.announce"]
    announced = await outbox(town.db, "theme.announce")
    assert sorted(r.person_id for r in announced) == sorted(p[k].id for k in ("m1", "m2", "m3"))  # not 西城's
    assert {r.broadcast_id for r in announced} == {announcement.id}
    assert state["post"] in announced[0].payload["posts"] and announced[0].payload["day"] == 28

    reminders = await outbox(town.db, "post.reminder")
    assert sorted((r.dedupe_key.split(":")[2], r.person_id) for r in reminders) == sorted(
        [("day_before", p["m1"].id), ("day_before", p["m2"].id), ("hour_before", p["m1"].id),
         ("hour_before", p["m2"].id)])
    assert ran["reminders"] == [(at(12, 28, 17, 30), 2)]  # the hour before; the day before was the remind job's

    [staff] = await outbox(town.db, "theme.summary_staff")
    assert staff.person_id == p["chen"].id
    assert {k: staff.payload[k] for k in ("posts", "places", "people", "hours", "no_shows", "unsettled")} == \
        {"posts": 1, "places": 2, "people": 1, "hours": 2.0, "no_shows": 1, "unsettled": 0}
    assert "党员甲" in staff.payload["names"]
    members = {r.person_id: r.payload for r in await outbox(town.db, "theme.summary_member")}
    assert set(members) == {p["m1"].id, p["m2"].id, p["m3"].id}
    assert (members[p["m1"].id]["services"], members[p["m1"].id]["points"], members[p["m1"].id]["balance"]) == (1, 3, 3)
    assert (members[p["m2"].id]["services"], members[p["m2"].id]["no_shows"]) == (0, 1)


async def test_bot_down_over_the_21st_announces_once_when_back_even_with_two_schedulers(town):
    await with_template(town)
    clock = ManualClock(at(12, 1))
    ran: dict[str, list[datetime]] = {}
    await run(town, clock, moments(at(12, 13), at(12, 20), timedelta(hours=12)), ran)
    assert [k for k in ran if "announce" in k] == []
    back = at(12, 23, 10, 15)  # down from the 20th to the 23rd
    clock.set(back)
    both = await asyncio.gather(volunteering_tick(town.db, POLICY, clock), volunteering_tick(town.db, POLICY, clock))
    announce = f"theme:2026-12:announce:c{town.dc.id}"
    assert sum(r["theme_jobs"].count(announce) for r in both) == 1
    await run(town, clock, moments(back, at(12, 26), timedelta(hours=3)), ran)
    assert announce not in ran  # never again after it ran
    assert [b.kind for b in await broadcasts(town.db)].count("theme.announce") == 1
    assert len(await outbox(town.db, "theme.announce")) == 3


async def test_quiet_hours_hold_the_announcement_and_delay_new_post_messages(town):
    await with_template(town)
    clock = ManualClock(at(12, 1))
    ran: dict[str, list[datetime]] = {}
    await run(town, clock, [at(12, 14, 9), at(12, 21, 23, 30), at(12, 22, 3), at(12, 22, 6, 59)], ran)
    announce = f"theme:2026-12:announce:c{town.dc.id}"
    assert announce not in ran                   # the bot came back at 23:30: not in the night
    await run(town, clock, [at(12, 22, 7), at(12, 22, 7, 1)], ran)
    assert ran[announce] == [at(12, 22, 7)]
    # staff put up a post late in the evening: members hear of it in the morning
    await do(town, posts_services.create_post, POLICY, await as_(town, "chen"), town.dc.id, at(12, 22, 23, 10), title="夜间巡逻",
             starts_at=at(12, 24, 19), ends_at=at(12, 24, 21), place="东城花园", capacity=2, points_per_person=2)
    rows = await outbox(town.db, "post.new")
    assert len(rows) == 3 and {r.not_before for r in rows} == {at(12, 23, 7).astimezone(timezone.utc)}


async def test_post_reminders_once_each_and_not_to_late_claimers(town):
    chen, m1, m2 = await as_(town, "chen"), await as_(town, "m1"), await as_(town, "m2")
    post = await do(town, posts_services.create_post, POLICY, chen, town.dc.id, at(12, 1, 10), title="陪老人聊天",
                    starts_at=at(12, 10, 15), ends_at=at(12, 10, 17), place="3号楼", capacity=3, points_per_person=2)
    await do(town, posts_services.claim_post, POLICY, m1, post.number, at(12, 2))
    clock = ManualClock(at(12, 9, 14, 59))
    await volunteering_tick(town.db, POLICY, clock)
    assert await outbox(town.db, "post.reminder") == []
    clock.set(at(12, 9, 15))
    first = await volunteering_tick(town.db, POLICY, clock)
    clock.set(at(12, 9, 15, 1))
    again = await volunteering_tick(town.db, POLICY, clock)
    assert (first["reminders"], again["reminders"]) == (1, 0)
    await do(town, posts_services.claim_post, POLICY, m2, post.number, at(12, 9, 20))  # after the day-before reminder
    clock.set(at(12, 10, 14))
    hour = await volunteering_tick(town.db, POLICY, clock)
    assert hour["reminders"] == 2
    rows = await outbox(town.db, "post.reminder")
    assert sorted((r.person_id, r.dedupe_key.split(":")[2]) for r in rows) == sorted(
        [(m1.person_id, "day_before"), (m1.person_id, "hour_before"), (m2.person_id, "hour_before")])
    assert rows[0].payload["starts_at"] == "2026-12-10T07:00:00+00:00" and rows[0].payload["place"] == "3号楼"
    clock.set(at(12, 10, 17, 1))
    assert (await volunteering_tick(town.db, POLICY, clock))["completed"] == 1
    async with town.db.uow() as uow:
        assert (await posts_services.post_by_number(uow, post.number)).state == PostState.DONE
        assert [c.state for c in await posts_services.claims_of_post(uow, post.number)] == [ClaimState.CLAIMED] * 2


async def test_a_template_defined_after_the_months_posts_were_made_gets_its_post_at_once(town):
    """After the 14th this month's create job has run: a new activity gets its post for the 28th right
    away (and is announced if the 21st has passed), never twice; before the 14th, or once the theme
    day is over, it waits for a create job."""
    chen = await as_(town, "chen")
    clock = ManualClock(at(12, 10))

    async def define(title: str, moment: datetime) -> list[str]:
        clock.set(moment)
        await do(town, theme_day_services.define_template, chen, town.dc.id, moment, policy=POLICY, title=title,
                 activity=ThemeActivity.POLICY_TALK, place="党群服务中心", capacity=10, points_per_person=2)
        async with town.db.uow() as uow:
            return [p.title for p in await uow.volunteering.theme_posts(town.dc.id, at(12, 28).date())]

    assert await define("早于14日", at(12, 10)) == []  # the create job will make it
    await run(town, clock, [at(12, 14, 9)], {})
    assert await define("政策宣讲", at(12, 16, 10)) == ["早于14日", "政策宣讲"]
    async with town.db.uow() as uow:
        [post] = [p for p in await uow.volunteering.theme_posts(town.dc.id, at(12, 28).date()) if p.title == "政策宣讲"]
        assert post.starts_at == at(12, 28, 18, 30) and post.template_id is not None  # a working day: after work
        # the job running again (a second scheduler, a replay) finds the post there
        [create] = [j for j in monthly_jobs(2026, 12) if j.kind == JobKind.CREATE]
        await theme_day_services._theme_create(uow, POLICY, town.dc.id, create, at(12, 16, 11))
        await uow.commit()
    assert await outbox(town.db, "post.new") == []  # the announcement on the 21st will name it

    await run(town, clock, [at(12, 21, 9)], {})
    assert await define("走访慰问", at(12, 22, 10)) == ["早于14日", "政策宣讲", "走访慰问"]
    told = await outbox(town.db, "post.new")  # announced already: the members hear of this one now
    assert sorted(r.person_id for r in told) == sorted(town.people[k].id for k in ("m1", "m2", "m3"))
    assert {r.payload["title"] for r in told} == {"走访慰问"}

    assert await define("太晚了", at(12, 28, 19)) == ["早于14日", "政策宣讲", "走访慰问"]  # that day has begun
