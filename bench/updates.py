"""Per-update cost: redgrid's report dialog against a bare aiogram echo bot, each bot a process of
its own as production runs it, measured by the bot process's own CPU time.

    python bench/updates.py                     # SQLite and PostgreSQL, 3 repetitions; ~6 minutes;
                                                # writes bench/results/updates.json and updates_postgresql.json
    python bench/updates.py --quick             # 1 repetition, 50 dialogs, 5 s offered; prints only
    python bench/updates.py --database sqlite|postgresql|both|URL [--reps 3] [--dialogs 200] [--seconds 20]
    python bench/updates.py --profile DIR       # redgrid under cProfile (DIR/redgrid-<database>.prof); writes no results
    python bench/updates.py --count-sql         # also redgrid's SQL statements per update (a hook in the bot process)

Two processes, as in production. This one is Telegram: a Bot API stand-in per bot (flood limits off:
this measures handling, not Telegram's limits) and simulated residents. The bots are processes of
their own: redgrid exactly as the README starts it, `redgrid run` (the venv's console script) with
`BOT_API_URL` pointing at its stand-in and `DATABASE_URL` at a fresh database holding the demo
community and the residents (registered through the core services); the echo bot is
`bench/echo_bot.py` (a bare Dispatcher: reply to a photo, echo a text, answer a press and send a
message, each with one button). Both start once and keep polling; their start-up is never measured.

What is measured is the bot process's own CPU time (utime + stime of every thread, from
`/proc/<pid>/stat`) per update handled, for a closed loop of `--dialogs` residents at once, each
driving one report dialog (six updates: photo → "下一步" → category → "我的楼栋（…）" → a few words
typed or "跳过" (every other dialog) → "✅ 确认提交"; the echo bot gets the same six kinds of update in
the same order), each step as soon as the previous one is done. redgrid's window lasts until the
notifications those dialogs caused (the grid member's "🆕 新问题") have reached the stand-in, so the
delivery worker's work is counted too. Echo and redgrid take turns, `--reps` times (≥ 3 for the
figures in the README), and each figure is given as min / median / max over the repetitions; the
ratio is redgrid's median over echo's median, and per repetition. CPU time, not wall time: the
machine is shared, and the updates/s of a bot depend on how much of a core it was given.

Then latency: redgrid is offered half the rate it reached at max throughput in this run (median
of the repetitions; so the figure does not depend on how loaded the machine is), for `--seconds`,
each update to the next resident whose previous step is done (open loop; residents first moved to
different steps of their dialogs, so photos, presses and confirmations are evenly mixed). Latency
runs from the moment the stand-in queues the update to the first thing the bot shows in that chat
for it (a message, an edit or the answer to the press), stamped inside the stand-in.

Photos are 800×600 JPEGs of ~50 KB (noise, gradients, shapes: they compress like a photo); the
stand-in makes Telegram's 320-px thumbnail of each distinct picture once, before any timing
(Telegram's work); redgrid downloads and normalises each. Also in the same run: normalising a
12-megapixel phone JPEG against naive Pillow (open, exif_transpose, thumbnail LANCZOS, save
quality 85) on the same file, CPU time, alternating (`bench/photos.py`).

Targets (issue #18): redgrid ≤ 2.0 × the echo bot's CPU per update, on SQLite and on PostgreSQL;
p99 ≤ 50 ms at half the measured max rate; the 12 MP normalise ≤ 0.4 × naive Pillow.
PostgreSQL runs in a private database (`redgrid_bench_updates` on 127.0.0.1:5432, created and
dropped here) unless `--database URL` names one (emptied first).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import math
import os
import platform
import shutil
import signal
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

from bench.photos import normalise_against_naive, phone_photo  # noqa: E402
from demo.harness import running_standin  # noqa: E402
from demo.standin import BotApiStandIn, ChatEvent, StoredMessage, Subscription, photo_problem  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PG_PRIVATE = "redgrid_bench_updates"
REDGRID_TOKEN = "700000001:REDGRID-BENCH"
ECHO_TOKEN = "700000002:ECHO-BENCH"
TARGET_CPU_RATIO = 2.0
TARGET_P99_S = 0.050
TARGET_PHOTO_RATIO = 0.4
PHOTO_SIZE = (800, 600)
PHOTO_QUALITY = 65
PHOTO_POOL = 32
STEP_TIMEOUT_S = 120.0  # a shared, loaded machine: a step may wait long for a core
READY_TIMEOUT_S = 300.0  # importing aiogram alone takes 3–8 s of CPU on a loaded machine
FIRST_RESIDENT_ID = 20001
CATEGORIES = ("lights", "garbage", "drains_pipes", "parking", "greenery", "noise", "flyers", "building_damage")
WORDS = ("楼道灯坏了一个星期", "垃圾桶满了没人清", "下水道堵了有味道", "车停在消防通道上")
# what counts as "the bot answered" in a chat (a chat action or a reply keyboard change alone does not)
ANSWER_KINDS = {"message", "edited", "deleted", "callback_answer"}
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
IDLE_S = 10.0


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
            if not pending.future.done():  # not given up on (a step that timed out)
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
        self.notices = 0  # the bot's messages to anyone but the residents (the outbox's deliveries)
        standin._subscriptions.add(self)

    def _offer(self, event: ChatEvent) -> None:
        chat = self.chats.get(event.chat_id)
        if chat is not None:
            chat.on_event(event, time.perf_counter())
        elif event.kind == "message" and event.message is not None and event.message.from_bot:
            self.notices += 1


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


# --------------------------------------------------------------------------- the bot processes


class BotProcess:
    """A bot running as a process of its own, polling its stand-in; its CPU time read from /proc."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, log: Path) -> None:
        self.name = name
        self.process = process
        self.pid = process.pid
        self.log = log
        self.sql_file: Path | None = None  # --count-sql: bench/sql_count/sitecustomize.py writes here

    async def sql_statements(self) -> tuple[int, float, int] | None:
        """(SQL statements executed, seconds in the garbage collector, collections) so far (--count-sql),
        None without it."""
        if self.sql_file is None:
            return None
        self.sql_file.unlink(missing_ok=True)
        os.kill(self.pid, signal.SIGUSR1)
        for _ in range(500):
            with contextlib.suppress(OSError, ValueError):
                statements, gc_s, collections = self.sql_file.read_text().split()
                return int(statements), float(gc_s), int(collections)
            await asyncio.sleep(0.01)
        return None

    @classmethod
    async def start(cls, name: str, argv: list[str], env: dict[str, str], standin: BotApiStandIn,
                    folder: Path) -> BotProcess:
        """Start `argv` with `env` (on top of this process's PATH and the like) in `folder`; return once
        it has asked the stand-in for updates (its start-up hooks have run)."""
        full_env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("BOT_", "DATABASE_", "REDIS_"))}
        full_env.update(env)
        log = folder / f"{name}.log"
        with open(log, "ab") as out:
            process = await asyncio.create_subprocess_exec(*argv, env=full_env, cwd=folder, stdout=out,
                                                           stderr=asyncio.subprocess.STDOUT)
        bot = cls(name, process, log)
        if env.get("BENCH_SQL_COUNT_FILE"):
            bot.sql_file = Path(env["BENCH_SQL_COUNT_FILE"])
        started = time.monotonic()
        while standin.requests.get("getupdates", 0) == 0:
            if process.returncode is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} before polling:\n{bot.tail()}")
            if time.monotonic() - started > READY_TIMEOUT_S:
                await bot.stop()
                raise RuntimeError(f"{name} did not poll within {READY_TIMEOUT_S:g} s:\n{bot.tail()}")
            await asyncio.sleep(0.1)
        return bot

    def cpu_seconds(self) -> float:
        """utime + stime of the process, every thread (including those that ended), in seconds."""
        return sum(self.cpu_split())

    def cpu_split(self) -> tuple[float, float]:
        """(utime, stime): in Python and the libraries, in the kernel (sockets, thread hand-overs)."""
        with open(f"/proc/{self.pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) / CLOCK_TICK, int(fields[12]) / CLOCK_TICK  # fields 14 and 15 of proc(5)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self) -> None:
        """SIGTERM (aiogram stops polling and the bot closes what it holds), SIGKILL after 30 s."""
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def redgrid_command() -> list[str]:
    """`redgrid run`, the console script of the venv this benchmark runs in (README: .venv/bin/redgrid run)."""
    script = Path(sys.executable).parent / "redgrid"
    if not script.exists():
        found = shutil.which("redgrid")
        if found is None:
            raise SystemExit("no `redgrid` command next to this Python: pip install -e . first")
        script = Path(found)
    return [str(script), "run"]


def echo_command() -> list[str]:
    return [sys.executable, str(ROOT / "bench" / "echo_bot.py")]


@dataclass
class Side:
    """One bot under test: its stand-in, its simulated residents, its process."""

    name: str
    standin: BotApiStandIn
    chats: list[Chat]
    bot: BotProcess
    events: StampedEvents
    notices_per_dialog: float = 0.0  # messages to people other than the residents, per confirmed dialog
    idle_cpu_share: float = 0.0  # the bot's CPU while nobody writes (polling, the scheduler, the outbox's poll)

    def api_calls(self) -> int:
        return sum(n for method, n in self.standin.requests.items() if method != "getupdates")


# --------------------------------------------------------------------------- the two loads


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the dialogs (max throughput) or of offering them (open loop)
    failed: int = 0
    missed_slots: int = 0  # open loop: no resident was free when an update was due
    sent: int = 0
    ticker_late: list[float] = field(default_factory=list)
    cpu_bot_s: float = 0.0  # the bot process's CPU time over the window (dialogs + their notifications)
    cpu_system_s: float = 0.0  # the part of it in the kernel
    cpu_window_s: float = 0.0  # wall time of that window
    api_calls: int = 0
    sql_statements: int | None = None  # --count-sql: executed by the bot over the window
    gc_s: float = 0.0  # --count-sql: the bot's time in its garbage collector over the window
    gc_collections: int = 0


@contextlib.asynccontextmanager
async def bot_cpu(side: Side, run: Run, wait_for_notices: int = 0):
    """The bot's CPU time from here until the block ends and, after it, until `wait_for_notices`
    messages to people other than the residents (the outbox's deliveries) have arrived."""
    notices = side.events.notices
    sql = await side.bot.sql_statements()
    (user, system), calls, started = side.bot.cpu_split(), side.api_calls(), time.perf_counter()
    yield
    if wait_for_notices:
        deadline = time.perf_counter() + 60
        while side.events.notices - notices < wait_for_notices and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
    user_after, system_after = side.bot.cpu_split()
    run.cpu_bot_s = user_after - user + system_after - system
    run.cpu_system_s = system_after - system
    run.cpu_window_s = time.perf_counter() - started
    run.api_calls = side.api_calls() - calls
    sql_after = await side.bot.sql_statements()
    if sql is not None and sql_after is not None:
        run.sql_statements = sql_after[0] - sql[0]
        run.gc_s, run.gc_collections = sql_after[1] - sql[1], sql_after[2] - sql[2]


async def closed_loop(side: Side, chats: list[Chat] | None = None) -> Run:
    """Every chat drives one whole dialog, each step as soon as the previous one is done."""
    chats = side.chats if chats is None else chats
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

    # the grid member's "🆕 新问题" for each case (a few dialogs may cause more, which are not waited for)
    expected = int(min(1.0, side.notices_per_dialog) * len(chats))
    async with bot_cpu(side, run, wait_for_notices=expected):
        started = time.perf_counter()
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


async def open_loop(side: Side, rate: float, seconds: float) -> Run:
    """`rate` updates a second for `seconds`, each to a resident whose previous step is done."""
    run = Run()
    idle = deque(side.chats)
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
    async with bot_cpu(side, run):
        started = time.perf_counter()
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
        run.seconds = time.perf_counter() - started
        if tasks:
            await asyncio.gather(*list(tasks))
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


def closed_figures(run: Run) -> dict[str, float | int]:
    """One repetition at max throughput."""
    n = len(run.samples)
    return {
        "updates": n,
        "failed_steps": run.failed,
        "seconds": round(run.seconds, 3),
        "updates_per_s": round(n / run.seconds, 1) if run.seconds else 0.0,
        "cpu_per_update_s": round(run.cpu_bot_s / n, 6) if n else float("nan"),
        "cpu_system_share": round(run.cpu_system_s / run.cpu_bot_s, 2) if run.cpu_bot_s else 0.0,
        "cpu_share": round(run.cpu_bot_s / run.cpu_window_s, 2) if run.cpu_window_s else 0.0,
        "api_calls_per_update": round(run.api_calls / n, 2) if n else float("nan"),
        **({"sql_per_update": round(run.sql_statements / n, 2), "gc_per_update_s": round(run.gc_s / n, 6),
            "gc_collections": run.gc_collections} if run.sql_statements is not None and n else {}),
    }


def spread(prefix: str, reps: list[dict[str, float | int]], key: str, digits: int = 6) -> dict[str, float]:
    values = [r[key] for r in reps]
    return {f"{prefix}_{key}_min": round(min(values), digits), f"{prefix}_{key}_median":
            round(statistics.median(values), digits), f"{prefix}_{key}_max": round(max(values), digits)}


def open_figures(prefix: str, run: Run, rate: float, seconds: float) -> dict[str, float | int]:
    samples = run.samples
    first = [s.first_s for s in samples]
    out: dict[str, float | int] = {
        f"{prefix}_target_per_s": round(rate, 1),
        f"{prefix}_seconds": seconds,
        f"{prefix}_updates": len(samples),
        f"{prefix}_updates_per_s": round(run.sent / seconds, 1),  # what was offered and handled in the window
        f"{prefix}_missed_slots": run.missed_slots,
        f"{prefix}_failed_steps": run.failed,
        f"{prefix}_p50_s": round(percentile(first, 50), 4),
        f"{prefix}_p99_s": round(percentile(first, 99), 4),
        f"{prefix}_max_s": round(max(first, default=float("nan")), 4),
        f"{prefix}_done_p99_s": round(percentile([s.done_s for s in samples], 99), 4),
        f"{prefix}_cpu_per_update_s": round(run.cpu_bot_s / len(samples), 6) if samples else float("nan"),
        f"{prefix}_cpu_share": round(run.cpu_bot_s / run.cpu_window_s, 2) if run.cpu_window_s else 0.0,
        f"{prefix}_ticker_late_p99_s": round(percentile(run.ticker_late, 99), 4),
    }
    for kind in ("photo", "button", "text"):
        of_kind = [s.first_s for s in samples if s.kind == kind]
        out[f"{prefix}_{kind}_p50_s"] = round(percentile(of_kind, 50), 4)
        out[f"{prefix}_{kind}_p99_s"] = round(percentile(of_kind, 99), 4)
    return out


# --------------------------------------------------------------------------- the two bots


async def warm_up(side: Side) -> None:
    """Untimed dialogs: imports done lazily, compiled queries, connection pools; then how many
    notifications a dialog causes (waited for, so each repetition's window can wait for its own).

    The first dialog runs alone: the community's first case of the year creates its row in
    `case_numbers`, and on PostgreSQL two first cases confirmed at the same instant could collide there."""
    notices = side.events.notices
    await closed_loop(side, side.chats[:1])
    await closed_loop(side, side.chats[1:10])
    await closed_loop(side, side.chats[:20])
    quiet_since, seen = time.perf_counter(), side.events.notices
    while time.perf_counter() - quiet_since < 3.0:  # no new notification for 3 s
        await asyncio.sleep(0.1)
        if side.events.notices != seen:
            quiet_since, seen = time.perf_counter(), side.events.notices
    side.notices_per_dialog = (side.events.notices - notices) / 30


@contextlib.asynccontextmanager
async def running_side(name: str, argv: list[str], env: dict[str, str], token: str, folder: Path,
                       residents: int, photos: list[bytes], dialog: Callable[[list[bytes]], Callable],
                       others: list[tuple[int, str, str]] = ()):
    """A stand-in with the residents (and `others`: (user id, name, language) of people the bot may
    notify), the bot process polling it, warmed up."""
    async with running_standin(token=token) as standin:
        for user_id, person, language in others:
            standin.add_user(user_id, person, language_code=language)
        chats = []
        for n in range(residents):
            standin.add_user(FIRST_RESIDENT_ID + n, f"居民{n:03d}", language_code="zh-hans")
            chats.append(Chat(standin, FIRST_RESIDENT_ID + n, n, dialog(photos)))
        events = StampedEvents(standin, {c.user_id: c for c in chats})
        bot = await BotProcess.start(name, argv, {"BOT_TOKEN": token, "BOT_API_URL": standin.base_url, **env},
                                     standin, folder)
        side = Side(name, standin, chats, bot, events)
        try:
            await warm_up(side)
            cpu, started = bot.cpu_seconds(), time.perf_counter()
            await asyncio.sleep(IDLE_S)
            side.idle_cpu_share = (bot.cpu_seconds() - cpu) / (time.perf_counter() - started)
            print(f"  {name} idle: {side.idle_cpu_share:.3f} of a core", flush=True)
            yield side
        finally:
            events.close()
            await bot.stop()


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


async def demo_community(url: str, residents: int) -> list:
    """Migrate the database, seed the demo community and register the residents; the demo's personas."""
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
        return personas
    finally:
        await db.dispose()


async def count_cases(url: str) -> int:
    from sqlalchemy import text

    from storage.engine import make_engine

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT count(*) FROM cases"))).scalar_one()
    finally:
        await engine.dispose()


def redgrid_env(url: str, folder: Path, count_sql: bool = False) -> dict[str, str]:
    counting = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "bench" / "sql_count"), os.environ.get("PYTHONPATH")])),
                "BENCH_SQL_COUNT_FILE": str(folder / "sql-count")} if count_sql else {}
    return {**counting,
        "DATABASE_URL": url, "DATA_DIR": str(folder / "data"), "REDIS_URL": "", "LOG_LEVEL": "WARNING",
        # simulated residents report far faster than people may (the abuse limits): this measures handling
        "MESSAGES_PER_MINUTE": "10000", "REPORTS_PER_HOUR": "1000", "REPORTS_PER_DAY": "10000",
        # the demo has 4 grid members for 200 residents; Telegram's 1 message a second per chat would make
        # their notices queue for minutes (a real city spreads them over hundreds of grid members)
        "DELIVERY_PER_CHAT_PER_SECOND": "50",
    }


