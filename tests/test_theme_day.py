"""The 28th theme day (主题党日): the date rule, its time of day, and the monthly jobs.

Calendar facts used (chinese_calendar's data, State Council notices):
2026-03-28 and 2026-11-28 are plain Saturdays off; 2026-02-28 is a Saturday *worked* (调休
for the Spring Festival); no 28th of 2026 is a public holiday; 2025-01-28 (a Tuesday) is
Spring Festival eve, a holiday. 2027 is not announced yet: the calendar estimates it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from core.cases import Actor
from core.errors import NotAllowed
from core.people import Role, RoleGrant, Roles
from core.points import PointsEntry, PointsReason
from core.theme_day import (
    DayKind, JobKind, ThemeActivity, ThemeDaySchedule, ThemeDayTemplate, day_kind, define_template, due_jobs,
    job_key, member_month, monthly_jobs, participation_summary, retire_template, theme_day_for, theme_post,
    theme_slot,
)
from core.volunteering.attendance import check_in, check_out, confirm_service, mark_no_show
from core.volunteering.common import BadPost, ClaimState
from core.volunteering.posts import Claim, Standing, claim, create_post
from core.workdays import CHINA_TZ, WorkCalendar

CAL = WorkCalendar()
HOME = 7
DESK = Actor(1, Roles([RoleGrant(None, 1, Role.STAFF, community_id=HOME)]))


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)


def template(**kw) -> ThemeDayTemplate:
    args = dict(id=3, community_id=HOME, title="政策宣讲", activity=ThemeActivity.POLICY_TALK,
                place="明珠社区党群服务中心", capacity=20, points_per_person=10) | kw
    return ThemeDayTemplate(**args)


# --- the date rule ---------------------------------------------------------------------------


def test_the_theme_day_is_always_the_28th():
    for year in (2025, 2026, 2027, 2028):
        assert [theme_day_for(year, m, CAL) for m in range(1, 13)] == [date(year, m, 28) for m in range(1, 13)]


def test_no_28th_of_2026_is_a_public_holiday():
    """Checked against the official 2026 data: weekends yes, holidays no."""
    kinds = {m: day_kind(theme_day_for(2026, m, CAL), CAL) for m in range(1, 13)}
    assert DayKind.HOLIDAY not in kinds.values()
    assert [m for m, k in kinds.items() if k == DayKind.REST_DAY] == [3, 6, 11]   # Sat, Sun, Sat
    assert kinds[2] == DayKind.WORKDAY                                           # Saturday 2026-02-28, 调休


def test_a_28th_on_a_saturday_keeps_the_date_and_runs_in_the_morning():
    day = theme_day_for(2026, 3, CAL)
    assert day == date(2026, 3, 28) and day.weekday() == 5 and day_kind(day, CAL) == DayKind.REST_DAY
    assert theme_slot(template(), day, CAL) == (at(2026, 3, 28, 9), at(2026, 3, 28, 11))


def test_a_28th_on_a_swapped_working_saturday_runs_after_work():
    day = theme_day_for(2026, 2, CAL)
    assert day.weekday() == 5 and day_kind(day, CAL) == DayKind.WORKDAY
    assert theme_slot(template(), day, CAL) == (at(2026, 2, 28, 18, 30), at(2026, 2, 28, 20, 30))


def test_a_28th_on_a_public_holiday_keeps_the_date_and_runs_in_the_morning():
    day = theme_day_for(2025, 1, CAL)                       # Spring Festival eve, a Tuesday
    assert day.weekday() == 1 and day_kind(day, CAL) == DayKind.HOLIDAY
    visit = template(title="走访慰问老党员", activity=ThemeActivity.VISIT_ELDERLY, rest_day_starts=time(9, 30))
    assert theme_slot(visit, day, CAL) == (at(2025, 1, 28, 9, 30), at(2025, 1, 28, 11, 30))


def test_an_ordinary_working_28th_and_a_template_held_only_on_rest_days():
    day = theme_day_for(2026, 12, CAL)                      # Monday
    assert day_kind(day, CAL) == DayKind.WORKDAY
    assert theme_slot(template(), day, CAL)[0] == at(2026, 12, 28, 18, 30)
    clean_up = template(activity=ThemeActivity.CLEAN_UP, title="义务清扫", workday_starts=None)
    assert theme_slot(clean_up, day, CAL) is None
    assert theme_post(clean_up, 2026, 12, CAL, at(2026, 12, 14, 9), number="DC-GW-2026-000100") is None
    assert theme_slot(clean_up, theme_day_for(2026, 11, CAL), CAL)[0] == at(2026, 11, 28, 9)


def test_a_year_not_yet_announced_is_estimated_not_refused():
    assert day_kind(date(2027, 2, 28), CAL) == DayKind.REST_DAY   # a Sunday
    assert day_kind(date(2027, 1, 28), CAL) == DayKind.WORKDAY    # a Thursday


# --- templates and the posts they make -------------------------------------------------------


def test_staff_keep_templates_and_the_scheduler_makes_the_months_posts():
    with pytest.raises(NotAllowed):
        define_template(Actor(9, Roles([RoleGrant(None, 9, Role.STAFF, community_id=8)])), HOME, at(2026, 6, 1),
                        title="政策宣讲", activity=ThemeActivity.POLICY_TALK, place="中心", capacity=10,
                        points_per_person=5)
    with pytest.raises(BadPost):
        define_template(DESK, HOME, at(2026, 6, 1), title="x", activity="clean_up", place="中心", capacity=0,
                        points_per_person=5)
    t = define_template(DESK, HOME, at(2026, 6, 1), title=" 政策  宣讲 ", activity="policy_talk", place="中心",
                        capacity=10, points_per_person=5)
    assert t.title == "政策 宣讲" and t.activity == ThemeActivity.POLICY_TALK
    t.id = 5
    post = theme_post(t, 2026, 6, CAL, at(2026, 6, 14, 9), number="DC-GW-2026-000101")
    assert post.template_id == 5 and post.created_by is None and post.is_theme_day
    assert post.starts_at == at(2026, 6, 28, 9)              # a Sunday
    assert post.pending_events[0].actor_id is None
    retire_template(t, DESK, at(2026, 6, 20))
    assert not t.active and theme_post(t, 2026, 7, CAL, at(2026, 7, 14, 9), number="n") is None


def test_no_post_is_made_for_a_slot_already_over():
    # The bot came back on the evening of Saturday 2026-03-28: the morning activity is past.
    assert theme_post(template(), 2026, 3, CAL, at(2026, 3, 28, 12), number="n") is None
    evening = theme_post(template(), 2026, 4, CAL, at(2026, 4, 28, 12), number="n")   # a Tuesday
    assert evening is not None and evening.starts_at == at(2026, 4, 28, 18, 30)


# --- the monthly jobs -------------------------------------------------------------------------


def test_monthly_jobs_and_their_keys():
    jobs = monthly_jobs(2026, 12)
    assert [(j.kind, j.due_at, j.dedupe_key) for j in jobs] == [
        (JobKind.CREATE, at(2026, 12, 14, 9), "theme:2026-12:create"),
        (JobKind.ANNOUNCE, at(2026, 12, 21, 9), "theme:2026-12:announce"),
        (JobKind.REMIND, at(2026, 12, 27, 19), "theme:2026-12:remind"),
        (JobKind.SUMMARY, at(2026, 12, 29, 9), "theme:2026-12:summary"),
    ]
    assert all(j.theme_day == date(2026, 12, 28) for j in jobs)


def test_february_summary_runs_on_the_first_of_march_in_a_common_year_and_the_29th_in_a_leap_year():
    feb = {j.kind: j for j in monthly_jobs(2026, 2)}
    assert feb[JobKind.SUMMARY].due_at == at(2026, 3, 1, 9)
    assert feb[JobKind.SUMMARY].dedupe_key == "theme:2026-02:summary" == job_key(2026, 2, JobKind.SUMMARY)
    leap = {j.kind: j for j in monthly_jobs(2028, 2)}
    assert leap[JobKind.SUMMARY].due_at == at(2028, 2, 29, 9)
    # On 1 March 2026 the summary belongs to February, and March has nothing due yet.
    assert [j.dedupe_key for j in due_jobs(at(2026, 3, 1, 9, 5), set())] == ["theme:2026-02:summary"]


def test_december_summary_missed_over_new_year_runs_in_january():
    assert due_jobs(at(2026, 12, 29, 8, 59), {"theme:2026-12:create", "theme:2026-12:announce",
                                             "theme:2026-12:remind"}) == []
    due = due_jobs(at(2027, 1, 2, 10), {"theme:2026-12:create", "theme:2026-12:announce", "theme:2026-12:remind"})
    assert [j.dedupe_key for j in due] == ["theme:2026-12:summary"]
    assert due_jobs(at(2027, 1, 2, 10), {"theme:2026-12:summary"}) == []     # January's jobs are not due yet


def test_downtime_over_the_21st_runs_the_announcement_once_when_the_bot_is_back():
    done = {"theme:2026-06:create"}
    assert due_jobs(at(2026, 6, 20, 18), done) == []                        # before the bot went down
    back = due_jobs(at(2026, 6, 23, 10), done)                              # down 20th–23rd
    assert [j.dedupe_key for j in back] == ["theme:2026-06:announce"]
    done.add(back[0].dedupe_key)                                            # storage marks it in the same commit
    assert due_jobs(at(2026, 6, 23, 10, 1), done) == []
    assert due_jobs(at(2026, 6, 25, 10), done) == []                        # and never again


def test_missed_jobs_run_in_the_order_they_were_due():
    due = due_jobs(at(2026, 6, 27, 20), set())
    assert [j.kind for j in due] == [JobKind.CREATE, JobKind.ANNOUNCE, JobKind.REMIND]


def test_jobs_that_tell_people_wait_for_the_end_of_quiet_hours():
    night = due_jobs(at(2026, 6, 22, 23, 30), set())
    assert [j.kind for j in night] == [JobKind.CREATE]                      # posts may be made at night
    morning = due_jobs(at(2026, 6, 23, 7), {"theme:2026-06:create"})
    assert [j.kind for j in morning] == [JobKind.ANNOUNCE]
    assert [j.kind for j in due_jobs(at(2026, 6, 22, 23, 30), set(), quiet_start=None)] == \
        [JobKind.CREATE, JobKind.ANNOUNCE]


def test_stale_jobs_are_not_run():
    # Down from the 13th of June to the 29th: creating, announcing and reminding are pointless now.
    assert [j.kind for j in due_jobs(at(2026, 6, 29, 10), set())] == [JobKind.SUMMARY]
    # A summary more than a week late is not sent.
    assert due_jobs(at(2026, 7, 6, 8, 59), set())[0].kind == JobKind.SUMMARY
    assert [j.kind for j in due_jobs(at(2026, 7, 6, 9), set())] == []


def test_the_schedule_is_a_setting():
    early = ThemeDaySchedule(create_day=1, announce_day=20, remind_day=27)
    assert [j.due_at.day for j in monthly_jobs(2026, 6, early)] == [1, 20, 27, 29]
    with pytest.raises(ValueError):
        ThemeDaySchedule(announce_day=28)
    with pytest.raises(ValueError):
        ThemeDaySchedule(create_day=22)
    with pytest.raises(ValueError):
        due_jobs(datetime(2026, 6, 23, 10), set())


# --- who took part -----------------------------------------------------------------------------


def _member(pid: int) -> Actor:
    return Actor(pid, Roles([RoleGrant(None, pid, Role.PARTY_MEMBER, community_id=HOME)]))


def test_participation_summary_and_each_members_month():
    now = at(2026, 6, 14, 9)
    talk = theme_post(template(capacity=4), 2026, 6, CAL, now, number="DC-GW-2026-000200")   # Sun 09:00–11:00
    weekday = create_post(DESK, HOME, now, number="DC-GW-2026-000201", title="陪老人聊天",
                          starts_at=at(2026, 6, 16, 15), ends_at=at(2026, 6, 16, 16), place="3号楼",
                          capacity=1, points_per_person=3)
    wang, li, zhao = _member(21), _member(22), _member(23)
    c_wang = claim(talk, wang, now)
    c_li = claim(talk, li, now)
    c_zhao = claim(talk, zhao, now)
    c_sun = claim(talk, _member(24), now)                              # nobody settled it yet
    check_in(c_wang, talk, wang, "a", at(2026, 6, 28, 9))
    check_out(c_wang, talk, wang, "b", at(2026, 6, 28, 12))           # 3 h, capped at 2 h
    confirm_service(c_wang, talk, DESK, at(2026, 6, 28, 12))
    check_in(c_li, talk, li, "c", at(2026, 6, 28, 9, 30))
    check_out(c_li, talk, li, "d", at(2026, 6, 28, 10, 30))
    standing = Standing(23, HOME)
    mark_no_show(c_zhao, talk, standing, DESK, at(2026, 6, 28, 11))
    c_w2 = claim(weekday, wang, now, other_posts=[talk])
    check_in(c_w2, weekday, wang, "e", at(2026, 6, 16, 15))
    check_out(c_w2, weekday, wang, "f", at(2026, 6, 16, 16))
    confirm_service(c_w2, weekday, DESK, at(2026, 6, 16, 17), rating=5)
    stray = Claim(None, "DC-GW-2026-000999", 25, ClaimState.CLAIMED, now, now)   # not on a theme post

    summary = participation_summary(HOME, date(2026, 6, 28), [talk, weekday],
                                    [c_wang, c_li, c_zhao, c_sun, c_w2, stray])
    assert summary.posts == 1 and summary.places == 4
    assert [(p.person_id, p.posts, p.hours) for p in summary.took_part] == \
        [(21, 1, timedelta(hours=2)), (22, 1, timedelta(hours=1))]
    assert summary.no_shows == [23] and summary.unsettled == [24] and summary.hours == timedelta(hours=3)

    entries = [PointsEntry(21, HOME, 3, PointsReason.SERVICE, "claim:201", at(2026, 6, 16, 17)),
               PointsEntry(21, HOME, 10, PointsReason.SERVICE, "claim:200", at(2026, 6, 28, 12)),
               PointsEntry(21, HOME, 4, PointsReason.SERVICE, "old", at(2026, 5, 31, 23, 59)),
               PointsEntry(21, HOME, -5, PointsReason.REDEMPTION, "r1", at(2026, 6, 29, 8))]
    month = member_month(21, HOME, 2026, 6, [(c_wang, talk), (c_w2, weekday), (c_li, talk)], entries)
    assert (month.services, month.theme_days, month.hours, month.no_shows) == (2, 1, timedelta(hours=3), 0)
    assert (month.points_earned, month.balance) == (13, 12)
    assert member_month(23, HOME, 2026, 6, [(c_zhao, talk)], entries).no_shows == 1
