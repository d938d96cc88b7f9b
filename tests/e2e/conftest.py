"""End to end: the real bot polling the Bot API stand-in, on the seeded demo community.

Each scenario runs on every test database (the `db` fixture), through exactly the code that
`redgrid demo` runs. A scenario that reads the database after a chat step awaits
`demo.settled()` first. The demo world is built by `prepare_demo_world` once per database and run;
the later scenarios get its rows back as they were (`demo_world`, checked by test_demo_world_e2e.py).
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import inspect, text

from core.clock import ManualClock
from demo.app import prepare_demo_world
from demo.harness import ChatUser, settled
from demo.seed import Persona
from redgrid.bootstrap import DemoStack, demo_stack
from redgrid.settings import Settings
from storage import case_tables, volunteer_tables  # noqa: F401  (their tables join the metadata)
from storage.tables import metadata
from storage.uow import Database


@dataclass
class Demo:
    stack: DemoStack
    db: Database
    clock: ManualClock
    personas: list[Persona]
    _new_ids = itertools.count(5001)

    def persona(self, name: str) -> ChatUser:
        (persona,) = [p for p in self.personas if p.name == name]
        return ChatUser(self.stack.standin, persona.user_id, persona.name, language_code=persona.language_code)

    def newcomer(self, name: str, language_code: str = "zh-hans") -> ChatUser:
        return ChatUser(self.stack.standin, next(self._new_ids), name, language_code=language_code)

    async def settled(self, timeout: float = 5.0, *, failed_ok: bool = False) -> None:
        """Every update so far fetched and its effects committed: await this before reading `db`
        after a chat step (the bot replies before its unit of work commits)."""
        await settled(self.stack.standin, self.db.engine, timeout, failed_ok=failed_ok)


# The demo community, its people and their first notifications: 128 rows that prepare_demo_world
# writes in many small steps (0.6-1 s on PostgreSQL on a loaded machine, 0.1 s on SQLite). The first
# scenario on each database builds them; the next ones at the same moment get the same rows back.
_WORLDS: dict[tuple[str, datetime], tuple[list[Persona], list[tuple[str, list[dict]]], dict[str, int]]] = {}


async def _world_rows(db: Database) -> tuple[list[tuple[str, list[dict]]], dict[str, int]] | None:
    """Every row of every table (parents first), and PostgreSQL's sequences that have moved; None if
    the database holds a table the metadata does not know (it could not be given back)."""
    async with db.engine.connect() as conn:
        names = set(await conn.run_sync(lambda c: inspect(c).get_table_names())) - {"alembic_version"}
        if names != set(metadata.tables):
            return None
        rows = [(table.name, [dict(row._mapping) for row in await conn.execute(table.select())])
                for table in metadata.sorted_tables]
        sequences: dict[str, int] = {}
        if db.engine.dialect.name == "postgresql":
            sequences = dict((await conn.execute(text(
                "SELECT sequencename, last_value FROM pg_sequences "
                "WHERE schemaname = 'public' AND last_value IS NOT NULL"))).all())
    return [(name, table_rows) for name, table_rows in rows if table_rows], sequences


async def demo_world(db: Database, clock: ManualClock) -> list[Persona]:
    """What `prepare_demo_world` makes, on the fresh database of this test."""
    key = (db.backend, clock.now())
    if key in _WORLDS:
        personas, rows, sequences = _WORLDS[key]
        async with db.engine.begin() as conn:
            for name, table_rows in rows:
                await conn.execute(metadata.tables[name].insert(), table_rows)
            for name, last_value in sequences.items():
                await conn.execute(text("SELECT setval(:name, :value, true)"),
                                   {"name": f"public.{name}", "value": last_value})
        return copy.deepcopy(personas)
    personas = await prepare_demo_world(db, clock)
    saved = await _world_rows(db)
    if saved is not None:
        _WORLDS[key] = (copy.deepcopy(personas), *saved)
    return personas


@pytest.fixture
async def demo(db, now, tmp_path):
    clock = ManualClock(now)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", page_size=8)
    personas = await demo_world(db, clock)
    async with demo_stack(db, settings, clock, personas) as stack:
        yield Demo(stack, db, clock, personas)


@pytest.fixture
async def demo_with_wechat(db, now, tmp_path):
    """The demo with the WeChat channel beside the bot, as `redgrid demo` runs it (and `redgrid run` with
    WECHAT_* / WECOM_* set): (Demo, WeChatPhones — WeChat's side of the Official Account's users)."""
    from demo.wechat_phone import WeChatPhones
    from demo.wechat_standin import WeChatStandIn

    clock = ManualClock(now)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", page_size=8)
    personas = await demo_world(db, clock)
    wechat = WeChatStandIn()
    await wechat.start()
    try:
        async with demo_stack(db, settings, clock, personas, wechat=wechat) as stack:
            yield Demo(stack, db, clock, personas), WeChatPhones(stack.wechat_url, wechat)
    finally:
        await wechat.stop()
