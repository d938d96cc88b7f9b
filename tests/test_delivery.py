"""The outbox and the delivery worker on SQLite and PostgreSQL, against the Bot API stand-in."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import SendMessage
from sqlalchemy import select

from core.clock import ManualClock
from core.notifications import Notification
from core.consent import PrivacyPolicy
from core.consent_services import arrive
from core.onboarding import meet
from core.people import Identity, Person
from demo.harness import running_standin, standin_bot
from scheduler.broadcasts import ProgressReporter, plain_progress_text
from scheduler.delivery import DeliveryWorker
from storage import tables as t
from storage.broadcasts import start_broadcast
from storage.outbox import DeliveryQueue
from tests.delivery_kit import add_recipients, plain_render, user_id_of


def fresh_clock() -> ManualClock:
    # the outbox stamps rows with the system clock; this one starts just after and moves by hand
    return ManualClock(datetime.now(timezone.utc) + timedelta(seconds=1))


async def outbox_rows(db) -> list:
    async with db.engine.connect() as conn:
        return (await conn.execute(select(t.outbox).order_by(t.outbox.c.id))).all()


@pytest.fixture
async def standin():
    async with running_standin() as standin:
        yield standin


@pytest.fixture
async def bot(standin):
    bot = standin_bot(standin.base_url)
    yield bot
    await bot.session.close()


def people_in(standin, count: int) -> None:
    for n in range(count):
        standin.add_user(user_id_of(n), f"居民{n}")


async def test_a_notification_lives_and_dies_with_its_transaction(db, now):
    (wang,) = await add_recipients(db, 1, now)
    async with db.uow() as uow:
        await uow.outbox.add(Notification(wang, "case.accepted", {"case": "DC-1"}))
        # leaving without commit: the change that caused it did not happen, so neither does the message
    assert await outbox_rows(db) == []
    async with db.uow() as uow:
        await uow.outbox.add(Notification(wang, "case.accepted", {"case": "DC-1"}))
        await uow.commit()
    (row,) = await outbox_rows(db)
    assert (row.state, row.kind, row.payload, row.attempts) == ("pending", "case.accepted", {"case": "DC-1"}, 0)


async def test_the_same_dedupe_key_twice_is_one_message(db, now):
    (li,) = await add_recipients(db, 1, now)
    for _ in range(2):
        async with db.uow() as uow:
            await uow.outbox.add(Notification(li, "case.half_time", {"case": "DC-7"}, dedupe_key="case:DC-7:half_time"))
            await uow.outbox.add(Notification(li, "case.half_time", {"case": "DC-7"}, dedupe_key="case:DC-7:half_time"))
            await uow.commit()
    assert len(await outbox_rows(db)) == 1


async def test_each_message_arrives_once_with_its_message_id(db, now, standin, bot):
    people = await add_recipients(db, 3, now)
    people_in(standin, 3)
    async with db.uow() as uow:
        for n, person in enumerate(people):
            await uow.outbox.add(Notification(person, "case.accepted", {"case": f"DC-{n}"}))
        await uow.outbox.add(Notification(people[0], "nothing"))  # the renderer has nothing to say
        await uow.commit()
    worker = DeliveryWorker(db, bot, plain_render, per_chat_rate=0, clock=fresh_clock())
    await worker.drain(timeout=10)
    rows = await outbox_rows(db)
    assert [r.state for r in rows] == ["sent", "sent", "sent", "skipped"]
    for n in range(3):
        (delivery,) = standin.deliveries(user_id_of(n))
        assert delivery.text == f"case.accepted case=DC-{n} → 居民{n}"
        assert rows[n].sent_message_id == delivery.message_id and rows[n].sent_at is not None


async def test_several_lanes_deliver_each_message_once(db, now, standin, bot):
    people = await add_recipients(db, 60, now)
    people_in(standin, 60)
    clock = fresh_clock()
    await start_broadcast(db, "通知", people, "notice", {}, None, now=clock.now())
    worker = DeliveryWorker(db, bot, plain_render, per_chat_rate=0, global_rate=1000, in_flight=4, batch=20,
                            clock=clock)
    await worker.drain(timeout=10)
    assert worker.stats.sent == 60 and all(len(standin.deliveries(user_id_of(n))) == 1 for n in range(60))


async def test_personal_notifications_go_before_a_broadcast(db, now, standin, bot):
    people = await add_recipients(db, 30, now)
    people_in(standin, 30)
    clock = fresh_clock()
    await start_broadcast(db, "主题党日", people[1:], "theme_day", {"day": 28}, None, now=clock.now() - timedelta(seconds=5))
    async with db.uow() as uow:
        await uow.outbox.add(Notification(people[0], "case.overdue", {"case": "DC-9"}))
        await uow.commit()
    worker = DeliveryWorker(db, bot, plain_render, per_chat_rate=0, batch=10, clock=clock)
    await worker.run_once()
    await worker.close()
    assert len(standin.deliveries()) == 10 and standin.deliveries()[0].chat_id == user_id_of(0)


async def test_a_burst_to_one_chat_waits_out_429_once_and_then_keeps_the_pace(db, now):
    async with running_standin(flood_limits=True, max_per_second=30, max_per_chat_per_second=1) as standin:
        bot = standin_bot(standin.base_url)
        (grid_member,) = await add_recipients(db, 1, now)
        people_in(standin, 1)
        async with db.uow() as uow:
            for n in range(3):
                await uow.outbox.add(Notification(grid_member, "case.new_for_handler", {"case": f"DC-{n}"}))
            await uow.commit()
        # a dialog reply the worker knows nothing about has just used this chat's second
        await bot.send_message(user_id_of(0), "已受理")
        worker = DeliveryWorker(db, bot, plain_render)  # the system clock: per-chat waits are real
        await worker.drain(timeout=15)
        await bot.session.close()
    texts = [d.text for d in standin.deliveries(user_id_of(0))]
    assert texts[0] == "已受理" and sorted(texts[1:]) == [f"case.new_for_handler case=DC-{n} → 居民0" for n in range(3)]
    assert standin.too_many_requests_count == 1 and worker.stats.flood_waits == 1  # no flood error after the first
    times = [d.at for d in standin.deliveries(user_id_of(0))]
    assert all(b - a >= 1.0 for a, b in zip(times, times[1:]))
    assert [r.state for r in await outbox_rows(db)] == ["sent"] * 3


async def test_a_person_who_blocked_the_bot_is_not_tried_again_until_they_write(db, now, standin, bot):
    (zhou, other) = await add_recipients(db, 2, now)
    people_in(standin, 2)
    standin.set_blocked(user_id_of(0), True)
    async with db.uow() as uow:
        await uow.outbox.add(Notification(zhou, "case.accepted", {"case": "DC-1"}))
        await uow.outbox.add(Notification(other, "case.accepted", {"case": "DC-2"}))
        await uow.outbox.add(Notification(zhou, "case.resolved", {"case": "DC-1"}))
        await uow.commit()
    worker = DeliveryWorker(db, bot, plain_render, per_chat_rate=0, clock=fresh_clock())
    await worker.drain(timeout=10)
    assert [r.state for r in await outbox_rows(db)] == ["skipped", "sent", "skipped"]
    assert standin.requests["sendmessage"] == 2  # the second row for zhou was not tried
    async with db.uow() as uow:
        assert not (await uow.people.identity("telegram", str(user_id_of(0)))).reachable
        assert [e.kind for e in await uow.events.of("person", str(zhou))] == ["unreachable"]
        await uow.outbox.add(Notification(zhou, "case.closed", {"case": "DC-1"}))
        await uow.commit()
    await worker.drain(timeout=10)
    assert standin.deliveries(user_id_of(0)) == []  # still blocked: skipped at claim time
    assert standin.requests["sendmessage"] == 2
    standin.set_blocked(user_id_of(0), False)
    async with db.uow() as uow:  # they write to the bot again (what ContextMiddleware does)
        await arrive(uow, PrivacyPolicy(), "telegram", str(user_id_of(0)), now)
        await uow.outbox.add(Notification(zhou, "case.closed", {"case": "DC-1"}, dedupe_key="again"))
        await uow.commit()
    await worker.drain(timeout=10)
    assert [d.text for d in standin.deliveries(user_id_of(0))] == ["case.closed case=DC-1 → 居民0"]


class FailingNetwork(BaseRequestMiddleware):
    """The first `failures` sendMessage calls break like a dropped connection."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    async def __call__(self, make_request, bot, method):
        if isinstance(method, SendMessage) and self.failures > 0:
            self.failures -= 1
            raise TelegramNetworkError(method, "ClientOSError: connection reset")
        return await make_request(bot, method)


