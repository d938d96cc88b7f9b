"""Helpers for the tests that kill real processes: start a script of ours, wait for the database.

Every script prints a line `ready` once its imports and set-up are done, and `start` returns only
then: a test's timing window must never include the imports (aiogram alone takes 3–8 s of CPU on a
loaded machine; a worker once spent 26 s importing inside a 40 s window).

The processes are forked from one server that has imported the heavy libraries once per test run
(multiprocessing's forkserver): seven starts used to import aiogram seven times. Each is still a
process of its own, killed with SIGKILL like any other; it runs the script as `python tests/<script>`
would, with its own environment, working directory and log.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import runpy
import sys
import time
from pathlib import Path
from typing import Awaitable, Callable

ROOT = Path(__file__).resolve().parent.parent


READY = "ready"
# How long a start may take: generous, since it is not what any test measures; a process that dies
# before it is ready fails at once.
READY_TIMEOUT = 180.0


# Modules that read no settings when imported (ours read the environment only in
# redgrid.settings.load_settings(), called by each script): the libraries, then the bot, the
# scheduler and the command line. Importing our own in each process cost 3-5 s of a loaded machine
# per start; a script that wraps one of our functions still does so in its own process.
PRELOAD = ["aiogram", "aiogram.client.bot", "aiohttp", "pydantic", "sqlalchemy", "sqlalchemy.ext.asyncio",
           "aiosqlite", "asyncpg", "apscheduler.schedulers.asyncio", "PIL.Image",
           "redgrid.cli", "redgrid.commands", "redgrid.bootstrap", "demo.harness", "scheduler.delivery",
           "scheduler.leader", "scheduler.runner"]
_forkserver = None


def _context():
    global _forkserver
    if _forkserver is None:
        _forkserver = multiprocessing.get_context("forkserver")
        _forkserver.set_forkserver_preload(PRELOAD)
    return _forkserver


def _run_script(path: str, env: dict[str, str], log_path: str, cwd: str, args: tuple[str, ...] = ()) -> None:
    """In the forked process: become `python <path> <args>` writing to the log."""
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.argv = [path, *args]
    runpy.run_path(path, run_name="__main__")


class Process:
    """The forked process, with the little of asyncio.subprocess.Process the tests use."""

    def __init__(self, process: multiprocessing.process.BaseProcess) -> None:
        self._process = process
        self.pid = process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode  # negative: killed by that signal, as for asyncio's

    def kill(self) -> None:
        self._process.kill()

    def terminate(self) -> None:
        self._process.terminate()

    async def wait(self) -> int:
        while self._process.exitcode is None:
            await asyncio.sleep(0.02)
        self._process.join()
        return self._process.exitcode


def spawn(script: str, env: dict[str, str], log_file: Path, cwd: Path, args: tuple[str, ...] = ()) -> Process:
    """`python tests/<script> <args>` with this checkout first on the path and the given settings,
    forked at once; its output goes to the end of `log_file`."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_", "REDIS_"))}
    full_env.update(env, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    log_file.touch()
    process = Process(_context().Process(target=_run_script, daemon=False,
                                         args=(str(ROOT / "tests" / script), full_env, str(log_file), str(cwd),
                                               tuple(args))))
    process._process.start()
    process.pid = process._process.pid
    return process


async def start(script: str, env: dict[str, str], log_file: Path, cwd: Path,
                ready_timeout: float = READY_TIMEOUT) -> Process:
    """`spawn`, returning once the script has printed its `ready` line (several starts may share one
    log file)."""
    offset = log_file.stat().st_size if log_file.exists() else 0
    process = spawn(script, env, log_file, cwd)
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


async def kill(process: Process) -> None:
    """kill -9: no cleanup, no goodbye."""
    if process.returncode is None:
        process.kill()
        await process.wait()


async def stop(process: Process, timeout: float = 10.0) -> None:
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
