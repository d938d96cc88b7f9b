"""The `db` fixture (tests/conftest.py) migrates once per run and hands each test a database as the
migrations leave it: a copy of a migrated SQLite file, or PostgreSQL's migrated tables emptied. A
used database must come back with no rows, its ids starting over and the migrated schema; one whose
schema a test changed must be migrated again."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, inspect, select, text

from core.clock import ManualClock
from demo.app import prepare_demo_world
from storage import tables
from storage.engine import make_engine
from storage.migrate import alembic_config, current_revision
from tests import conftest

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc)


def _head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _rows_per_table(engine) -> dict[str, int]:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        return {name: (await conn.execute(text(f'SELECT count(*) FROM "{name}"'))).scalar_one()
                for name in names if name not in ("alembic_version", "sqlite_sequence")}


async def _fresh_again(db, tmp_path, tmp_path_factory):
    """What the next test gets after this one: the fixture's own reset, on the same database."""
    if db.backend == "sqlite":
        path = tmp_path / "next-test.sqlite3"
        await conftest._fresh_sqlite(path, tmp_path_factory.getbasetemp())
        return make_engine(f"sqlite+aiosqlite:///{path}")
    await conftest._fresh_postgres(db.engine)
    return db.engine


async def _first_new_person_id(engine) -> int:
    async with engine.begin() as conn:
        result = await conn.execute(tables.persons.insert().values(
            display_name="新人", language="zh", created_at=NOW))
        return result.inserted_primary_key[0]


async def test_a_used_database_comes_back_empty_with_its_ids_starting_over(db, tmp_path, tmp_path_factory):
    assert await _first_new_person_id(db.engine) == 1
    await prepare_demo_world(db, ManualClock(NOW))
    used = await _rows_per_table(db.engine)
    assert used["persons"] > 1 and used["events"] > 0 and used["buildings"] > 0

    engine = await _fresh_again(db, tmp_path, tmp_path_factory)
    try:
        rows = await _rows_per_table(engine)
        assert set(rows) == set(used) and not any(rows.values()), rows
        assert await current_revision(engine) == _head()
        if db.backend == "postgresql":  # the heap too is as after a migration: no page left behind
            async with engine.connect() as conn:
                assert (await conn.execute(conftest._POSTGRES_USED_TABLES)).scalars().all() == []
        assert await _first_new_person_id(engine) == 1
    finally:
        if engine is not db.engine:
            await engine.dispose()


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # SQLite's copy is of a file no test touches
async def test_a_database_whose_schema_a_test_changed_is_migrated_again(db):
    migrated = conftest._migrated["postgresql"]
    async with db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE cases DROP COLUMN next_check_at"))
        await conn.execute(text("ALTER TABLE cases ADD COLUMN next_check_at TIMESTAMP WITH TIME ZONE"))
        await conn.execute(text("CREATE TABLE left_behind (id integer)"))

    await conftest._fresh_postgres(db.engine)

    async with db.engine.connect() as conn:
        assert (await conn.execute(conftest._POSTGRES_SCHEMA)).scalar_one() == migrated
        assert (await conn.execute(select(func.count()).select_from(tables.persons))).scalar_one() == 0
    assert await current_revision(db.engine) == _head()