async def test_a_network_error_is_retried_with_backoff_and_given_up_after_max_attempts(db, now, standin, bot):
    (li, wang) = await add_recipients(db, 2, now)
    people_in(standin, 2)
    bot.session.middleware(FailingNetwork(failures=2))
    async with db.uow() as uow:
        await uow.outbox.add(Notification(li, "case.overdue", {"case": "DC-3"}))
        await uow.commit()
    clock = fresh_clock()
    worker = DeliveryWorker(db, bot, plain_render, per_chat_rate=0, clock=clock, backoff_base=5, max_attempts=3,
                            network_pause=0)
    for attempt, backoff in ((1, 5), (2, 10)):
        assert await worker.run_once() == 1
        (row,) = await outbox_rows(db)
        assert (row.state, row.attempts) == ("pending", attempt) and "connection reset" in row.last_error
        assert row.not_before == clock.now() + timedelta(seconds=backoff)
        assert await worker.run_once() == 0  # not due yet
        clock.advance(seconds=backoff)
    assert await worker.run_once() == 1
    (row,) = await outbox_rows(db)
    assert (row.state, row.attempts) == ("sent", 3)
    assert len(standin.deliveries(user_id_of(0))) == 1

    bot.session.middleware(FailingNetwork(failures=3))
    async with db.uow() as uow:
        await uow.outbox.add(Notification(wang, "case.overdue", {"case": "DC-4"}))
        await uow.commit()
    for _ in range(3):
        await worker.run_once()
        clock.advance(seconds=60)
    await worker.close()
    assert (await outbox_rows(db))[1].state == "failed"
    assert standin.deliveries(user_id_of(1)) == []


