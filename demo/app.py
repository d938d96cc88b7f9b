"""The demo's world: the sample community, its seeded people, and the web chat that shows them.

`redgrid demo` (redgrid/commands.py) runs the real bot, unchanged, against the local Bot API stand-in
with this world and this web chat; `redgrid.bootstrap.demo_stack` wires them, and the end-to-end
tests use the same stack, so what a test proves is what a community office sees when it tries the demo.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.config import Settings
from texts import text
from core.clock import Clock
from core.onboarding import roles_of
from demo.seed import CHANNEL, SAMPLE_ORG, Persona, seed_history, seed_people, seed_volunteering
from demo.standin import BotApiStandIn
from demo.webchat import WebChat
from storage.orgfile import import_org
from storage.uow import Database

log = logging.getLogger(__name__)
DEMO_TOKEN = "700000001:REDGRID-DEMO-OFFLINE"
DEMO_BOT_USERNAME = "redgrid_demo_bot"


def demo_database_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{data_dir / 'demo' / 'redgrid-demo.sqlite3'}"


def forget_demo_database(data_dir: Path) -> None:
    """`--fresh`: remove the demo database (and SQLite's WAL files) so the demo starts over."""
    path = Path(demo_database_url(data_dir).split(":///", 1)[1])
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)


async def prepare_demo_world(db: Database, clock: Clock, data_dir: Path | None = None) -> list[Persona]:
    """The sample community (imported once) and its demo people; with `data_dir` (where photos are
    kept), three months of history for the dashboard (once)."""
    async with db.uow() as uow:
        has_places = bool(await uow.places.communities())
    if not has_places:
        await import_org(db, [SAMPLE_ORG], clock.now())
    personas = await seed_people(db, clock.now())
    await seed_volunteering(db, clock.now())
    if data_dir is not None:
        await seed_history(db, clock.now(), data_dir)
    return personas


def role_labels(db: Database, personas: list[Persona]):
    """The web chat's labels as the database has them now: the newcomer's "新用户（未登记）" becomes
    "居民" once the bot has registered her. A seeded label that says more ("网格员 · 第一网格") stays
    while the roles it names are the person's only ones."""
    seeded = {p.user_id: p.role_label for p in personas}

    async def labels(user_ids: list[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        async with db.uow() as uow:
            for user_id in user_ids:
                person = await uow.people.by_identity(CHANNEL, str(user_id))
                if person is None:
                    continue
                names = (await roles_of(uow, person)).names
                if not names:
                    continue
                label = "、".join(text(person.language or "zh", f"role.{role.value}") for role in names)
                found[user_id] = seeded[user_id] if seeded.get(user_id, "").startswith(label) else label
        return found

    return labels


def demo_webchat(db: Database, standin: BotApiStandIn, personas: list[Persona], settings: Settings,
                 **options) -> WebChat:
    """The web chat of the demo: its people, their labels read live, times in the bot's zone, and the
    sample community's door QR codes (门牌二维码 PDF) to download."""
    return WebChat(standin, [p.as_dict() for p in personas], role_labels=role_labels(db, personas),
                   time_zone=settings.tz.key, door_sheet=door_sheet(db, settings), **options)


def door_sheet(db: Database, settings: Settings):
    """The door cards of the demo's first community, signed as the demo bot checks them (its secret comes
    from DOOR_CODE_SECRET or, unset, the demo's own token)."""

    async def draw() -> bytes:
        import asyncio

        from core.door_code_services import door_cards
        from core.door_codes import deep_link, secret_from
        from media.door_cards import CardFace, cards_pdf

        secret = secret_from(getattr(settings, "door_code_secret", ""), DEMO_TOKEN)
        async with db.uow() as uow:
            communities = await uow.places.communities()
            cards = await door_cards(uow, None, secret, communities[0].id) if communities else []
        faces = [CardFace(deep_link(DEMO_BOT_USERNAME, c.payload), c.title, c.community) for c in cards]
        return await asyncio.to_thread(cards_pdf, faces)

    return draw


async def map_points(db: Database) -> list[dict]:
    """The buildings the web chat's map shows."""
    async with db.uow() as uow:
        points = []
        for building in await uow.places.buildings_with_position():
            address = await uow.places.address(building.id)
            points.append({"label": address.short(), "latitude": building.lat, "longitude": building.lon})
    return points
