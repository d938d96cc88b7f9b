"""Fault injection, the short version that runs in CI (the long one: bench/faults.py).

The real `redgrid run` (tests/fault_bot.py, a process of its own) polls a Bot API stand-in living in
the test; residents of the demo community run the real report dialog (photo → 下一步 → 💡 路灯/楼道灯 →
我的楼栋 → 跳过 → ✅ 确认提交) while the bot is killed, Telegram is down, PostgreSQL cuts its connections,
a second process starts beside the first, or Redis stops. After each (tests/fault_kit.py):

- every resident who pressed ✅ 确认提交 has exactly one case, and saw "已提交";
- the grid member got "🆕 新问题 <number>" once per case. The bound: a kill -9 may repeat at most the
  one notification in flight when it hit (delivery sends one at a time and marks it sent before
  the next), so `repeats ≤ kills`; without a kill there is no repeat at all;
- within a minute of the fault's end nothing is `received` in the inbox and nothing `sending` or
  `pending` in the outbox, and no update ended `failed`.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.fault_kit import PrivateRedis, World, new_database, drop_database, terminate_backends
from tests import proc

RESIDENTS = 12
SETTLE = 60.0  # "nothing stays received or sending past a minute after the fault ends"


def assert_exactly_once(outcome, kills: int = 0) -> None:
    assert not outcome.lost, f"confirmed reports lost: {outcome.lost}"
    assert not outcome.duplicated, f"confirmed reports doubled: {outcome.duplicated}"
    assert not outcome.notices_missing, f"grid member never told of: {outcome.notices_missing}"
    repeats = sum(n - 1 for n in outcome.notices_repeated.values())
    assert repeats <= kills, f"notifications repeated {outcome.notices_repeated} after {kills} kill(s)"
    assert (outcome.received, outcome.sending) == (0, 0), \
        f"left open a minute after the fault: {outcome.received} received, {outcome.sending} sending/pending"
    assert not outcome.failed_updates, f"updates failed: {outcome.failed_updates}"


async def world_url(backend: str, tmp_path) -> str:
    from tests.conftest import BACKENDS, service_missing

    if backend not in BACKENDS:
        pytest.skip(f"{backend} is not in REDGRID_TEST_DATABASES")
    try:
        return await new_database(backend, tmp_path)
    except OSError as exc:
        service_missing("PostgreSQL", exc)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_kill_9_during_a_burst_of_confirms_loses_and_doubles_nothing(backend, tmp_path):
    url = await world_url(backend, tmp_path)
    try:
        async with World(url, tmp_path, RESIDENTS) as world:
            bot = await world.start_bot()
            await world.all_to_summary()
            before = await world.cases_count()
            burst = asyncio.ensure_future(world.all_confirm(spread=0.3))
            # a random moment of the burst: after 1 … n-2 cases committed, plus a random breath
            at = random.randint(1, RESIDENTS - 2)
            await proc.wait_for(lambda: _cases_at_least(world, before + at), 30, f"{at} cases", world.log_file)
            await asyncio.sleep(random.uniform(0, 0.05))
            await world.kill(bot)
            await world.start_bot()
            numbers = await asyncio.wait_for(burst, 60)
            await world.quiet(SETTLE)
            outcome = await world.verdict()
        assert len(set(numbers)) == RESIDENTS
        assert_exactly_once(outcome, kills=1)
    finally:
        await drop_database(url)


async def test_bot_api_outage_of_ten_seconds_is_ridden_out_by_retries(tmp_path):
    url = await world_url("sqlite", tmp_path)
    async with World(url, tmp_path, RESIDENTS) as world:
        await world.start_bot()
        await world.all_to_summary()
        world.standin.fail(None, times=10**9, code=502)  # every method but getUpdates: 502 Bad Gateway
        burst = asyncio.ensure_future(world.all_confirm(spread=2.0))
        await asyncio.sleep(10)
        world.standin._faults.clear()
        numbers = await asyncio.wait_for(burst, 60)
        await world.quiet(SETTLE)
        outcome = await world.verdict()
        retried = await world.count_log("trying it again in")
    assert len(set(numbers)) == RESIDENTS
    assert retried >= RESIDENTS  # each confirm met the outage at least once
    assert_exactly_once(outcome)


async def _cases_at_least(world: World, n: int) -> bool:
    return await world.cases_count() >= n
