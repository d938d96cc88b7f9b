"""On SQLite one bot process per database file: a second `redgrid run` (or `redgrid demo`) on the
same file stops at once with one line naming the file and the process that has it, instead of both
leading (two delivery workers, every scheduled job twice). A killed process never blocks a restart.
"""

from __future__ import annotations

import asyncio
import os

from demo.harness import running_standin
from redgrid.cli import main
from scheduler.leader import hold_sqlite_database
from tests.proc import READY_TIMEOUT, kill, spawn, stop, wait_for


def redgrid(args: list[str], env: dict[str, str], log_file):
    """`python -m redgrid.cli <args>`, forked from tests/proc.py's server that has the libraries
    imported already (three cold starts of the command took most of this file's minute)."""
    return spawn("redgrid_cli.py", env, log_file, log_file.parent, args=tuple(args))


async def test_a_second_bot_process_on_one_sqlite_file_is_refused_and_a_killed_one_blocks_nothing(tmp_path):
    database = tmp_path / "one.sqlite3"
    async with running_standin() as standin:
        env = {"BOT_TOKEN": "123456789:STAND-IN-TOKEN", "BOT_API_URL": standin.base_url,
               "DATABASE_URL": f"sqlite+aiosqlite:///{database}", "DATA_DIR": str(tmp_path / "data")}
        first_log, second_log, third_log = (tmp_path / f"{n}.log" for n in ("first", "second", "third"))

        def says(log_file, words):
            async def check() -> bool:
                return log_file.exists() and words in log_file.read_text(errors="replace")
            return check

        first = redgrid(["run"], env, first_log)
        second = third = None
        try:
            await wait_for(says(first_log, "running as @"), READY_TIMEOUT, "the first process to run", first_log)
            second = redgrid(["run"], env, second_log)
            assert await asyncio.wait_for(second.wait(), 30) == 1
            said = second_log.read_text().strip()
            assert "\n" not in said, said
            assert said.startswith("redgrid run: ") and str(database) in said and f"pid {first.pid}" in said
            assert first.returncode is None  # the first one runs on
            assert first_log.read_text().count("running as @") == 1

            await kill(first)  # kill -9: the lock goes with the process; the lock file stays behind
            assert database.with_name("one.sqlite3.lock").exists()
            third = redgrid(["run"], env, third_log)
            await wait_for(says(third_log, "running as @"), READY_TIMEOUT, "a new process after the kill", third_log)
        finally:
            await kill(first)
            for process in (second, third):
                if process is not None:
                    await stop(process)


def test_a_second_demo_on_the_same_data_is_refused_and_fresh_removes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    database = tmp_path / "data" / "demo" / "redgrid-demo.sqlite3"
    database.parent.mkdir(parents=True)
    database.write_bytes(b"the running demo's community")
    held = hold_sqlite_database(f"sqlite+aiosqlite:///{database}")  # the other demo (any process alike)
    try:
        assert main(["demo", "--fresh", "--port", "0", "--api-port", "0"]) == 1
    finally:
        held.release()
    said = capsys.readouterr().err.strip()
    assert "\n" not in said and said.startswith("redgrid demo: ") and str(database) in said
    assert f"pid {os.getpid()}" in said
    assert database.read_bytes() == b"the running demo's community"


def test_postgresql_and_memory_databases_need_no_file_lock():
    assert hold_sqlite_database("postgresql+asyncpg://postgres@127.0.0.1:5432/x") is None
    assert hold_sqlite_database("sqlite+aiosqlite:///:memory:") is None
