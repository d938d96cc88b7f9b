"""China's working days and the deadlines counted in them.

The 2026 dates come from chinese_calendar's data (the State Council notice of November 2025):
New Year Jan 1–3 with Sunday Jan 4 worked; Spring Festival Feb 15–23 with Saturdays Feb 14 and
Feb 28 worked; Qingming Apr 4–6; Labour Day May 1–5 with Saturday May 9 worked; Mid-Autumn
Sep 25–27; National Day Oct 1–7 with Sunday Sep 20 and Saturday Oct 10 worked.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

import pytest

from core.workdays import CHINA_TZ, FALLBACK, OFFICIAL, WorkCalendar


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)


def fallback_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "core.workdays" and r.levelno == logging.WARNING]


def test_swapped_weekend_days_are_workdays():
    cal = WorkCalendar()
    assert date(2026, 1, 4).weekday() == 6 and cal.is_workday(date(2026, 1, 4))     # Sunday, 调休
    assert date(2026, 2, 14).weekday() == 5 and cal.is_workday(date(2026, 2, 14))   # Saturday, 调休
    assert date(2026, 10, 10).weekday() == 5 and cal.is_workday(date(2026, 10, 10))
    assert not cal.is_workday(date(2026, 2, 15))    # a Sunday inside the Spring Festival
    assert not cal.is_workday(date(2026, 3, 7))     # a plain Saturday
    assert cal.source(date(2026, 2, 14)) == OFFICIAL


def test_national_day_week_2026():
    cal = WorkCalendar()
    assert [cal.is_workday(date(2026, 10, d)) for d in range(1, 11)] == \
        [False] * 7 + [True, True, True]            # Oct 8 Thu, Oct 9 Fri, Oct 10 swapped Saturday


def test_report_before_national_day_gets_two_whole_working_days_after_it():
    cal = WorkCalendar()
    # 17:59 on Wednesday Sep 30: the report day is Sep 30; two working days after it are Oct 8, 9.
    assert cal.add_working_days(at(2026, 9, 30, 17, 59), 2) == at(2026, 10, 9, 18, 0)
    # A minute after the working day ends the report belongs to Oct 8; day two is the swapped Saturday.
    assert cal.add_working_days(at(2026, 9, 30, 18, 0), 2) == at(2026, 10, 10, 18, 0)


def test_friday_1759_before_qingming():
    cal = WorkCalendar()
    # Fri Apr 3 17:59, holiday Sat Apr 4 – Mon Apr 6: not due on the first day back.
    assert cal.add_working_days(at(2026, 4, 3, 17, 59), 2) == at(2026, 4, 8, 18, 0)


def test_spring_festival_2026():
    cal = WorkCalendar()
    assert not any(cal.is_workday(date(2026, 2, d)) for d in range(15, 24))
    # Friday Feb 13: day one is the swapped Saturday Feb 14, day two the first day after the holiday.
    assert cal.add_working_days(at(2026, 2, 13), 2) == at(2026, 2, 24, 18, 0)
    # Reported on New Year's Eve itself: counting starts on Feb 24.
    assert cal.report_day(at(2026, 2, 16)) == date(2026, 2, 24)
    assert cal.add_working_days(at(2026, 2, 16), 2) == at(2026, 2, 26, 18, 0)


def test_report_on_a_saturday_counts_from_monday():
    cal = WorkCalendar()
    assert cal.add_working_days(at(2026, 3, 7, 10), 2) == at(2026, 3, 11, 18, 0)


def test_report_on_a_swapped_saturday_counts_that_saturday():
    cal = WorkCalendar()
    assert cal.add_working_days(at(2026, 10, 10, 10), 2) == at(2026, 10, 13, 18, 0)


def test_report_late_on_a_working_day_counts_from_the_next_one():
    cal = WorkCalendar()
    assert cal.add_working_days(at(2026, 3, 10, 20, 30), 2) == at(2026, 3, 13, 18, 0)
    assert cal.add_working_days(at(2026, 3, 10, 7, 0), 2) == at(2026, 3, 12, 18, 0)   # early morning: same day
    assert cal.add_working_days(at(2026, 3, 10, 11), 0) == at(2026, 3, 10, 18, 0)


def test_deadlines_accept_any_time_zone_and_answer_in_china_time():
    cal = WorkCalendar()
    from datetime import timezone
    utc_evening = datetime(2026, 3, 10, 10, 30, tzinfo=timezone.utc)   # 18:30 in Shanghai
    deadline = cal.add_working_days(utc_evening, 2)
    assert deadline == at(2026, 3, 13, 18, 0) and deadline.tzinfo == CHINA_TZ
    with pytest.raises(ValueError):
        cal.add_working_days(datetime(2026, 3, 10, 10), 2)   # naive: which 18:00?


def test_working_time_counts_only_office_hours_of_working_days():
    cal = WorkCalendar()
    # Fri 16:00 → Mon 10:00: two hours on Friday, one on Monday.
    assert cal.working_time_between(at(2026, 3, 6, 16), at(2026, 3, 9, 10)) == timedelta(hours=3)
    # Across the National Day week: Sep 30 17:00 → Oct 8 10:00 is two hours.
    assert cal.working_time_between(at(2026, 9, 30, 17), at(2026, 10, 8, 10)) == timedelta(hours=2)
    assert cal.working_time_between(at(2026, 3, 9, 10), at(2026, 3, 9, 9)) == timedelta(0)


def test_half_time_falls_in_working_hours():
    cal = WorkCalendar()
    reported = at(2026, 3, 9, 10)                    # Monday 10:00
    deadline = cal.add_working_days(reported, 2)     # Wednesday 18:00; 8 + 9 + 9 = 26 working hours
    assert cal.point_in_working_time(reported, deadline, 0.5) == at(2026, 3, 10, 14)
    assert cal.point_in_working_time(reported, deadline, 1) == deadline
    assert cal.point_in_working_time(reported, deadline, 0) == reported
    # Reported on a holiday: the clock starts when the office opens.
    holiday_report = at(2026, 10, 3, 12)
    assert cal.point_in_working_time(holiday_report, cal.add_working_days(holiday_report, 2), 0) == \
        at(2026, 10, 8, 9)
    with pytest.raises(ValueError):
        cal.point_in_working_time(reported, deadline, 1.5)


def test_working_hours_are_settable():
    cal = WorkCalendar(day_starts=time(8, 30), day_ends=time(17, 30))
    assert cal.add_working_days(at(2026, 3, 10, 17, 45), 1) == at(2026, 3, 12, 17, 30)
    assert cal.working_time_between(at(2026, 3, 10, 0), at(2026, 3, 11, 0)) == timedelta(hours=9)


def test_2027_is_estimated_without_crashing(caplog):
    cal = WorkCalendar()
    caplog.set_level(logging.WARNING, logger="core.workdays")
    assert cal.source(date(2027, 3, 10)) == FALLBACK
    assert not cal.is_workday(date(2027, 1, 1))          # New Year's Day
    assert cal.is_workday(date(2027, 3, 10))             # a plain Wednesday
    assert not cal.is_workday(date(2027, 3, 13))         # a plain Saturday
    assert not cal.is_workday(date(2027, 10, 1))         # National Day
    # From the last official day into the estimated year: Jan 1 holiday, then the weekend.
    assert cal.add_working_days(at(2026, 12, 31, 10), 2) == at(2027, 1, 5, 18, 0)


def test_later_years_up_to_2100_and_beyond_never_crash():
    cal = WorkCalendar()
    assert cal.is_workday(date(2031, 3, 12))             # a Wednesday
    assert not cal.is_workday(date(2031, 10, 1))
    for year in (2031, 2050, 2099, 2100, 2101):
        deadline = cal.add_working_days(at(year, 12, 30, 17), 2)
        assert deadline > at(year, 12, 30, 17)
        assert cal.working_time_between(at(year, 12, 30, 17), deadline) > timedelta(0)


def test_fallback_is_warned_once_per_year(caplog):
    cal = WorkCalendar()
    caplog.set_level(logging.WARNING, logger="core.workdays")
    for d in range(1, 29):
        cal.is_workday(date(2027, 2, d))
    cal.add_working_days(at(2027, 5, 6), 10)
    assert len(fallback_warnings(caplog)) == 1 and "2027" in fallback_warnings(caplog)[0]
    cal.is_workday(date(2031, 1, 2))
    cal.is_workday(date(2031, 1, 3))
    assert len(fallback_warnings(caplog)) == 2 and "2031" in fallback_warnings(caplog)[1]
    cal.is_workday(date(2026, 5, 6))                     # official years never warn
    assert len(fallback_warnings(caplog)) == 2
