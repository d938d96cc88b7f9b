"""Helpers for the tests that kill real processes: start a script of ours, wait for the database."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Awaitable, Callable

ROOT = Path(__file__).resolve().parent.parent


async def start(script: str, env: dict[str, str], log_file: Path, cwd: Path) -> asyncio.subprocess.Process:
    """`python tests/<script>` with this checkout first on the path and the given settings."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_", "REDIS_"))}
    full_env.update(env, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    out = open(log_file, "ab")
    try:
        return await asyncio.create_subprocess_exec(sys.executable, str(ROOT / "tests" / script), cwd=cwd,
                                                    env=full_env, stdout=out, stderr=out)
    finally:
        out.close()


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
            tail = log_file.read_text(errors="replace")[-3000:] if log_file and log_file.exists() else ""
            raise AssertionError(f"waited {timeout} s for {what}\n--- process log ---\n{tail}")
        await asyncio.sleep(every)
