"""How staff may write a post's start ("12-28 09:00", "2026-12-28 09:00", "12月28日 9:00") and what is refused."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.scenes.post import BadInput, parse_number, parse_start
from core.workdays import CHINA_TZ

NOW = datetime(2026, 11, 23, 17, 30, tzinfo=CHINA_TZ)


@pytest.mark.parametrize("typed, wanted", [
    ("12-28 09:00", datetime(2026, 12, 28, 9, 0)),
    ("2026-12-28 09:00", datetime(2026, 12, 28, 9, 0)),
    ("12/28 9:30", datetime(2026, 12, 28, 9, 30)),
    ("12月28日 9:00", datetime(2026, 12, 28, 9, 0)),
    ("12月28日 9点", datetime(2026, 12, 28, 9, 0)),
    ("11-24 18：30", datetime(2026, 11, 24, 18, 30)),
    ("1-5 10:00", datetime(2027, 1, 5, 10, 0)),  # a day already past this year means next year
])
def test_start_times_staff_type(typed, wanted):
    assert parse_start(typed, NOW, CHINA_TZ) == wanted.replace(tzinfo=CHINA_TZ)


@pytest.mark.parametrize("typed, key", [
    ("tomorrow morning", "post.bad_when"),
    ("12-28", "post.bad_when"),
    ("2-30 09:00", "post.bad_when"),
    ("12-28 25:00", "post.bad_when"),
    ("2026-11-23 08:00", "post.when_past"),
])
def test_times_that_cannot_be_used_are_refused_with_a_hint(typed, key):
    with pytest.raises(BadInput) as refused:
        parse_start(typed, NOW, CHINA_TZ)
    assert refused.value.key == key


def test_numbers_within_bounds():
    assert parse_number("3", 1, 500) == 3
    assert parse_number("1.5", 0.25, 12, whole=False) == 1.5
    for bad in ("0", "2.5", "many", "501"):
        with pytest.raises(BadInput):
            parse_number(bad, 1, 500)