async def bench_database(kind: str, echo: Side, photos: list[bytes], args: argparse.Namespace,
                         common: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="redgrid-bench-") as tmp:
        folder = Path(tmp)
        async with database(kind, folder) as url:
            name = database_name(url)
            print(f"redgrid on {name}: preparing the demo community and {args.residents} residents…", flush=True)
            personas = await demo_community(url, args.residents)
            others = [(p.user_id, p.name, p.language_code) for p in personas]
            print("  starting `redgrid run`…", flush=True)
            argv = redgrid_command()
            if args.profile:  # the main thread's functions, written when the bot stops (SIGTERM)
                argv = [sys.executable, "-m", "cProfile", "-o", str(Path(args.profile).resolve() / f"redgrid-{name}.prof"),
                        *argv]
            async with running_side("redgrid", argv, redgrid_env(url, folder, args.count_sql), REDGRID_TOKEN, folder,
                                    args.residents, photos, redgrid_dialog, others) as redgrid:
                print(f"  {redgrid.notices_per_dialog:.2f} notifications per dialog", flush=True)
                echo_reps: list[dict[str, float | int]] = []
                redgrid_reps: list[dict[str, float | int]] = []
                for rep in range(args.reps):
                    for side, reps in ((echo, echo_reps), (redgrid, redgrid_reps)):
                        run = await closed_loop(side, side.chats[:args.dialogs])
                        reps.append(closed_figures(run))
                        print(f"  {rep + 1}/{args.reps} {side.name:<8} {reps[-1]['updates']} updates, "
                              f"{reps[-1]['updates_per_s']:.1f}/s, "
                              f"{reps[-1]['cpu_per_update_s'] * 1000:.2f} ms of the bot's CPU per update "
                              f"({reps[-1]['cpu_system_share']:.0%} in the kernel; {reps[-1]['cpu_share']:.2f} of a core), "
                              f"{reps[-1]['failed_steps']} failed"
                              + (f", {reps[-1]['sql_per_update']:.2f} SQL statements and "
                                 f"{reps[-1]['gc_per_update_s'] * 1000:.2f} ms in the GC per update "
                                 f"({reps[-1]['gc_collections']} collections)"
                                 if 'sql_per_update' in reps[-1] else ""), flush=True)
                rate = 0.5 * statistics.median(r["updates_per_s"] for r in redgrid_reps)
                await stagger(redgrid.chats)
                await asyncio.sleep(0.5)
                print(f"  redgrid offered {rate:.1f} updates/s (half its max) for {args.seconds:g} s…", flush=True)
                offered = await open_loop(redgrid, rate, args.seconds)
            cases = await count_cases(url)
    result: dict[str, Any] = {"database": name, **common, "echo_idle_cpu_share": round(echo.idle_cpu_share, 3),
                              "redgrid_idle_cpu_share": round(redgrid.idle_cpu_share, 3),
                              "redgrid_notifications_per_dialog": round(redgrid.notices_per_dialog, 2),
                              "redgrid_cases_created": cases}
    for prefix, reps in (("echo", echo_reps), ("redgrid", redgrid_reps)):
        result[f"{prefix}_reps"] = reps
        for key in ("cpu_per_update_s", "updates_per_s", "api_calls_per_update"):
            result.update(spread(f"{prefix}_max", reps, key))
        result[f"{prefix}_max_failed_steps"] = sum(r["failed_steps"] for r in reps)
    ratios = [r["cpu_per_update_s"] / e["cpu_per_update_s"] for e, r in zip(echo_reps, redgrid_reps)]
    result["cpu_ratio_per_rep"] = [round(x, 3) for x in ratios]
    result["cpu_ratio"] = round(result["redgrid_max_cpu_per_update_s_median"]
                                / result["echo_max_cpu_per_update_s_median"], 3)
    result["cpu_ratio_met"] = int(result["cpu_ratio"] <= TARGET_CPU_RATIO)
    result.update(open_figures("redgrid_rate", offered, rate, args.seconds))
    result["p99_met"] = int(result["redgrid_rate_p99_s"] <= TARGET_P99_S and not result["redgrid_rate_missed_slots"])
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

    def three(prefix: str, key: str, scale: float = 1.0, fmt: str = ".2f") -> str:
        return " / ".join(f"{result[f'{prefix}_{key}_{w}'] * scale:{fmt}}" for w in ("min", "median", "max"))

    lines = [
        f"redgrid per-update cost — {result['database']}, Python {platform.python_version()}, "
        f"{result['cpu_count']} CPUs (load average {result['load_average']}), {result['reps']} repetitions of "
        f"{result['dialogs']} dialogs at once; each bot its own process",
        f"  {'':<10} {'bot CPU ms/update min/median/max':<34} {'updates/s min/median/max':<28} API calls/update",
        f"  {'echo':<10} {three('echo_max', 'cpu_per_update_s', ms):<34} "
        f"{three('echo_max', 'updates_per_s', 1, '.1f'):<28} {result['echo_max_api_calls_per_update_median']:.2f}",
        f"  {'redgrid':<10} {three('redgrid_max', 'cpu_per_update_s', ms):<34} "
        f"{three('redgrid_max', 'updates_per_s', 1, '.1f'):<28} {result['redgrid_max_api_calls_per_update_median']:.2f}",
        f"  ratio redgrid ÷ echo, bot CPU per update: {result['cpu_ratio']:.2f} (per repetition "
        f"{', '.join(f'{x:.2f}' for x in result['cpu_ratio_per_rep'])}) — target ≤ {TARGET_CPU_RATIO}: "
        f"{'met' if result['cpu_ratio_met'] else 'MISSED'}",
        f"  offered {result['redgrid_rate_target_per_s']:g} updates/s (half the median max) for "
        f"{result['redgrid_rate_seconds']:g} s: p50 {result['redgrid_rate_p50_s'] * ms:.0f} ms, p99 "
        f"{result['redgrid_rate_p99_s'] * ms:.0f} ms (photo {result['redgrid_rate_photo_p99_s'] * ms:.0f}, button "
        f"{result['redgrid_rate_button_p99_s'] * ms:.0f}, text {result['redgrid_rate_text_p99_s'] * ms:.0f}), "
        f"{result['redgrid_rate_cpu_share']:.2f} of a core, {result['redgrid_rate_missed_slots']} slots without a free "
        f"resident — target ≤ {TARGET_P99_S * ms:.0f} ms: {'met' if result['p99_met'] else 'MISSED'}",
        f"  failed steps: echo {result['echo_max_failed_steps']}, redgrid {result['redgrid_max_failed_steps']} + "
        f"{result['redgrid_rate_failed_steps']} offered; {result['redgrid_cases_created']} cases created",
        f"  normalise a 12 MP JPEG: {result['photo_normalise_s'] * ms:.0f} ms against naive Pillow "
        f"{result['photo_naive_s'] * ms:.0f} ms of CPU: {result['photo_ratio']:.2f} — target ≤ {TARGET_PHOTO_RATIO}: "
        f"{'met' if result['photo_ratio_met'] else 'MISSED'}",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


async def bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    photos = photo_pool(PHOTO_POOL)
    common = {
        "cpu_count": os.cpu_count() or 0,
        "reps": args.reps,
        "dialogs": args.dialogs,
        "residents": args.residents,
        "updates_per_dialog": 6,
        "photo_width": PHOTO_SIZE[0],
        "photo_height": PHOTO_SIZE[1],
        "photo_bytes_mean": round(statistics.fmean(len(p) for p in photos)),
        "target_cpu_ratio": TARGET_CPU_RATIO,
        "target_p99_s": TARGET_P99_S,
        "target_photo_ratio": TARGET_PHOTO_RATIO,
    }
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results = []
    with tempfile.TemporaryDirectory(prefix="redgrid-bench-echo-") as tmp:
        print("starting the echo bot…", flush=True)
        async with running_side("echo", echo_command(), {}, ECHO_TOKEN, Path(tmp), args.residents, photos,
                                echo_dialog) as echo:
            for kind in kinds:
                started = time.perf_counter()
                common["load_average"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
                result = await bench_database(kind, echo, photos, args, common)
                print("  normalising a 12 MP JPEG against naive Pillow…", flush=True)
                result.update(normalise_against_naive(args.photo_runs))
                result["photo_ratio_met"] = int(result["photo_ratio"] <= TARGET_PHOTO_RATIO)
                result["bench_seconds"] = round(time.perf_counter() - started, 1)
                result["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
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
    parser.add_argument("--reps", type=int, help="repetitions, echo and redgrid taking turns (default 3; quick 1)")
    parser.add_argument("--dialogs", type=int, help="dialogs at once for max throughput (default 200; quick 50)")
    parser.add_argument("--residents", type=int, help="residents (default 200, quick 100; at least --dialogs)")
    parser.add_argument("--seconds", type=float, help="how long to offer half the max rate (default 20; quick 5)")
    parser.add_argument("--photo-runs", type=int, default=10, help="12 MP normalisations of each kind (default 10)")
    parser.add_argument("--count-sql", action="store_true", help="count redgrid's SQL statements per update "
                        "(bench/sql_count/sitecustomize.py in the bot; printed, and written as sql_per_update)")
    parser.add_argument("--profile", metavar="DIR", help="run redgrid under cProfile, written to DIR/redgrid-<database>.prof "
                        "when it stops (its figures are then not the benchmark's; nothing is written to results)")
    parser.add_argument("--quick", action="store_true", help="a check in about two minutes; writes nothing")
    args = parser.parse_args()
    args.reps = args.reps or (1 if args.quick else 3)
    args.dialogs = args.dialogs or (50 if args.quick else 200)
    args.seconds = args.seconds or (5.0 if args.quick else 20.0)
    args.residents = max(args.residents or (100 if args.quick else 200), args.dialogs)
    args.photo_runs = 3 if args.quick and args.photo_runs == 10 else args.photo_runs
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        args.quick = True  # a profiled bot's figures are not the benchmark's
    # a SIGTERM stops the bots too (the blocks that started them end as after Ctrl-C)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    wall = time.perf_counter()
    results = asyncio.run(bench(args))
    print(f"done in {time.perf_counter() - wall:.0f} s")
    ok = bool(results) and all(r["cpu_ratio_met"] and r["p99_met"] and r["photo_ratio_met"]
                               and not r["redgrid_max_failed_steps"] and not r["redgrid_rate_failed_steps"]
                               for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
