"""The helpers that start our processes: a timing window opens when the process is ready, not at
its start, so a machine under load (slow imports) cannot fail a test for the wrong reason."""

from __future__ import annotations

import pytest

from tests.proc import start, stop, wait_for


async def test_a_window_starts_when_the_process_says_it_is_ready(tmp_path):
    log_file = tmp_path / "slow.log"
    process = await start("slow_starter.py", {"SLOW_START": "3"}, log_file, tmp_path)
    try:
        await wait_for(lambda: _ticked(log_file), 1.5, "the first tick", log_file)
    finally:
        await stop(process)


async def test_a_second_start_on_the_same_log_waits_for_its_own_ready_line(tmp_path):
    log_file = tmp_path / "slow.log"
    first = await start("slow_starter.py", {"SLOW_START": "0"}, log_file, tmp_path)
    await stop(first)
    ticks = log_file.read_text().count("tick")
    second = await start("slow_starter.py", {"SLOW_START": "2"}, log_file, tmp_path)
    try:
        await wait_for(lambda: _more_ticks(log_file, ticks), 1.5, "a tick of the second process", log_file)
    finally:
        await stop(second)


async def test_a_process_that_dies_before_it_is_ready_fails_at_once_with_its_log(tmp_path):
    with pytest.raises(AssertionError, match="exited before it was ready"):
        await start("slow_starter.py", {"SLOW_START": "not a number"}, tmp_path / "dead.log", tmp_path)


async def _ticked(log_file) -> bool:
    return "tick" in log_file.read_text()


async def _more_ticks(log_file, before: int) -> bool:
    return log_file.read_text().count("tick") > before
