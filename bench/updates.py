"""Update throughput: residents' report dialogs through the real bot and the Bot API stand-in,
against a bare aiogram echo bot in the same run.

    python bench/updates.py                          # SQLite and PostgreSQL, ~2 minutes; writes
                                                     # bench/results/updates.json and updates_postgresql.json
    python bench/updates.py --quick                  # < 1 minute, prints only
    python bench/updates.py --database sqlite|postgresql|both|URL [--dialogs N] [--rate 100] [--seconds 20]

One process, one event loop, as `redgrid demo` runs: a stand-in with flood limits off (this measures
handling, not Telegram's limits), the real bot (`redgrid.bootstrap.demo_stack`: inbox, per-chat serialising,
unit of work, scenes, the delivery worker and the scheduler beside the polling) on a fresh database
with the demo community, and simulated residents registered there through the core services. A
resident's dialog is six updates: photo → "下一步" → category → "我的楼栋（…）" → a few words typed
or "跳过" (every other dialog) → "✅ 确认提交". The echo bot (a bare Dispatcher on its own stand-in:
reply to a photo, echo a text, answer a press and send a message, each with one button) gets the
same six kinds of update in the same order.

Per-update latency runs from the moment the stand-in queues the update (the `user_*` call has
returned) to the first thing the bot shows in that chat for it (a message, an edit or the answer to
the press); "step done" runs to the message that carries the next step's button. Both moments are
stamped inside the stand-in when it announces the change to its subscribers, not when the driver
wakes up. Two loads: max throughput (every resident drives one dialog, each step as soon as the
previous one is done: closed loop) and a fixed offered rate (`--rate` updates a second for
`--seconds`, each to the next resident whose previous step is done, open loop; the residents are
first moved to different steps of their dialogs, so photos, presses and confirmations are mixed
evenly over time). Photos are 800×600 JPEGs of ~50 KB (noise,
gradients, shapes: they compress like a photo); the stand-in makes Telegram's 320-px thumbnail of
each distinct picture once, before any timing (that is Telegram's work: done in the loop it took
~0.7 ms per update, a third of the echo bot's CPU); redgrid then downloads and normalises it.
Everything shares one process, so the stand-in's HTTP serving and the driver's work (~10 % of the
echo bot's CPU per update) count against both bots alike. Also reported: the process's CPU time and
the event loop thread's, per second of the run (1.0 = one core busy), and the full garbage
collections, which stop the loop while they run. Then the echo bot runs again with redgrid's
plumbing, layer by layer (`LAYERS`), max throughput only.

Targets (the issue): redgrid ≥ 0.5 × the echo bot's updates/s, and p99 ≤ 50 ms at 100 updates/s,
on SQLite and on PostgreSQL. PostgreSQL runs in a private database (`redgrid_bench_updates` on
127.0.0.1:5432, created and dropped here) unless `--database URL` names one (emptied first).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import json
import logging
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiogram import Dispatcher, F, Router  # noqa: E402
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message  # noqa: E402

from bench.photos import phone_photo  # noqa: E402
from bot import runtime  # noqa: E402
from demo.harness import polling, running_standin, standin_bot  # noqa: E402
from demo.standin import BotApiStandIn, ChatEvent, StoredMessage, Subscription, photo_problem  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PG_PRIVATE = "redgrid_bench_updates"
ECHO_TOKEN = "700000002:ECHO-BENCH"
TARGET_RATIO = 0.5
TARGET_P99_S = 0.050
PHOTO_SIZE = (800, 600)
PHOTO_QUALITY = 65
PHOTO_POOL = 32
STEP_TIMEOUT_S = 30.0
FIRST_RESIDENT_ID = 20001
CATEGORIES = ("lights", "garbage", "drains_pipes", "parking", "greenery", "noise", "flyers", "building_damage")
WORDS = ("楼道灯坏了一个星期", "垃圾桶满了没人清", "下水道堵了有味道", "车停在消防通道上")
# what counts as "the bot answered" in a chat (a chat action or a reply keyboard change alone does not)
ANSWER_KINDS = {"message", "edited", "deleted", "callback_answer"}


# --------------------------------------------------------------------------- photos


def photo_pool(count: int) -> list[bytes]:
    """Distinct phone-like 800×600 JPEGs of ~50 KB (made, and probed and thumbnailed by the
    stand-in as Telegram would on its servers, before any timing)."""
    pool = []
    for seed in range(count):
        buffer = io.BytesIO()
        phone_photo(*PHOTO_SIZE, seed + 100).save(buffer, "JPEG", quality=PHOTO_QUALITY)
        pool.append(buffer.getvalue())
        assert photo_problem(pool[-1]) is None
    return pool


# --------------------------------------------------------------------------- the simulated chats


@dataclass
class Sample:
    kind: str  # photo | button | text
    first_s: float  # queued → the bot's first answer
    done_s: float  # queued → the message with the next step's button
    sent_at: float


@dataclass
class _Pending:
    kind: str
    sent_at: float
    done_when: Callable[[StoredMessage], bool]
    future: asyncio.Future
    first_at: float | None = None
    done_at: float = 0.0


@dataclass(frozen=True)
class Step:
    kind: str  # photo | button | text
    act: Callable[["Chat"], None]  # queues the update in the stand-in
    done_when: Callable[[StoredMessage], bool]


class Chat:
    """One simulated person's private chat: sends the next update, waits for the step to be done."""

    def __init__(self, standin: BotApiStandIn, user_id: int, index: int,
                 dialog: Callable[[int, int], list[Step]]) -> None:
        self.standin = standin
        self.user_id = user_id
        self.index = index
        self.dialog = dialog
        self.dialogs_started = 0
        self.steps: deque[Step] = deque()
        self.last: StoredMessage | None = None  # the bot message that carries the current buttons
        self.pending: _Pending | None = None
        self.stray_events = 0

    def next_step(self) -> Step:
        if not self.steps:
            self.steps.extend(self.dialog(self.index, self.dialogs_started))
            self.dialogs_started += 1
        return self.steps.popleft()

    async def run(self, step: Step) -> Sample:
        pending = _Pending(step.kind, 0.0, step.done_when, asyncio.get_running_loop().create_future())
        self.pending = pending
        step.act(self)  # synchronous: when it returns, the stand-in has queued the update
        pending.sent_at = time.perf_counter()
        try:
            self.last = await asyncio.wait_for(pending.future, STEP_TIMEOUT_S)
        except TimeoutError:
            self.pending = None
            raise StepFailed(self, step) from None
        assert pending.first_at is not None
        return Sample(step.kind, pending.first_at - pending.sent_at, pending.done_at - pending.sent_at,
                      pending.sent_at)

    def on_event(self, event: ChatEvent, at: float) -> None:
        pending = self.pending
        # the next step's buttons come in a new message or in the pressed message, edited
        bot_message = event.kind in ("message", "edited") and event.message is not None and event.message.from_bot
        if event.kind == "message" and not bot_message:
            return  # the user's own message
        if event.kind not in ANSWER_KINDS:
            return
        if pending is None:
            self.stray_events += 1
            return
        if pending.first_at is None:
            pending.first_at = at
        if bot_message and pending.done_when(event.message):
            self.pending = None
            pending.done_at = at
            pending.future.set_result(event.message)

    # ---- what a person does

    def send_photo(self, data: bytes) -> None:
        self.standin.user_sends_photo(self.user_id, data)

    def send_text(self, text: str) -> None:
        self.standin.user_sends_text(self.user_id, text)

    def press(self, prefix: str) -> None:
        """Press the first button on the current message whose callback data starts with `prefix`."""
        assert self.last is not None, "nothing to press yet"
        for row in self.last.inline_keyboard:
            for button in row:
                if (button.get("callback_data") or "").startswith(prefix):
                    self.standin.user_presses_button(self.user_id, self.last.message_id, button["callback_data"])
                    return
        raise AssertionError(f"no button {prefix!r} on {self.last.data}")


