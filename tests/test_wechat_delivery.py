"""WeChat's budgets kept by the delivery worker, proven against the stand-in that enforces them
(on SQLite and PostgreSQL): the 48-hour window of 5, held rows and one notice per absence, WeCom's
30 a minute per member (whose excess WeCom would drop without a word), merging, unfollowing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from core.notifications import Notification
from core.onboarding import meet
from storage import tables as t
from storage.wechat import Contact, SqlWeChat
from tests.wechat_wire_kit import api_for, fresh_clock, plain_render, start_standin
from wechat import budget
from wechat.delivery import WeChatDelivery
from wechat.messages import Reply

PHOTO = b"\xff\xd8\xff\xe0" + b"after-photo" * 20


@pytest.fixture
async def world(db):
    clock = fresh_clock()
    standin = await start_standin(clock)
    api = api_for(standin)

    class World:
        pass

    w = World()
    w.db, w.clock, w.standin, w.api, w.store = db, clock, standin, api, SqlWeChat(db.engine)

    def delivery(channel="wechat", render=plain_render, **options):
        return WeChatDelivery(db, api, render, channel, clock=clock, **options)

    async def person(channel: str, user: str) -> int:
        async with db.uow() as uow:
            found = await meet(uow, channel, user, user, user, clock.now())
            await uow.commit()
        return found.id

    async def notify(person_id: int, *subjects: str, kind: str = "case.accepted") -> None:
        async with db.uow() as uow:  # stamped by the test's clock, which the worker reads too
            await uow.outbox.add_many([Notification(person_id, kind, {"case": subject}) for subject in subjects],
                                      now=clock.now())
            await uow.commit()

    async def writes(user: str) -> None:
        """The user sends the account a message: WeChat's side and ours both see it."""
        standin.user_wrote(user)
        await w.store.user_wrote("wechat", user, clock.now())

    w.delivery, w.person, w.notify, w.writes = delivery, person, notify, writes
    yield w
    await api.close()
    await standin.stop()


async def rows(db) -> list:
    async with db.engine.connect() as conn:
        return (await conn.execute(select(t.outbox).order_by(t.outbox.c.id))).all()


# ------------------------------------------------------------------ the Official Account's window

async def test_the_window_carries_five_messages_and_the_sixth_waits_until_the_user_writes(world):
    wang = await world.person("wechat", "o-wang")
    await world.writes("o-wang")
    for n in range(1, 7):
        await world.notify(wang, f"DC-{n}")
        await world.delivery().drain(timeout=10)
    assert world.standin.texts("mp", "o-wang") == [f"case.accepted case=DC-{n}" for n in range(1, 6)]
    sixth = (await rows(world.db))[-1]
    assert sixth.state == "pending" and sixth.last_error.startswith("held: outside the 48-hour window")
    assert ("mp", "message/custom/send") in world.standin.calls and len(
        [c for c in world.standin.calls if c == ("mp", "message/custom/send")]) == 5  # never a refused 6th

    world.clock.advance(hours=1)
    await world.writes("o-wang")  # wakes the held row
    await world.delivery().drain(timeout=10)
    assert world.standin.texts("mp", "o-wang")[-1] == "case.accepted case=DC-6"
    assert {r.state for r in await rows(world.db)} == {"sent"}


async def test_the_window_closes_after_48_hours(world):
    wang = await world.person("wechat", "o-wang")
    await world.writes("o-wang")
    world.clock.advance(hours=48, seconds=1)
    await world.notify(wang, "DC-1")
    await world.delivery().drain(timeout=10)
    assert world.standin.received("mp", "o-wang") == [] and (await rows(world.db))[0].state == "pending"


async def test_updates_on_one_case_are_merged_so_a_batch_fits_the_window(world):
    wang = await world.person("wechat", "o-wang")
    await world.writes("o-wang")
    await world.notify(wang, "DC-1", "DC-1", "DC-1", "DC-2", "DC-3", "DC-4", "DC-5")
    worker = world.delivery()
    await worker.drain(timeout=10)
    received = world.standin.texts("mp", "o-wang")
    assert len(received) == 5 and worker.stats.merged == 2
    assert received[0].startswith("📬 3 条关于 DC-1 的更新：") and received[0].count("case=DC-1") == 3
    assert {r.state for r in await rows(world.db)} == {"sent"}


