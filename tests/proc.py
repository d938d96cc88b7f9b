"""Helpers for the tests that kill real processes: start a script of ours, wait for the database.

Every script prints a line `ready` once its imports and set-up are done, and `start` returns only
then: a test's timing window must never include the imports (aiogram alone takes 3–8 s of CPU on a
loaded machine; a worker once spent 26 s importing inside a 40 s window).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Awaitable, Callable

ROOT = Path(__file__).resolve().parent.parent


READY = "ready"
# How long a start may take: generous, since it is not what any test measures; a process that dies
# before it is ready fails at once.
READY_TIMEOUT = 180.0


async def start(script: str, env: dict[str, str], log_file: Path, cwd: Path,
                ready_timeout: float = READY_TIMEOUT) -> asyncio.subprocess.Process:
    """`python tests/<script>` with this checkout first on the path and the given settings; returns
    once the script has printed its `ready` line (several starts may share one log file)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_", "REDIS_"))}
    full_env.update(env, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    offset = log_file.stat().st_size if log_file.exists() else 0
    out = open(log_file, "ab")
    try:
        process = await asyncio.create_subprocess_exec(sys.executable, str(ROOT / "tests" / script), cwd=cwd,
                                                       env=full_env, stdout=out, stderr=out)
    finally:
        out.close()
    started = time.monotonic()
    try:
        while not _said_ready(log_file, offset):
            if process.returncode is not None:
                raise AssertionError(f"{script} exited before it was ready (code {process.returncode})\n"
                                     f"--- process log ---\n{_tail(log_file)}")
            if time.monotonic() - started > ready_timeout:
                raise AssertionError(f"{script} was not ready after {ready_timeout} s\n"
                                     f"--- process log ---\n{_tail(log_file)}")
            try:
                await asyncio.wait_for(process.wait(), 0.05)
            except TimeoutError:
                pass
    except BaseException:
        await kill(process)
        raise
    return process


def _said_ready(log_file: Path, offset: int) -> bool:
    with open(log_file, "rb") as log:
        log.seek(offset)
        return any(line.strip() == READY.encode() for line in log.read().splitlines())


def _tail(log_file: Path | None) -> str:
    return log_file.read_text(errors="replace")[-3000:] if log_file and log_file.exists() else ""


async def kill(process: asyncio.subprocess.Process) -> None:
    """kill -9: no cleanup, no goodbye."""
    if process.returncode is None:
        process.kill()
        await process.wait()


async def stop(process: asyncio.subprocess.Process, timeout: float = 10.0) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            await kill(process)


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float, what: str, log_file: Path | None = None,
                   every: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}\n--- process log ---\n{_tail(log_file)}")
        await asyncio.sleep(every)