class StepFailed(Exception):
    def __init__(self, chat: Chat, step: Step) -> None:
        super().__init__(f"chat {chat.user_id}: a {step.kind} step got no complete answer in {STEP_TIMEOUT_S:g} s")
        self.chat = chat


class StampedEvents(Subscription):
    """The stand-in's subscription with the time of each change: `_offer` runs inside the stand-in's
    announcement (the Bot API call that made the change), so the stamp is not delayed by the
    driver's own scheduling."""

    def __init__(self, standin: BotApiStandIn, chats: dict[int, Chat]) -> None:
        super().__init__(standin, None)
        self.chats = chats
        standin._subscriptions.add(self)

    def _offer(self, event: ChatEvent) -> None:
        chat = self.chats.get(event.chat_id)
        if chat is not None:
            chat.on_event(event, time.perf_counter())


def has_button(prefix: str) -> Callable[[StoredMessage], bool]:
    return lambda m: any((b.get("callback_data") or "").startswith(prefix) for row in m.inline_keyboard for b in row)


def says(text: str) -> Callable[[StoredMessage], bool]:
    return lambda m: text in (m.text or "")


def typed_words(index: int, dialog: int) -> bool:
    return (index + dialog) % 2 == 1


def redgrid_dialog(photos: list[bytes]) -> Callable[[int, int], list[Step]]:
    """photo → 下一步 → category → my building → words or 跳过 → ✅ 确认提交, as tests/e2e drive it."""
    def dialog(index: int, number: int) -> list[Step]:
        photo = photos[(index * 7 + number) % len(photos)]
        category = CATEGORIES[(index + number) % len(CATEGORIES)]
        if typed_words(index, number):
            words = Step("text", lambda c: c.send_text(WORDS[index % len(WORDS)]), has_button("rp:confirm:"))
        else:
            words = Step("button", lambda c: c.press("rp:skip:"), has_button("rp:confirm:"))
        return [
            Step("photo", lambda c: c.send_photo(photo), has_button("rp:next:")),
            Step("button", lambda c: c.press("rp:next:"), has_button("rp:category:")),
            Step("button", lambda c: c.press(f"rp:category:{category}"), has_button("rp:building:")),
            Step("button", lambda c: c.press("rp:building:"), has_button("rp:skip:")),  # the first: 我的楼栋
            words,
            Step("button", lambda c: c.press("rp:confirm:"), says("编号")),
        ]
    return dialog


