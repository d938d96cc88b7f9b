"""Theme-day templates as staff keep them (/themes), on SQLite and PostgreSQL: the active list,
retiring (only by the community's staff, once, recorded), and an activity added after this month's
create job ran getting its post at once."""

from __future__ import annotations

from datetime import datetime

import pytest

from core import theme_day_services
from core.errors import NotAllowed, NotFound
from core.theme_day import JobKind, ThemeActivity, job_key
from core.workdays import CHINA_TZ
from tests.factories import add_person, staff_of
from tests.test_volunteer_services import POLICY, as_, do, town  # noqa: F401  (fixture)

DEC_16 = datetime(2026, 12, 16, 10, 0, tzinfo=CHINA_TZ)


async def define(town, title: str, now: datetime = DEC_16, **extra):
    fields = dict(activity=ThemeActivity.POLICY_TALK, place="党群服务中心", capacity=10, points_per_person=2)
    return await do(town, theme_day_services.define_template, await as_(town, "chen"), town.dc.id, now, policy=POLICY,
                    title=title, **{**fields, **extra})


async def listed(town) -> list[str]:
    async with town.db.uow() as uow:
        return [t.title for t in await theme_day_services.theme_templates(uow, town.dc.id)]


async def test_staff_list_and_retire_activities_once_with_an_event(town):
    talk = await define(town, "政策宣讲")
    await define(town, "义务清扫", activity=ThemeActivity.CLEAN_UP, workday_starts=None)
    assert await listed(town) == ["政策宣讲", "义务清扫"]
    retired = await do(town, theme_day_services.retire_template, await as_(town, "chen"), talk.id, DEC_16)
    assert retired.active is False
    assert await listed(town) == ["义务清扫"]
    await do(town, theme_day_services.retire_template, await as_(town, "chen"), talk.id, DEC_16)  # twice is once
    async with town.db.uow() as uow:
        kinds = [e.kind for e in await uow.events.of("theme_template", str(talk.id))]
        kept = await uow.volunteering.templates(town.dc.id, active_only=False)
    assert kinds == ["theme_template_defined", "theme_template_retired"]
    assert [t.title for t in kept] == ["政策宣讲", "义务清扫"]  # retired, not deleted


async def test_only_the_communitys_staff_may_retire(town):
    talk = await define(town, "政策宣讲")
    async with town.db.uow() as uow:
        await add_person(uow, town, "xi_staff", "西城书记", staff_of(town.communities["西城社区"]))
    for who in ("wang", "m1", "xi", "xi_staff"):
        with pytest.raises(NotAllowed):
            await do(town, theme_day_services.retire_template, await as_(town, who), talk.id, DEC_16)
    with pytest.raises(NotFound):
        await do(town, theme_day_services.retire_template, await as_(town, "chen"), talk.id + 999, DEC_16)
    assert await listed(town) == ["政策宣讲"]
    async with town.db.uow() as uow:
        assert [e.kind for e in await uow.events.of("theme_template", str(talk.id))] == ["theme_template_defined"]


async def test_an_activity_added_after_the_create_job_gets_this_months_post_and_keeps_it_when_retired(town):
    before = await define(town, "早于14日", now=datetime(2026, 12, 10, 10, 0, tzinfo=CHINA_TZ))
    async with town.db.uow() as uow:  # the 14th's create job ran for the community
        await uow.volunteering.mark_done(f"{job_key(2026, 12, JobKind.CREATE)}:c{town.dc.id}", DEC_16)
        await uow.commit()
    late = await define(town, "走访慰问", activity=ThemeActivity.VISIT_ELDERLY)
    async with town.db.uow() as uow:
        posts = await uow.volunteering.theme_posts(town.dc.id, DEC_16.date().replace(day=28))
    assert [p.template_id for p in posts] == [late.id]  # the earlier one waited for the job, which ran
    assert posts[0].starts_at == datetime(2026, 12, 28, 18, 30, tzinfo=CHINA_TZ)  # a Monday: after work
    await do(town, theme_day_services.retire_template, await as_(town, "chen"), late.id, DEC_16)
    async with town.db.uow() as uow:
        kept = await uow.volunteering.theme_posts(town.dc.id, DEC_16.date().replace(day=28))
    assert [p.title for p in kept] == ["走访慰问"] and before.id != late.id  # the month's post stays


def test_every_refusal_of_an_activity_sends_the_dialog_back_to_its_step_with_words():
    import core.theme_day
    from bot.scenes.theme import SCENES, STEP_OF_WHY, parse_time
    from bot.scenes.post import BadInput
    from texts import en, zh

    from datetime import timedelta

    from core.volunteering.common import BadPost

    good = dict(id=3, community_id=1, title="政策宣讲", activity=core.theme_day.ThemeActivity.POLICY_TALK,
                place="党群服务中心", capacity=20, points_per_person=10)
    core.theme_day._check_template(core.theme_day.ThemeDayTemplate(**good))
    broken = [{"title": ""}, {"place": ""}, {"capacity": 0}, {"points_per_person": -1},
              {"duration": timedelta(minutes=5)}]
    whys = set()
    for change in broken:  # every way a template can be refused, and the why it is refused with
        with pytest.raises(BadPost) as refused:
            core.theme_day._check_template(core.theme_day.ThemeDayTemplate(**(good | change)))
        whys.add(refused.value.params["why"])
    assert whys == set(STEP_OF_WHY)
    states = {scene.__scene_config__.state for scene in SCENES}
    assert set(STEP_OF_WHY.values()) <= states
    assert all(f"theme.bad.{why}" in zh.TEXTS and f"theme.bad.{why}" in en.TEXTS for why in whys)
    assert [parse_time(t) for t in ("19:00", "7：30", "18点", "none")] == ["19:00", "07:30", "18:00", "none"]
    for bad in ("晚上", "25:00", "18:61"):
        with pytest.raises(BadInput):
            parse_time(bad)