async def test_more_subjects_than_the_window_has_room_for_become_one_message(world):
    wang = await world.person("wechat", "o-wang")
    await world.writes("o-wang")
    await world.notify(wang, *(f"DC-{n}" for n in range(1, 9)))
    await world.delivery().drain(timeout=10)
    (only,) = world.standin.texts("mp", "o-wang")
    assert only.startswith("📬 8 条新消息：") and all(f"case=DC-{n}" in only for n in range(1, 9))


async def test_outside_the_window_one_notice_per_absence_through_a_one_time_subscription(world):
    wang = await world.person("wechat", "o-wang")
    world.standin.grant_subscription("o-wang", "T-notice", 2)
    await world.store.grant("wechat", "o-wang", 2)
    await world.notify(wang, "DC-1", "DC-2")
    notices = dict(notice_template="T-notice", notice_kind="subscribe")
    await world.delivery(**notices).drain(timeout=10)
    assert world.standin.received("mp", "o-wang") == [
        {"via": "subscribe", "at": world.clock.now().timestamp(), "data": {"thing1": "您有2条新消息，请进入公众号查看"},
         "text": "您有2条新消息，请进入公众号查看"}]
    assert {r.state for r in await rows(world.db)} == {"pending"}

    world.clock.advance(hours=7)  # looked at again after hold_recheck: still away, no second notice
    await world.delivery(**notices).drain(timeout=10)
    assert len(world.standin.received("mp", "o-wang")) == 1

    await world.writes("o-wang")
    await world.delivery(**notices).drain(timeout=10)
    assert world.standin.texts("mp", "o-wang")[1:] == ["case.accepted case=DC-1", "case.accepted case=DC-2"]
    (contact,) = (await world.store.contacts("wechat", ["o-wang"])).values()
    assert contact.subscribe_credits == 1 and contact.window_used == 2


async def test_a_window_used_up_while_the_user_is_around_spends_no_subscription(world):
    wang = await world.person("wechat", "o-wang")
    await world.writes("o-wang")
    world.standin.grant_subscription("o-wang", "T-notice")
    await world.store.grant("wechat", "o-wang", 1)
    for n in range(1, 7):
        await world.notify(wang, f"DC-{n}")
        await world.delivery(notice_template="T-notice").drain(timeout=10)
    assert [m["via"] for m in world.standin.received("mp", "o-wang")] == ["custom"] * 5
    (contact,) = (await world.store.contacts("wechat", ["o-wang"])).values()
    assert contact.subscribe_credits == 1  # kept for when they are away


async def test_without_a_subscription_nothing_is_sent_and_rows_held_too_long_are_skipped(world):
    wang = await world.person("wechat", "o-wang")
    await world.notify(wang, "DC-1")
    await world.delivery(notice_template="T-notice").drain(timeout=10)
    assert world.standin.received("mp", "o-wang") == []
    world.clock.advance(days=8)
    await world.delivery(notice_template="T-notice").drain(timeout=10)
    (row,) = await rows(world.db)
    assert row.state == "skipped" and "outside the 48-hour window for 7 days" in row.last_error
    assert world.standin.received("mp", "o-wang") == []


async def test_an_unfollowed_user_is_marked_unreachable_and_not_tried_again(world):
    wang = await world.person("wechat", "o-wang")
    await world.writes("o-wang")
    world.standin.unfollow("o-wang")
    await world.notify(wang, "DC-1")
    await world.delivery().drain(timeout=10)
    await world.notify(wang, "DC-2")
    await world.delivery().drain(timeout=10)
    assert [(r.state, r.last_error.split(":")[0]) for r in await rows(world.db)] == [
        ("skipped", "unreachable"), ("skipped", "unreachable")]
    assert len([c for c in world.standin.calls if c == ("mp", "message/custom/send")]) == 1
    async with world.db.engine.connect() as conn:
        assert (await conn.execute(select(t.identities.c.reachable))).scalar() is False


