"""The SQLite connection shim (storage/sqlite_connection.py) behaves like aiosqlite under SQLAlchemy;
statements run in the event loop unless SQLite makes them wait for a lock, which they then do in
aiosqlite's thread while the loop goes on."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage import sqlite_connection
from storage.engine import make_engine

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def engine(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/shim.sqlite3")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)"))
    yield engine
    await engine.dispose()


def count_trips(monkeypatch) -> list[str]:
    trips: list[str] = []
    original = sqlite_connection.Connection._execute

    async def counted(self, fn, *args, **kwargs):
        trips.append(getattr(fn, "__qualname__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(sqlite_connection.Connection, "_execute", counted)
    return trips


async def test_rows_rowcount_and_ids_come_back(engine):
    async with engine.begin() as conn:
        inserted = await conn.execute(text("INSERT INTO t (name) VALUES ('a'), ('b'), ('c') RETURNING id"))
        assert sorted(r[0] for r in inserted) == [1, 2, 3]
        result = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > 1"))
        assert result.rowcount == 2
        one = await conn.execute(text("INSERT INTO t (name) VALUES ('d')"))
        assert one.lastrowid == 4
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
    assert [tuple(r) for r in rows] == [(1, "a"), (2, "b!"), (3, "c!"), (4, "d")]


async def test_rollback_undoes_an_open_transaction_and_errors_keep_their_type(engine):
    async with engine.connect() as conn:
        await conn.begin()
        await conn.execute(text("INSERT INTO t (name) VALUES ('kept?')"))
        await conn.rollback()
        with pytest.raises(IntegrityError):
            async with conn.begin():
                await conn.execute(text("INSERT INTO t (name) VALUES ('x'), ('x')"))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0


async def test_statements_and_commits_make_no_trip_and_a_bulk_write_makes_one(engine, monkeypatch):
    async with engine.connect() as conn:  # a pooled connection, so connecting is not counted below
        await conn.execute(text("SELECT 1"))
    trips = count_trips(monkeypatch)
    async with engine.connect() as conn:
        await conn.begin()
        await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))   # nobody else writes: no wait
        await conn.execute(text("INSERT INTO t (name) VALUES (:name)"), [{"name": "b"}, {"name": "c"}])
        assert (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all() == ["a", "b", "c"]
        await conn.commit()  # WAL, synchronous=NORMAL: nothing synced, no trip
        await conn.begin()
        await conn.execute(text("INSERT INTO t (name) VALUES ('rolled back')"))
        await conn.rollback()
    # closing returns the connection to the pool, which rolls back: nothing open, no trip
    assert trips == ["Cursor.executemany.<locals>.<lambda>"], trips
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all() == ["a", "b", "c"]


async def test_the_log_is_checkpointed_in_the_thread_every_so_many_commits(engine, monkeypatch, tmp_path):
    """SQLite's own checkpoint (it syncs files) would run inside a commit, in the loop; it is off,
    and each connection checkpoints in its thread after CHECKPOINT_EVERY of its commits."""
    monkeypatch.setattr(sqlite_connection, "CHECKPOINT_EVERY", 3)
    database = tmp_path / "shim.sqlite3"
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        driver = (await conn.get_raw_connection()).driver_connection
        await conn.commit()
        driver.commits = 0
        trips = count_trips(monkeypatch)
        for name in ("a", "b", "c", "d", "e"):
            await conn.execute(text("INSERT INTO t (name) VALUES (:name)"), {"name": name})
            await conn.commit()
            if name == "c":
                assert trips == ["Connection.checkpoint.<locals>.<lambda>"]
                # the database file by itself, without the log, now holds the first three rows
                alone = tmp_path / "alone.sqlite3"
                alone.write_bytes(database.read_bytes())
                with contextlib.closing(sqlite3.connect(alone)) as copy:
                    assert [r[0] for r in copy.execute("SELECT name FROM t ORDER BY id")] == ["a", "b", "c"]
        assert trips == ["Connection.checkpoint.<locals>.<lambda>"] and driver.commits == 2


async def test_a_read_does_not_wait_for_a_writer_and_sees_what_was_committed(engine, monkeypatch):
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('committed')"))
    async with engine.connect() as writer, engine.connect() as reader:
        await reader.execute(text("SELECT 1"))
        await writer.begin()
        await writer.execute(text("INSERT INTO t (name) VALUES ('not yet')"))  # holds the write lock
        trips = count_trips(monkeypatch)
        rows = (await reader.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
        assert rows == ["committed"] and trips == []   # WAL: read in the loop, from the last commit
        await writer.rollback()


async def test_a_connection_locked_out_by_another_program_waits_in_the_thread_not_in_the_loop(engine, tmp_path,
                                                                                             monkeypatch):
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
    await engine.dispose()  # nothing of ours holds the file open
    # another program holds the database exclusively (exclusive locking mode keeps even WAL readers out)
    other = sqlite3.connect(tmp_path / "shim.sqlite3", isolation_level=None, check_same_thread=False)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t (name) VALUES ('b')")
    other.execute("COMMIT")  # it keeps the exclusive lock until it closes
    trips = count_trips(monkeypatch)

    async def read() -> int:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()

    reading = asyncio.create_task(read())
    with pytest.raises(TimeoutError):  # the loop is free (its timer fires) while the connection waits
        await asyncio.wait_for(asyncio.shield(reading), 0.5)
    assert not reading.done()
    other.close()
    assert await reading == 2
    assert trips  # it went to the thread, and waited there


async def test_a_writer_waits_for_a_slow_one_longer_than_the_old_5_s_instead_of_failing(engine):
    """Under overload a handler may hold SQLite's write lock for seconds; the next writer waits
    (in aiosqlite's thread, the event loop keeps running) and its update is not rolled back."""
    async with engine.connect() as slow, engine.connect() as waiting:
        await slow.begin()
        await slow.execute(text("INSERT INTO t (name) VALUES ('first')"))  # takes the write lock
        await waiting.begin()
        second = asyncio.create_task(waiting.execute(text("INSERT INTO t (name) VALUES ('second')")))
        with pytest.raises(TimeoutError):  # the loop is free while the second writer waits, past 5 s
            await asyncio.wait_for(asyncio.shield(second), 5.5)
        assert not second.done()
        await slow.commit()
        await second
        await waiting.commit()
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 2


async def test_an_in_memory_database_is_one_shared_database():
    engine = make_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO t VALUES (7)"))
        async with engine.connect() as conn:  # the table is still there: not a new, empty database
            assert (await conn.execute(text("SELECT id FROM t"))).scalar_one() == 7
    finally:
        await engine.dispose()


def test_a_connection_left_open_does_not_keep_the_process_from_exiting(tmp_path):
    """aiosqlite 0.22 gives each connection a worker thread that is not a daemon; SQLAlchemy marks
    the ones it opens itself as daemons, but it opens ours through `async_creator`. A connection a
    crash or a forgotten `dispose()` leaves open then kept Python from exiting (the update benchmark
    printed its table and hung). This process leaves one open on purpose."""
    script = f"""
import asyncio
from storage import sqlite_connection
print("ready", flush=True)

left_open = []

async def main():
    connection = await sqlite_connection.connect({str(tmp_path / "left.sqlite3")!r}, busy_timeout_ms=1000)
    await connection.execute("CREATE TABLE t (id INTEGER)")
    left_open.append(connection)

asyncio.run(main())
print("main done", flush=True)
"""
    # The 30 s to exit count from "ready", after the imports: a loaded machine may take long to import.
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready", process.stderr.read()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("the process did not exit after main() returned")
    finally:
        process.kill()
        out, err = process.communicate()
    assert process.returncode == 0, err
    assert "main done" in out


async def test_a_checkpoint_that_fails_does_not_fail_the_commit_before_it(engine, monkeypatch, caplog):
    monkeypatch.setattr(sqlite_connection, "CHECKPOINT_EVERY", 1)
    monkeypatch.setattr(sqlite_connection, "_CHECKPOINT", "PRAGMA wal_checkpoint(")  # a syntax error
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('kept')"))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT name FROM t"))).scalars().all() == ["kept"]
    assert "checkpoint of the SQLite log failed" in caplog.text