async def test_people_without_any_account_are_skipped(db, now, standin, bot):
    async with db.uow() as uow:
        person = await meet(uow, "telegram", "1", "1", "居民", now)
        await uow.people.add(nobody := Person(None, "没有账号的人", created_at=now))  # e.g. from the org file
        await uow.outbox.add(Notification(nobody.id, "case.accepted", {"case": "DC-1"}))
        await uow.commit()
    await DeliveryWorker(db, bot, plain_render, clock=fresh_clock()).drain(timeout=5)
    (row,) = await outbox_rows(db)
    assert (row.channel, row.state, row.last_error) == ("telegram", "skipped", "no telegram account")


async def test_telegram_leaves_the_rows_of_people_reached_on_wechat(db, now, standin, bot):
    """A row goes to the channel of the person's newest reachable account: a WeChat-only resident's
    and a Telegram user's who later bound WeChat wait for WeChat's worker; Telegram's sends only its own."""
    (tg,) = await add_recipients(db, 1, now)
    people_in(standin, 1)
    async with db.uow() as uow:
        wx = await meet(uow, "wechat", "o-wx-1", "o-wx-1", "微信用户", now)
        both = await meet(uow, "telegram", "777", "777", "先用电报", now)
        await uow.people.add_identity(Identity(None, both.id, "wecom", "li", "li"))  # bound WeCom later
        for person_id in (tg, wx.id, both.id):
            await uow.outbox.add(Notification(person_id, "case.accepted", {"case": "DC-1"}))
        await uow.commit()
    worker = DeliveryWorker(db, bot, plain_render, per_chat_rate=0, clock=fresh_clock())
    await worker.drain(timeout=5)
    rows = await outbox_rows(db)
    assert [(r.person_id, r.channel, r.state) for r in rows] == [
        (tg, "telegram", "sent"), (wx.id, "wechat", "pending"), (both.id, "wecom", "pending")]
    assert worker.stats.claimed == 1
    # and a worker of the other channel takes exactly its own
    claimed = await DeliveryQueue(db.engine, "wechat").claim(fresh_clock().now(), 10)
    assert [(c.person.id, c.identity.external_id) for c in claimed] == [(wx.id, "o-wx-1")]


async def test_a_telegram_worker_starting_leaves_wechats_rows_in_flight_alone(db, now, standin, bot):
    async with db.uow() as uow:
        wx = await meet(uow, "wechat", "o-wx-1", "o-wx-1", "微信用户", now)
        await uow.outbox.add(Notification(wx.id, "case.accepted", {"case": "DC-1"}))
        await uow.commit()
    assert len(await DeliveryQueue(db.engine, "wechat").claim(fresh_clock().now(), 10)) == 1
    assert await DeliveryWorker(db, bot, plain_render, clock=fresh_clock()).recover() == 0
    assert [r.state for r in await outbox_rows(db)] == ["sending"]


