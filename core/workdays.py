"""China's working days, and deadlines counted in them ("两个工作日内").

Working days follow the State Council's yearly holiday notice, swapped weekend
workdays (调休) included, as packaged by `chinese_calendar`. That package only knows
the years already announced; for any other year we estimate with the `holidays`
package's China calendar (public holidays, no swapped workdays) and plain
Saturday/Sunday rest, and say so in the log once per year. A deadline is never
refused because a year has not been announced yet.

The deadline rule (`WorkCalendar.add_working_days`):

* A report belongs to a *report day*: the day it was made, if that is a working day
  and the report came before the end of the working day (18:00); otherwise the next
  working day. Evenings, weekends and holidays count as "first thing next working day".
* "Within N working days" ends at 18:00 of the N-th working day *after* the report day.
  The report day itself never counts, however early the report came, so a handler
  always has N whole working days: a report at 17:59 on the Friday before a holiday is
  due at 18:00 on the second working day after the holiday, not at the first one.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import Iterator
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays

log = logging.getLogger(__name__)

CHINA_TZ = ZoneInfo("Asia/Shanghai")
OFFICIAL = "official"
FALLBACK = "fallback"

# The longest run of rest days China has had is about nine; this only stops a broken
# calendar from looping for ever.
_MAX_REST_RUN = 366


class WorkCalendar:
    """Working days and working hours in one time zone (China's by default).

    `day_starts`/`day_ends` bound the working hours (09:00–18:00): deadlines fall at
    `day_ends`, and "half the time has passed" is measured in working hours only.
    """

    def __init__(self, *, day_starts: time = time(9, 0), day_ends: time = time(18, 0),
                 tz: ZoneInfo = CHINA_TZ) -> None:
        if not day_starts < day_ends:
            raise ValueError("the working day must start before it ends")
        self.day_starts = day_starts
        self.day_ends = day_ends
        self.tz = tz
        self._estimated_holidays: dict[int, frozenset[date]] = {}
        self._warned_years: set[int] = set()

    # --- which days are working days -------------------------------------------------

    def is_workday(self, d: date) -> bool:
        """True on working days, including weekend days swapped into work (调休)."""
        d = self._as_date(d)
        official = _official_workday(d)
        if official is not None:
            return official
        return self._estimated_workday(d)

    def source(self, d: date) -> str:
        """"official" when the year's holiday notice is known, else "fallback" (an estimate)."""
        return OFFICIAL if _official_workday(self._as_date(d)) is not None else FALLBACK

    def next_workday(self, d: date) -> date:
        """The first working day strictly after `d`."""
        for _ in range(_MAX_REST_RUN):
            d += timedelta(days=1)
            if self.is_workday(d):
                return d
        raise RuntimeError(f"no working day within a year after {d}")

    def report_day(self, moment: datetime) -> date:
        """The working day a report made at `moment` belongs to (see the module's rule)."""
        local = self._local(moment)
        day = local.date()
        if self.is_workday(day) and local.time() < self.day_ends:
            return day
        return self.next_workday(day)

    # --- deadlines and working time --------------------------------------------------

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The deadline for "within `days` working days" of a report made at `start`.

        18:00 local time on the `days`-th working day after the report day; with
        `days=0`, the end of the report day itself. Returned in the calendar's zone.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        day = self.report_day(start)
        for _ in range(days):
            day = self.next_workday(day)
        return self._at(day, self.day_ends)

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working hours between two moments, counting only 09:00–18:00 of working days."""
        total = timedelta(0)
        for opens, closes in self._working_windows(a, b):
            total += closes - opens
        return total

    def point_in_working_time(self, start: datetime, deadline: datetime, fraction: float) -> datetime:
        """The moment when `fraction` of the working time from `start` to `deadline` has passed.

        With 0.5 this is the "half time" reminder. It always falls inside working hours;
        when no working time lies in between (both on one holiday) the wall-clock share is
        used instead, and a deadline already past is returned as it is.
        """
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        if deadline <= start:
            return self._local(deadline)
        total = self.working_time_between(start, deadline)
        if total == timedelta(0):
            return self._local(start + (deadline - start) * fraction)
        target = total * fraction
        passed = timedelta(0)
        for opens, closes in self._working_windows(start, deadline):
            if passed + (closes - opens) >= target:
                return opens + (target - passed)
            passed += closes - opens
        return self._local(deadline)

    # --- helpers -----------------------------------------------------------------------

    def _working_windows(self, a: datetime, b: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The parts of [a, b] that lie in working hours, one per working day, in order."""
        a, b = self._local(a), self._local(b)
        day = a.date()
        while day <= b.date():
            if self.is_workday(day):
                opens = max(a, self._at(day, self.day_starts))
                closes = min(b, self._at(day, self.day_ends))
                if opens < closes:
                    yield opens, closes
            day += timedelta(days=1)

    def _estimated_workday(self, d: date) -> bool:
        if d.year not in self._warned_years:
            self._warned_years.add(d.year)
            log.warning("no official holiday notice for %s in chinese_calendar: working days are "
                        "estimated (public holidays from `holidays`, no swapped workdays)", d.year)
        return d.weekday() < 5 and d not in self._holidays_of(d.year)

    def _holidays_of(self, year: int) -> frozenset[date]:
        if year not in self._estimated_holidays:
            try:
                days = frozenset(holidays.country_holidays("CN", years=year).keys())
            except Exception:  # an estimate must never stop a deadline; weekends still rest
                log.exception("holidays.China failed for %s; counting weekends only", year)
                days = frozenset()
            self._estimated_holidays[year] = days
        return self._estimated_holidays[year]

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("working time needs an aware datetime")
        return moment.astimezone(self.tz)

    def _as_date(self, d: date) -> date:
        if isinstance(d, datetime):
            return self._local(d).date() if d.tzinfo is not None else d.date()
        return d

    def _at(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.tz)


def _official_workday(d: date) -> bool | None:
    """The announced answer for `d`, or None when chinese_calendar has no data for its year."""
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        return None