def echo_dialog(photos: list[bytes]) -> Callable[[int, int], list[Step]]:
    """The same six kinds of update, in the same order, for the echo bot."""
    def dialog(index: int, number: int) -> list[Step]:
        photo = photos[(index * 7 + number) % len(photos)]
        any_message = has_button("e:")
        words = (Step("text", lambda c: c.send_text(WORDS[index % len(WORDS)]), any_message)
                 if typed_words(index, number) else Step("button", lambda c: c.press("e:"), any_message))
        return [Step("photo", lambda c: c.send_photo(photo), any_message),
                *(Step("button", lambda c: c.press("e:"), any_message) for _ in range(3)),
                words,
                Step("button", lambda c: c.press("e:"), any_message)]
    return dialog


def echo_router() -> Router:
    """A bare echo bot: reply to a photo, echo a text, answer a press and send a message."""
    router = Router()

    def markup(step: int) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="下一步", callback_data=f"e:{step}")]])

    @router.message(F.photo)
    async def photo(message: Message) -> None:
        await message.reply("收到照片", reply_markup=markup(1))

    @router.message(F.text)
    async def text(message: Message) -> None:
        await message.answer(message.text, reply_markup=markup(0))

    @router.callback_query(F.data.startswith("e:"))
    async def press(query: CallbackQuery) -> None:
        step = int(query.data.split(":")[1]) + 1
        await query.answer()
        await query.message.answer(f"第 {step} 步", reply_markup=markup(step))

    return router


# --------------------------------------------------------------------------- the two loads


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0
    failed: int = 0
    missed_slots: int = 0  # open loop: no resident was free when an update was due
    sent: int = 0
    ticker_late: list[float] = field(default_factory=list)
    cpu_process_s: float = 0.0  # CPU time of the whole process (every thread) during the run
    cpu_loop_s: float = 0.0  # CPU time of the event loop's thread: near `seconds` means the loop is saturated
    gc_full: list[float] = field(default_factory=list)  # full (generation 2) garbage collections: each stops the loop


