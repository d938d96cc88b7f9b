"""The end-to-end scenarios' demo world (tests/e2e/conftest.py `demo_world`): the rows a later
scenario gets back are the rows `prepare_demo_world` wrote, and the next ids are the same."""

from __future__ import annotations

from core.clock import ManualClock
from demo.app import prepare_demo_world
from storage import tables
from storage.engine import make_engine
from storage.uow import Database
from tests import conftest
from tests.e2e.conftest import _WORLDS, _world_rows, demo_world


async def _everything_and_next_id(db: Database) -> tuple[object, int]:
    rows = await _world_rows(db)
    async with db.engine.begin() as conn:
        result = await conn.execute(tables.persons.insert().values(display_name="新人"))
        next_id = result.inserted_primary_key[0]
        await conn.execute(tables.persons.delete().where(tables.persons.c.id == next_id))
    return rows, next_id


async def _fresh_again(db: Database, tmp_path, tmp_path_factory) -> Database:
    if db.backend == "sqlite":
        path = tmp_path / "again.sqlite3"
        await conftest._fresh_sqlite(path, tmp_path_factory.getbasetemp())
        again = Database(make_engine(f"sqlite+aiosqlite:///{path}"))
        again.backend = "sqlite"  # type: ignore[attr-defined]
        return again
    await conftest._fresh_postgres(db.engine)
    return db


async def test_a_later_scenario_gets_the_world_prepare_demo_world_built(db, now, tmp_path, tmp_path_factory):
    clock = ManualClock(now)
    _WORLDS.pop((db.backend, now), None)
    built_personas = await demo_world(db, clock)  # built, and kept
    assert (db.backend, now) in _WORLDS
    built = await _everything_and_next_id(db)

    again = await _fresh_again(db, tmp_path, tmp_path_factory)
    try:
        given_personas = await demo_world(again, clock)  # given back
        given = await _everything_and_next_id(again)
        assert given_personas == built_personas
        assert given == built
        # and prepare_demo_world, as `redgrid demo` calls it on a database it used before, finds
        # the world there and adds nothing
        await prepare_demo_world(again, clock)
        assert (await _world_rows(again))[0] == built[0][0]  # the rows (its probe moved a sequence)
    finally:
        if again is not db:
            await again.engine.dispose()
