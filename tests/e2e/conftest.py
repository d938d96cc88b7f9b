"""End to end: the real bot polling the Bot API stand-in, on the seeded demo community.

Each scenario runs on every test database (the `db` fixture), through exactly the code that
`redgrid demo` runs. A scenario that reads the database after a chat step awaits
`demo.settled()` first.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from core.clock import ManualClock
from demo.app import prepare_demo_world
from demo.harness import ChatUser, settled
from demo.seed import Persona
from redgrid.bootstrap import DemoStack, demo_stack
from redgrid.settings import Settings
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


@pytest.fixture
async def demo(db, now, tmp_path):
    clock = ManualClock(now)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", page_size=8)
    personas = await prepare_demo_world(db, clock)
    async with demo_stack(db, settings, clock, personas) as stack:
        yield Demo(stack, db, clock, personas)