async def test_a_reply_to_the_users_own_message_goes_out_as_it_is(world):
    from wechat.delivery import reply_notification

    wang = await world.person("wechat", "o-wang")
    await world.writes("o-wang")
    async with world.db.uow() as uow:
        await uow.outbox.add_many([reply_notification(wang, Reply(text="请选择：回复 1 …"), "wx:1:0"),
                                   reply_notification(wang, Reply(image=PHOTO), "wx:1:1")],
                                  channel="wechat", now=world.clock.now())
        await uow.commit()
    await world.delivery().drain(timeout=10)
    got = world.standin.received("mp", "o-wang")
    assert [m.get("text") for m in got] == ["请选择：回复 1 …", None] and got[1]["image"] == PHOTO


# ------------------------------------------------------------------ WeCom's per-member limits

async def test_wecom_gets_thirty_a_minute_per_member_and_the_rest_a_minute_later_none_lost(world):
    li = await world.person("wecom", "li-wangge")
    await world.notify(li, *(f"DC-{n}" for n in range(45)))

    async def photo_render(notification, person):  # photos cannot be merged: 45 messages
        return [Reply(image=PHOTO)]

    worker = world.delivery("wecom", render=photo_render)
    await worker.drain(timeout=30)
    assert len(world.standin.received("work", "li-wangge")) == 30 and worker.stats.paced == 15
    world.clock.advance(seconds=30)
    await world.delivery("wecom", render=photo_render).drain(timeout=30)  # a new worker counts from the database
    assert len(world.standin.received("work", "li-wangge")) == 30
    world.clock.advance(seconds=32)
    await world.delivery("wecom", render=photo_render).drain(timeout=30)
    assert len(world.standin.received("work", "li-wangge")) == 45
    assert world.standin.dropped == []
    assert {r.state for r in await rows(world.db)} == {"sent"}


async def test_the_standin_like_wecom_drops_the_31st_message_in_a_minute_and_says_ok(world):
    """Why we count: WeCom's answer is the same for a message it delivers and one it drops."""
    answers = [await world.api.send_text("work", "li-wangge", f"#{n}") for n in range(31)]
    assert {a["errcode"] for a in answers} == {0}
    assert len(world.standin.received("work", "li-wangge")) == 30 and len(world.standin.dropped) == 1


async def test_wecom_merges_updates_on_one_case(world):
    li = await world.person("wecom", "li-wangge")
    await world.notify(li, "DC-7", "DC-7", "DC-7", "DC-8")
    await world.delivery("wecom").drain(timeout=10)
    first, second = world.standin.texts("work", "li-wangge")
    assert first.startswith("📬 3 条关于 DC-7 的更新：") and second == "case.accepted case=DC-8"


# ------------------------------------------------------------------ the rules alone

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def test_window_left():
    assert budget.window_left(Contact(), T0) == 0
    assert budget.window_left(Contact(T0, 2), T0 + timedelta(hours=47)) == 3
    assert budget.window_left(Contact(T0, 5), T0) == 0
    assert budget.window_left(Contact(T0, 0), T0 + timedelta(hours=48)) == 0


def test_wecom_room_counts_the_minute_and_the_hour():
    minute = [T0 + timedelta(seconds=s) for s in range(30)]
    assert budget.wecom_room(minute, T0 + timedelta(seconds=30)) == (0, T0 + timedelta(seconds=61))
    assert budget.wecom_room(minute, T0 + timedelta(seconds=61)) == (1, None)
    hour = [T0 + timedelta(minutes=m, seconds=s) for m in range(50) for s in range(20)]  # 1,000 in 50 minutes
    room, until = budget.wecom_room(hour, T0 + timedelta(minutes=55))
    assert room == 0 and until == T0 + timedelta(hours=1, seconds=1)
    assert budget.wecom_room([], T0) == (30, None)