async def test_rows_a_crash_left_in_sending_are_sent_again(db, now, standin, bot):
    people = await add_recipients(db, 2, now)
    people_in(standin, 2)
    async with db.uow() as uow:
        for person in people:
            await uow.outbox.add(Notification(person, "case.accepted", {"case": "DC-1"}))
        await uow.commit()
    claimed = await DeliveryQueue(db.engine).claim(fresh_clock().now(), 10)  # a worker took them, then died
    assert len(claimed) == 2 and {r.state for r in await outbox_rows(db)} == {"sending"}
    worker = DeliveryWorker(db, bot, plain_render, per_chat_rate=0, clock=fresh_clock())
    await worker.drain(timeout=5)
    assert worker.stats.recovered == 2 and {r.state for r in await outbox_rows(db)} == {"sent"}


async def test_a_batch_that_failed_half_way_is_sent_by_the_same_worker_once_its_lease_runs_out(db, now, standin, bot):
    """'delivery batch failed' used to leave its rows `sending` until a restart (a staff member's broadcast
    progress stuck at "剩余 1"); now the claim's lease runs out and the running worker takes them again."""
    people = await add_recipients(db, 3, now)
    people_in(standin, 3)
    async with db.uow() as uow:
        for person in people:
            await uow.outbox.add(Notification(person, "case.accepted", {"case": "DC-1"}))
        await uow.commit()
    clock = fresh_clock()
    worker = DeliveryWorker(db, bot, plain_render, per_chat_rate=0, clock=clock)
    real_render, failures = worker._render, [1]

    async def render_fails_once(rows):
        if failures:
            failures.pop()
            raise OSError("the database went away mid-batch")
        return await real_render(rows)

    worker._render = render_fails_once
    with pytest.raises(OSError):
        await worker.run_once()
    assert {r.state for r in await outbox_rows(db)} == {"sending"}
    assert await worker.run_once() == 0                       # still within the lease: nobody takes them
    clock.advance(seconds=46)
    assert await worker.run_once() == 3                       # no restart needed
    await worker.close()
    assert {r.state for r in await outbox_rows(db)} == {"sent"} and worker.stats.recovered == 0
    assert all(len(standin.deliveries(user_id_of(n))) == 1 for n in range(3))


async def test_two_workers_never_take_the_same_row(db, now, standin, bot):
    people = await add_recipients(db, 400, now)
    people_in(standin, 400)
    clock = fresh_clock()
    await start_broadcast(db, "通知", people, "notice", {}, None, now=clock.now())
    workers = [DeliveryWorker(db, bot, plain_render, per_chat_rate=0, global_rate=5000, batch=25,
                              clock=clock) for _ in range(2)]

    async def work(worker):  # run_once, not drain: drain starts with a recovery, which is the leader's alone
        while await worker.run_once():
            pass

    await asyncio.gather(*(work(w) for w in workers))
    for worker in workers:
        await worker.close()
    assert all(w.stats.sent > 0 for w in workers)
    assert sum(w.stats.sent for w in workers) == 400
    assert all(len(standin.deliveries(user_id_of(n))) == 1 for n in range(400))


async def test_a_broadcast_shows_its_progress_to_staff_and_ends_with_a_summary(db, now, standin, bot):
    staff, *people = await add_recipients(db, 41, now)
    people_in(standin, 41)
    clock = fresh_clock()
    worker = DeliveryWorker(db, bot, plain_render, per_chat_rate=0, global_rate=20, batch=20, clock=clock)
    worker.progress = ProgressReporter(db, bot, plain_progress_text, pacer=worker.pacer, every=0.2, clock=clock)
    started = datetime.now(timezone.utc)
    broadcast_id = await start_broadcast(db, "28日主题党日", people, "theme_day", {"day": 28}, staff, now=clock.now())
    await worker.drain(timeout=20)
    assert (datetime.now(timezone.utc) - started).total_seconds() >= 1.0  # 20 a second
    staff_chat = standin.bot_messages(user_id_of(0))
    progress, summary = staff_chat
    assert progress.edits >= 1 and "28日主题党日" in progress.text and "40 sent" in progress.text
    assert progress.text.startswith("Broadcast “28日主题党日” finished: 40 sent, 0 failed, 0 skipped of 40")
    assert summary.text.startswith("broadcast.finished")
    assert f"broadcast_id={broadcast_id}" in summary.text and "sent=40" in summary.text
    async with db.engine.connect() as conn:
        head = (await conn.execute(select(t.broadcasts))).one()
    assert head.finished_at is not None and head.progress_chat_id == str(user_id_of(0))
    assert all(len(standin.deliveries(user_id_of(n))) == 1 for n in range(1, 41))


