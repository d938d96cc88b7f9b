"""Times a party member and staff are told about: a check-in is decided at the press (too early,
too late or not one's own is said before the member is asked for a photo; the photo step checks
again), and a notice made in the quiet hours says when it will go out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.volunteering import attendance_services, common_services, posts_services
from core.volunteering.attendance import check_in, require_check_in, require_check_out
from core.volunteering.common import CheckInTooEarly, CheckInTooLate, ClaimState, NotYourClaim, WrongState
from core.volunteering.posts import claim
from tests.test_volunteer_services import POLICY, SATURDAY_9, as_, do, new_post, town  # noqa: F401
from tests.test_volunteering import LI, NOW, WANG, at
from tests.test_volunteering import new_post as a_post


def test_the_check_in_rule_needs_no_photo_to_say_too_early_too_late_or_not_yours():
    post = a_post(starts=at(6, 9))
    c = claim(post, WANG, NOW)
    with pytest.raises(CheckInTooEarly) as early:
        require_check_in(c, post, WANG, at(3, 9))  # three days early
    assert early.value.params["opens_at"] == (at(6, 8, 30)).isoformat()
    with pytest.raises(CheckInTooLate):
        require_check_in(c, post, WANG, post.ends_at)
    with pytest.raises(NotYourClaim):
        require_check_in(c, post, LI, at(6, 9))
    require_check_in(c, post, WANG, at(6, 8, 30))  # the window is open: now the photo
    with pytest.raises(WrongState):
        require_check_out(c, post, WANG, at(6, 9))  # not checked in yet
    check_in(c, post, WANG, "sha-in", at(6, 8, 40))
    require_check_out(c, post, WANG, at(6, 10))
    with pytest.raises(WrongState):
        require_check_in(c, post, WANG, at(6, 9))
    assert c.state == ClaimState.CHECKED_IN


async def test_the_service_answers_at_the_press_whether_the_member_may_check_in(town):
    post = await new_post(town, capacity=2)
    m1 = await as_(town, "m1")
    await do(town, posts_services.claim_post, POLICY, m1, post.number, SATURDAY_9 - timedelta(days=4))
    with pytest.raises(CheckInTooEarly):
        await do(town, attendance_services.may_check_in, m1, post.number, SATURDAY_9 - timedelta(days=3))
    await do(town, attendance_services.may_check_in, m1, post.number, SATURDAY_9 - timedelta(minutes=10))
    with pytest.raises(NotYourClaim):
        await do(town, attendance_services.may_check_in, await as_(town, "m2"), post.number, SATURDAY_9)


def test_the_policy_says_until_when_a_notice_waits_for_the_quiet_hours_to_end():
    from datetime import datetime

    from core.workdays import CHINA_TZ, WorkCalendar

    policy = common_services.VolunteerPolicy(calendar=WorkCalendar())
    assert policy.held_until(datetime(2026, 11, 23, 5, 37, tzinfo=CHINA_TZ)) == datetime(2026, 11, 23, 7, 0,
                                                                                          tzinfo=CHINA_TZ)
    assert policy.held_until(datetime(2026, 11, 23, 23, 0, tzinfo=CHINA_TZ)) == datetime(2026, 11, 24, 7, 0,
                                                                                          tzinfo=CHINA_TZ)
    assert policy.held_until(datetime(2026, 11, 23, 17, 30, tzinfo=CHINA_TZ)) is None
