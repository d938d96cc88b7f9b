"""How a moment is written for a person: one helper for every date the bot shows, with the year only
when it is not this year where the reader lives."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from texts import moment_text

BEIJING = ZoneInfo("Asia/Shanghai")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_a_moment_this_year_has_no_year_and_one_in_another_year_has_it():
    now = utc(2026, 12, 30, 2, 0)
    assert moment_text("zh", utc(2026, 12, 2, 21, 27), BEIJING, now) == "12月3日 05:27"
    assert moment_text("zh", utc(2027, 1, 4, 10, 0), BEIJING, now) == "2027年1月4日 18:00"
    assert moment_text("en", utc(2027, 1, 4, 10, 0), BEIJING, now) == "Jan 4, 2027, 18:00"
    assert moment_text("en", utc(2026, 12, 2, 21, 27), BEIJING, now) == "Dec 3, 05:27"
    assert moment_text("zh", utc(2025, 12, 31, 1, 0), BEIJING, now) == "2025年12月31日 09:00"


def test_the_year_is_the_readers_year_not_utcs():
    # 2027-01-01 01:30 in Beijing is still 2026 in UTC: for a Beijing reader it is this year
    now = utc(2026, 12, 31, 17, 30)
    assert moment_text("zh", utc(2026, 12, 31, 20, 0), BEIJING, now) == "1月1日 04:00"
    assert moment_text("zh", utc(2026, 12, 31, 15, 0), BEIJING, now) == "2026年12月31日 23:00"


def test_no_moment_is_a_dash():
    assert moment_text("zh", None, BEIJING, utc(2026, 12, 30, 2, 0)) == "—"