async def test_handler_replies_take_their_share_of_the_workers_budget():
    """#14: after an outage the handlers' replies met 429s while the worker sent at full rate. They now
    wait for the same pacer; calls made under a slot the caller holds (the worker's) are not paced twice.
    The pacer runs on a manual clock: a sleep moves it to the sleeper's wake-up time, at once."""
    from aiogram import Bot
    from aiogram.methods import GetMe

    from scheduler.delivery import PACED, Pacer, pace_replies
    from tests.botkit import RecordingSession

    class ManualTime:
        def __init__(self) -> None:
            self.now = 1000.0

        def monotonic(self) -> float:
            return self.now

        async def sleep(self, seconds: float) -> None:
            self.now += max(seconds, 0.0)  # the sleeper wakes at once, at its wake-up time
            await asyncio.sleep(0)

    clock = ManualTime()

    class Timed(RecordingSession):
        def __init__(self):
            super().__init__()
            self.at: list[tuple[str, float]] = []

        async def make_request(self, bot, method, timeout=None):
            self.at.append((type(method).__name__, clock.monotonic()))
            return await super().make_request(bot, method, timeout)

    session = Timed()
    bot = Bot("4242:TEST", session=session)
    pacer = Pacer(rate=4, per_chat_rate=0, monotonic=clock.monotonic, sleep=clock.sleep)
    pace_replies(bot, pacer)
    await asyncio.gather(*(bot.send_message(chat_id=n, text="回复") for n in range(12)), bot(GetMe()))
    sends = sorted(t for name, t in session.at if name == "SendMessage")
    assert len(sends) == 12
    assert max(sum(1 for t in sends if start <= t < start + 0.99) for start in sends) <= 4  # 4 in any second
    assert sends[-1] - sends[0] >= 1.9                                                      # so 12 take 2 s+
    token = PACED.set(True)                                                                  # the worker's own
    try:
        began = clock.monotonic()
        await asyncio.gather(*(bot.send_message(chat_id=n, text="通知") for n in range(8)))
        assert clock.monotonic() == began  # not one wait
    finally:
        PACED.reset(token)