@contextlib.contextmanager
def cpu_of(run: Run):
    """CPU time of the process and of the loop's thread during the run, and the full collections."""
    started: list[float] = []

    def collection(phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            run.gc_full.append(time.perf_counter() - started.pop())

    process, loop = time.process_time(), time.thread_time()
    gc.callbacks.append(collection)
    try:
        yield
    finally:
        gc.callbacks.remove(collection)
        run.cpu_process_s = time.process_time() - process
        run.cpu_loop_s = time.thread_time() - loop


async def closed_loop(chats: list[Chat]) -> Run:
    """Every chat drives one whole dialog, each step as soon as the previous one is done."""
    run = Run()

    async def one(chat: Chat) -> None:
        chat.steps.clear()  # a new dialog
        while True:
            try:
                run.samples.append(await chat.run(chat.next_step()))
            except StepFailed as failed:
                _report_failure(failed, run)
                chat.steps.clear()
                return
            if not chat.steps:
                return

    started = time.perf_counter()
    with cpu_of(run):
        await asyncio.gather(*(one(chat) for chat in chats))
    run.seconds = time.perf_counter() - started
    run.sent = len(run.samples)
    return run


async def stagger(chats: list[Chat]) -> None:
    """Untimed: chat i goes i mod 6 steps into a new dialog, so that in the open loop (which takes
    the chats in turn) photos, presses and confirmations are evenly mixed at every moment, as with
    real residents, instead of everyone sending a photo in the first seconds and confirming at once
    at the end."""
    async def forward(chat: Chat, steps: int) -> None:
        chat.steps.clear()
        try:
            for _ in range(steps):
                await chat.run(chat.next_step())
        except StepFailed as failed:
            _report_failure(failed, Run())  # shown; the timed run counts what this chat then fails

    await asyncio.gather(*(forward(chat, chat.index % 6) for chat in chats))


async def open_loop(chats: list[Chat], rate: float, seconds: float) -> Run:
    """`rate` updates a second for `seconds`, each to a resident whose previous step is done."""
    run = Run()
    idle = deque(chats)
    tasks: set[asyncio.Task] = set()

    async def act(chat: Chat) -> None:
        try:
            run.samples.append(await chat.run(chat.next_step()))
        except StepFailed as failed:
            _report_failure(failed, run)
            chat.steps.clear()
            return  # this chat takes no further part
        idle.append(chat)

    total = int(rate * seconds)
    started = time.perf_counter()
    with cpu_of(run):
        for k in range(total):
            due = started + k / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            run.ticker_late.append(max(0.0, time.perf_counter() - due))
            if not idle:
                run.missed_slots += 1
                continue
            task = asyncio.create_task(act(idle.popleft()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            run.sent += 1
        sending = time.perf_counter() - started
    if tasks:
        await asyncio.gather(*list(tasks))
    run.seconds = sending
    return run


_failures_shown = 0


def _report_failure(failed: StepFailed, run: Run) -> None:
    global _failures_shown
    run.failed += 1
    if _failures_shown < 2:
        _failures_shown += 1
        transcript = failed.chat.standin.transcript(failed.chat.user_id).splitlines()[-12:]
        print(f"  ! {failed}; the end of that chat:\n    " + "\n    ".join(transcript), flush=True)


# --------------------------------------------------------------------------- figures


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def figures(prefix: str, run: Run) -> dict[str, float | int]:
    samples = run.samples
    first = [s.first_s for s in samples]
    done = [s.done_s for s in samples]
    out: dict[str, float | int] = {
        f"{prefix}_updates": len(samples),
        f"{prefix}_seconds": round(run.seconds, 3),
        f"{prefix}_updates_per_s": round(len(samples) / run.seconds, 1) if run.seconds else 0,
        f"{prefix}_p50_s": round(percentile(first, 50), 4),
        f"{prefix}_p99_s": round(percentile(first, 99), 4),
        f"{prefix}_max_s": round(max(first, default=float("nan")), 4),
        f"{prefix}_mean_s": round(statistics.fmean(first), 4) if first else float("nan"),
        f"{prefix}_done_p50_s": round(percentile(done, 50), 4),
        f"{prefix}_done_p99_s": round(percentile(done, 99), 4),
        f"{prefix}_failed_steps": run.failed,
        f"{prefix}_cpu_process_share": round(run.cpu_process_s / run.seconds, 2) if run.seconds else 0,
        f"{prefix}_cpu_loop_share": round(run.cpu_loop_s / run.seconds, 2) if run.seconds else 0,
        # process CPU per update: what an update costs whatever else the machine was doing
        f"{prefix}_cpu_per_update_s": round(run.cpu_process_s / len(samples), 5) if samples else float("nan"),
        f"{prefix}_gc_full_collections": len(run.gc_full),
        f"{prefix}_gc_full_max_s": round(max(run.gc_full, default=0.0), 4),
    }
    for kind in ("photo", "button", "text"):
        of_kind = [s for s in samples if s.kind == kind]
        out[f"{prefix}_{kind}_updates"] = len(of_kind)
        out[f"{prefix}_{kind}_p50_s"] = round(percentile([s.first_s for s in of_kind], 50), 4)
        out[f"{prefix}_{kind}_p99_s"] = round(percentile([s.first_s for s in of_kind], 99), 4)
        out[f"{prefix}_{kind}_done_p99_s"] = round(percentile([s.done_s for s in of_kind], 99), 4)
    return out


def open_figures(prefix: str, run: Run, rate: float, seconds: float) -> dict[str, float | int]:
    out = figures(prefix, run)
    out[f"{prefix}_updates_per_s"] = round(run.sent / seconds, 1)  # what was offered and handled in the window
    out[f"{prefix}_target_per_s"] = rate
    out[f"{prefix}_missed_slots"] = run.missed_slots
    out[f"{prefix}_ticker_late_p99_s"] = round(percentile(run.ticker_late, 99), 4)
    return out


# --------------------------------------------------------------------------- the two bots


async def warm_up(chats: list[Chat]) -> None:
    """One dialog on a few chats, untimed: imports, compiled queries, connection pools.

    The first dialog runs alone: the community's first case of the year creates its row in
    `case_numbers`, and on PostgreSQL two first cases confirmed at the same instant collide there
    (both find no row, both insert; the second fails with a unique violation and that resident
    gets no answer). That race is a bug of `storage/cases.py` (`next_number`), not a question of
    throughput, so it is kept out of the timed runs (and reported in the lead's notes)."""
    await closed_loop(chats[:1])
    await closed_loop(chats[1:10])


def _api_calls(standin: BotApiStandIn) -> int:
    return sum(n for method, n in standin.requests.items() if method != "getupdates")


async def measure(standin: BotApiStandIn, chats: list[Chat], dialogs: int, rate: float, seconds: float,
                  name: str, offered: bool = True) -> dict[str, float | int]:
    events = StampedEvents(standin, {c.user_id: c for c in chats})
    try:
        await warm_up(chats)
        print(f"  {name}: {dialogs} dialogs at once…", flush=True)
        calls_before = _api_calls(standin)
        closed = await closed_loop(chats[:dialogs])
        result = figures(f"{name}_max", closed)
        # Bot API calls the bot made per update (getUpdates aside), deliveries by the outbox included
        result[f"{name}_max_api_calls_per_update"] = round(
            (_api_calls(standin) - calls_before) / max(1, result[f"{name}_max_updates"]), 2)
        if not offered:
            return result
        await stagger(chats)
        await asyncio.sleep(0.5)
        print(f"  {name}: {rate:g} updates/s for {seconds:g} s over {len(chats)} residents…", flush=True)
        offered = await open_loop(chats, rate, seconds)
        result.update(open_figures(f"{name}_rate", offered, rate, seconds))
        result[f"{name}_stray_events"] = sum(c.stray_events for c in chats)
        return result
    finally:
        events.close()


async def echo_bench(photos: list[bytes], residents: int, dialogs: int, rate: float, seconds: float, *,
                     name: str = "echo", plumbing: Callable[[Dispatcher], None] | None = None,
                     offered: bool = True) -> dict[str, float | int]:
    async with running_standin(token=ECHO_TOKEN) as standin:
        bot = standin_bot(standin.base_url, token=ECHO_TOKEN)
        dp = Dispatcher()
        if plumbing is not None:
            plumbing(dp)
        dp.include_router(echo_router())
        dialog = echo_dialog(photos)
        chats = []
        for n in range(residents):
            standin.add_user(FIRST_RESIDENT_ID + n, f"居民{n:03d}", language_code="zh-hans")
            chats.append(Chat(standin, FIRST_RESIDENT_ID + n, n, dialog))
        try:
            async with polling(dp, bot, polling_timeout=1):
                return await measure(standin, chats, dialogs, rate, seconds, name, offered)
        finally:
            await bot.session.close()


async def register_residents(db, count: int, now) -> None:
    """Residents of the demo community, spread over its buildings, through the core services."""
    from bot.middlewares import CHANNEL
    from core.onboarding import meet, register_resident

    async with db.uow() as uow:
        (community,) = [c for c in await uow.places.communities() if c.code == "DC"]
        homes = [(compound.id, building.id) for compound in await uow.places.compounds(community.id)
                 for building in await uow.places.buildings_of_compound(compound.id)]
        for n in range(count):
            user_id = str(FIRST_RESIDENT_ID + n)
            person = await meet(uow, CHANNEL, user_id, user_id, f"居民{n:03d}", now)
            compound_id, building_id = homes[n % len(homes)]
            await register_resident(uow, person, community.id, compound_id, building_id, now)
        await uow.commit()


@contextlib.asynccontextmanager
async def demo_community(url: str, residents: int):
    """(db, clock, personas): the migrated database with the demo community and its residents."""
    from core.clock import SystemClock
    from demo.app import prepare_demo_world
    from storage.engine import make_engine
    from storage.migrate import upgrade
    from storage.uow import Database

    engine = make_engine(url)
    await upgrade(engine)
    db = Database(engine)
    try:
        clock = SystemClock()
        personas = await prepare_demo_world(db, clock)
        await register_residents(db, residents, clock.now())
        yield db, clock, personas
    finally:
        await db.dispose()


async def redgrid_bench(url: str, folder: Path, photos: list[bytes], residents: int, dialogs: int, rate: float,
                        seconds: float) -> dict[str, float | int]:
    from redgrid.bootstrap import demo_stack
    from redgrid.settings import Settings

    async with demo_community(url, residents) as (db, clock, personas):
        # simulated residents report far faster than people may (the abuse limits): this measures handling
        settings = Settings(_env_file=None, data_dir=folder / "data", redis_url="", messages_per_minute=10_000,
                            reports_per_hour=1000, reports_per_day=10_000)
        async with demo_stack(db, settings, clock, personas) as stack:
            dialog = redgrid_dialog(photos)
            chats = []
            for n in range(residents):
                stack.standin.add_user(FIRST_RESIDENT_ID + n, f"居民{n:03d}", language_code="zh-hans")
                chats.append(Chat(stack.standin, FIRST_RESIDENT_ID + n, n, dialog))
            result = await measure(stack.standin, chats, dialogs, rate, seconds, "redgrid")
        async with db.uow() as uow:
            from sqlalchemy import text

            result["redgrid_cases_created"] = (await uow.conn.execute(text("SELECT count(*) FROM cases"))).scalar_one()
        return result


# The echo bot with redgrid's plumbing and nothing else, to see what each layer costs: the inbox
# (every update recorded before and marked handled after, as this issue asks) with one update per
# chat at a time; then also the unit of work that finds the person behind the chat (one query, the
# "handled" mark then in the same transaction), which every redgrid handler starts from.
LAYERS = (("echo_inbox", "echo + inbox", False), ("echo_context", "echo + inbox + unit of work & person", True))


async def layers_bench(kind: str, folder: Path, photos: list[bytes], residents: int,
                       dialogs: int) -> dict[str, float | int]:
    from bot import inbox
    from bot.middlewares import ContextMiddleware
    from bot.serial import OneAtATimePerChat

    result: dict[str, float | int] = {}
    for name, _, with_person in LAYERS:
        with tempfile.TemporaryDirectory(dir=folder) as own:  # fresh: the inbox knows update ids
            async with database(kind, Path(own)) as url, demo_community(url, residents) as (db, clock, _):

                def plumbing(dp: Dispatcher) -> None:
                    inbox.install(dp, db, clock)
                    dp.update.outer_middleware(OneAtATimePerChat())
                    if with_person:
                        dp.update.outer_middleware(ContextMiddleware(db, clock, "zh"))
                    dp.startup.register(runtime.on_startup)

                result.update(await echo_bench(photos, residents, dialogs, 0, 0, name=name,
                                               plumbing=plumbing, offered=False))
    return result


# --------------------------------------------------------------------------- databases


@contextlib.asynccontextmanager
async def database(kind: str, folder: Path):
    """A fresh database URL: a SQLite file, the private PostgreSQL database, or a given URL emptied."""
    from sqlalchemy import text

    from storage.engine import make_engine

    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}"
        return
    if kind == "postgresql":
        engine = make_engine(PG_ADMIN)
        admin = engine.execution_options(isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_PRIVATE}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{PG_PRIVATE}"'))
        try:
            yield PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_PRIVATE
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_PRIVATE}" WITH (FORCE)'))
            await engine.dispose()
        return
    engine = make_engine(kind)
    if kind.startswith("postgresql"):
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    yield kind


def database_name(url: str) -> str:
    return "postgresql" if url.startswith("postgres") else "sqlite"


# --------------------------------------------------------------------------- table


def table(result: dict[str, Any]) -> str:
    ms = 1000

    def row(label: str, p: str) -> str:
        def lat(key: str) -> str:
            value = result.get(f"{p}_{key}")
            return "—" if value is None or value != value else f"{value * ms:.0f}"
        return (f"  {label:<28} {result[f'{p}_updates_per_s']:>9.1f} {lat('p50_s'):>6} {lat('p99_s'):>6} "
                f"{lat('max_s'):>6}   {lat('photo_p50_s'):>4} / {lat('photo_p99_s'):<4}  "
                f"{lat('button_p50_s'):>4} / {lat('button_p99_s'):<4}  {lat('text_p50_s'):>4} / {lat('text_p99_s'):<4}"
                f"  {lat('done_p99_s'):>6}   {result[f'{p}_updates']:>5} {result[f'{p}_failed_steps']:>3}"
                f"   {result[f'{p}_cpu_process_share']:>4.2f} / {result[f'{p}_cpu_loop_share']:.2f}"
                f"   {result[f'{p}_gc_full_collections']:>2} × ≤{lat('gc_full_max_s'):>3}")

    rate = f"{result['rate']:g}/s for {result['seconds']:g} s"
    lines = [
        f"redgrid update throughput — {result['database']}, Python {platform.python_version()}, "
        f"{result['cpu_count']} CPUs, {result['dialogs']} dialogs at once, {result['residents']} residents",
        f"  photos: {PHOTO_SIZE[0]}×{PHOTO_SIZE[1]} JPEG, {result['photo_bytes_mean'] / 1024:.0f} KB on average "
        f"({PHOTO_POOL} distinct); latency = update queued → first answer, ms; done = → next step's button",
        f"  {'':<28} {'updates/s':>9} {'p50':>6} {'p99':>6} {'max':>6}   {'photo p50/p99':<13}  "
        f"{'button p50/p99':<13}  {'text p50/p99':<12} {'done p99':>8}   {'n':>5} {'err':>3}   CPU proc/loop   full GC",
        row("echo, max throughput", "echo_max"),
        row("redgrid, max throughput", "redgrid_max"),
        row(f"echo, {rate}", "echo_rate"),
        row(f"redgrid, {rate}", "redgrid_rate"),
        f"  per update at max throughput: Bot API calls {result['echo_max_api_calls_per_update']:.2f} echo / "
        f"{result['redgrid_max_api_calls_per_update']:.2f} redgrid; process CPU "
        f"{result['echo_max_cpu_per_update_s'] * ms:.1f} ms echo / {result['redgrid_max_cpu_per_update_s'] * ms:.1f} ms redgrid",
        "  what the plumbing costs (max throughput): " + "; ".join(
            f"{label} {result[f'{name}_max_updates_per_s']:.1f}/s, {result[f'{name}_max_cpu_per_update_s'] * ms:.1f} ms"
            for name, label, _ in LAYERS if f"{name}_max_updates_per_s" in result),
        f"  ratio redgrid ÷ echo (max throughput): {result['ratio_updates_per_s']:.2f} — target ≥ {TARGET_RATIO}: "
        f"{'met' if result['ratio_met'] else 'MISSED'}",
        f"  p99 at {result['rate']:g} updates/s: {result['redgrid_rate_p99_s'] * ms:.0f} ms — target ≤ "
        f"{TARGET_P99_S * ms:.0f} ms: {'met' if result['p99_met'] else 'MISSED'}"
        f" (offered {result['redgrid_rate_updates_per_s']:g}/s, {result['redgrid_rate_missed_slots']} slots without a "
        f"free resident)",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


async def bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    photos = photo_pool(PHOTO_POOL)
    common = {
        "cpu_count": os.cpu_count() or 0,
        "dialogs": args.dialogs,
        "residents": args.residents,
        "rate": args.rate,
        "seconds": args.seconds,
        "updates_per_dialog": 6,
        "photo_width": PHOTO_SIZE[0],
        "photo_height": PHOTO_SIZE[1],
        "photo_bytes_mean": round(statistics.fmean(len(p) for p in photos)),
        "target_ratio": TARGET_RATIO,
        "target_p99_s": TARGET_P99_S,
    }
    # Both bots keep aiogram's response classes (bot/runtime.py; redgrid does it on start-up), so the
    # echo bot does not pay for rebuilding them after every garbage collection.
    runtime.keep_api_models()
    started = time.perf_counter()
    print(f"echo bot: {args.dialogs} dialogs at once, then {args.rate:g}/s for {args.seconds:g} s…", flush=True)
    echo = await echo_bench(photos, args.residents, args.dialogs, args.rate, args.seconds)
    echo["echo_bench_seconds"] = round(time.perf_counter() - started, 1)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results = []
    for kind in kinds:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="redgrid-bench-") as folder:
            async with database(kind, Path(folder)) as url:
                print(f"redgrid on {database_name(url)}: {args.residents} residents…", flush=True)
                redgrid = await redgrid_bench(url, Path(folder), photos, args.residents, args.dialogs,
                                              args.rate, args.seconds)
            print("  the echo bot with redgrid's plumbing, layer by layer…", flush=True)
            layers = await layers_bench(kind, Path(folder), photos, args.residents, args.dialogs)
        result = {"database": database_name(url), **common, **echo, **redgrid, **layers}
        result["ratio_updates_per_s"] = round(result["redgrid_max_updates_per_s"] / result["echo_max_updates_per_s"], 3)
        result["ratio_rate_p99"] = round(result["redgrid_rate_p99_s"] / result["echo_rate_p99_s"], 2)
        result["ratio_met"] = int(result["ratio_updates_per_s"] >= TARGET_RATIO)
        result["p99_met"] = int(result["redgrid_rate_p99_s"] <= TARGET_P99_S
                                and result["redgrid_rate_missed_slots"] == 0)
        result["redgrid_bench_seconds"] = round(time.perf_counter() - started, 1)
        results.append(result)
        print(table(result), flush=True)
        if not args.quick:
            name = "updates.json" if result["database"] == "sqlite" else f"updates_{result['database']}.json"
            out = RESULTS / name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
            print(f"  written to {out.relative_to(ROOT)}", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="both",
                        help="sqlite, postgresql (a private database, created and dropped), both (default), "
                             "or a SQLAlchemy async URL (a PostgreSQL one is emptied first)")
    parser.add_argument("--dialogs", type=int, help="dialogs at once for max throughput (default 200; quick 50)")
    parser.add_argument("--residents", type=int, help="residents (default 200, quick 100; at least --dialogs)")
    parser.add_argument("--rate", type=float, default=100.0, help="offered updates a second (default 100)")
    parser.add_argument("--seconds", type=float, help="how long to offer them (default 20; quick 5)")
    parser.add_argument("--quick", action="store_true", help="a check in under a minute; writes nothing")
    args = parser.parse_args()
    args.dialogs = args.dialogs or (50 if args.quick else 200)
    args.seconds = args.seconds or (5.0 if args.quick else 20.0)
    args.residents = max(args.residents or (100 if args.quick else 200), args.dialogs)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    wall = time.perf_counter()
    results = asyncio.run(bench(args))
    print(f"done in {time.perf_counter() - wall:.0f} s")
    ok = bool(results) and all(r["ratio_met"] and r["p99_met"] and not r["redgrid_max_failed_steps"]
                               and not r["redgrid_rate_failed_steps"] for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