async def test_waiters_for_a_full_window_are_woken_once_each_in_the_order_they_came():
    """#18: with the window full, every waiter used to sleep to the same instant (or wait for the same
    send's answer) and look again, so each freed slot woke all N waiters and N − 1 went back to sleep
    (200 dialogs waiting: 200 wake-ups per message sent). Now they queue and one timer watches the
    window. Counted on a virtual clock: every sleep is one wake-up, and time moves only when every
    task waits (to the earliest wake-up asked for)."""
    import heapq

    from scheduler.delivery import Pacer

    class VirtualTime:
        def __init__(self) -> None:
            self.now, self.sleeps = 1000.0, 0
            self.due: list[tuple[float, int, asyncio.Future]] = []

        def monotonic(self) -> float:
            return self.now

        async def sleep(self, seconds: float) -> None:
            self.sleeps += 1
            woken = asyncio.get_running_loop().create_future()
            heapq.heappush(self.due, (self.now + max(seconds, 0.0), self.sleeps, woken))
            await woken

        async def run(self, *tasks: asyncio.Future) -> list:
            everything = asyncio.gather(*tasks, return_exceptions=True)
            while not everything.done():
                for _ in range(50):  # let every task run until it waits
                    await asyncio.sleep(0)
                if self.due and not everything.done():
                    at, _, woken = heapq.heappop(self.due)
                    self.now = max(self.now, at)
                    if not woken.done():
                        woken.set_result(None)
            return await everything

    async def send(pacer: Pacer, n: int, order: list[int], at: list[float], clock: VirtualTime,
                   hold: asyncio.Event | None = None) -> None:
        slot = await pacer.acquire(None)
        order.append(n)
        at.append(clock.now)
        if hold is not None:
            await hold.wait()
        pacer.release(slot)

    clock = VirtualTime()
    pacer = Pacer(rate=5, per_chat_rate=0, monotonic=clock.monotonic, sleep=clock.sleep)
    order: list[int] = []
    at: list[float] = []
    await clock.run(*(send(pacer, n, order, at, clock) for n in range(100)))
    assert order == list(range(100))                                              # first come, first served
    assert max(sum(1 for t in at if start <= t < start + 0.99) for start in at) <= 5  # 5 in any second
    assert at[-1] - at[0] >= 19
    assert clock.sleeps <= 100 // 5  # one wake-up per window turnover (the old loop: ~1000 for 100 waiters)

    # the oldest sends still in flight: nobody wakes until one is answered, then only those in line for it
    clock = VirtualTime()
    pacer = Pacer(rate=2, per_chat_rate=0, monotonic=clock.monotonic, sleep=clock.sleep)
    hold = asyncio.Event()
    order, at = [], []
    tasks = [asyncio.ensure_future(send(pacer, n, order, at, clock, hold)) for n in range(30)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == [0, 1] and clock.sleeps == 0
    tasks[5].cancel()  # one gives up while in line: it loses its place and takes nobody's slot
    hold.set()
    await clock.run(*tasks)
    assert order == [n for n in range(30) if n != 5]
    assert clock.sleeps <= 30 // 2

    # a pause holds the line, then lets it go in order
    clock = VirtualTime()
    pacer = Pacer(rate=3, per_chat_rate=0, monotonic=clock.monotonic, sleep=clock.sleep)
    pacer.pause(4.0)
    order, at = [], []
    await clock.run(*(send(pacer, n, order, at, clock) for n in range(6)))
    assert order == list(range(6)) and min(at) >= 1004.0 and clock.sleeps <= 3


async def test_a_row_whose_render_lost_the_database_is_tried_again_not_failed(db, now, standin, bot):
    """Found by the fault suite (PostgreSQL cutting connections): the renderer's read failed on a cut
    connection and the grid member's notice was marked `failed` for good."""
    from sqlalchemy.exc import OperationalError

    people = await add_recipients(db, 2, now)
    people_in(standin, 2)
    async with db.uow() as uow:
        for person in people:
            await uow.outbox.add(Notification(person, "case.accepted", {"case": "DC-1"}))
        await uow.commit()
    clock = fresh_clock()
    cut = [1]

    async def render(uow, notification, person, identity):
        if cut:
            cut.pop()
            raise OperationalError("SELECT …", {}, ConnectionResetError("connection was closed"))
        return await plain_render(uow, notification, person, identity)

    worker = DeliveryWorker(db, bot, render, per_chat_rate=0, clock=clock, backoff_base=5)
    await worker.run_once()
    assert [r.state for r in await outbox_rows(db)] == ["pending", "pending"] and worker.stats.failed == 0
    clock.advance(seconds=6)
    await worker.run_once()
    await worker.close()
    assert [r.state for r in await outbox_rows(db)] == ["sent", "sent"]


async def test_a_backlog_to_one_chat_renders_only_what_this_batch_sends(db, now, standin, bot):
    """A grid member with ten notices waiting, one message a second to their chat: the batch sends one
    and gives nine back for later. Only the one sent is rendered (each render reads the case and its
    people); the nine are rendered when their turn comes."""
    (grid_member,) = await add_recipients(db, 1, now)
    people_in(standin, 1)
    async with db.uow() as uow:
        for n in range(10):
            await uow.outbox.add(Notification(grid_member, "case.new_for_handler", {"case": f"DC-{n}"}))
        await uow.commit()
    rendered: list[str] = []

    async def render(uow, notification, person, identity):
        rendered.append(notification.payload["case"])
        return await plain_render(uow, notification, person, identity)

    worker = DeliveryWorker(db, bot, render, per_chat_rate=1, hold=0.5, clock=fresh_clock())
    assert await worker.run_once() == 10
    await worker.close()
    assert rendered == ["DC-0"]
    states = [r.state for r in await outbox_rows(db)]
    assert states == ["sent"] + ["pending"] * 9
    assert [d.text for d in standin.deliveries(user_id_of(0))] == ["case.new_for_handler case=DC-0 → 居民0"]
