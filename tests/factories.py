"""A small world for tests: two communities, so cross-community presses can be tried."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from core.consent import NOTICE_VERSION, Purpose
from core.consent_services import record_agreement
from core.people import Person, Role, RoleGrant
from core.places import Building, Community, Compound, District, Grid, Street


@dataclass
class World:
    communities: dict[str, Community] = field(default_factory=dict)
    compounds: dict[str, Compound] = field(default_factory=dict)
    grids: dict[str, Grid] = field(default_factory=dict)
    buildings: dict[str, Building] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)


# (community, code, compound, grid, [(building, lat, lon)])
LAYOUT = [
    ("东城社区", "DC", "粮食局小区", "粮食局第一网格", [("1号楼", 32.7050, 116.7100), ("2号楼", 32.7053, 116.7104),
                                                   ("3号楼", 32.7056, 116.7108)]),
    ("东城社区", "DC", "粮食局小区", "粮食局第二网格", [("4号楼", 32.7060, 116.7112)]),
    ("东城社区", "DC", "东城花园", "东城花园网格", [("A栋", 32.7080, 116.7150), ("B栋", 32.7083, 116.7154)]),
    ("西城社区", "XC", "西苑小区", "西苑网格", [("西1栋", 32.7000, 116.6900)]),
]


async def seed_world(uow) -> World:
    world = World()
    district = District(None, "凤台县")
    await uow.places.add(district)
    street = Street(None, district.id, "城关镇")
    await uow.places.add(street)
    for community_name, code, compound_name, grid_name, buildings in LAYOUT:
        community = world.communities.get(community_name)
        if community is None:
            community = world.communities[community_name] = Community(None, street.id, community_name, code)
            await uow.places.add(community)
        compound = world.compounds.get(compound_name)
        if compound is None:
            compound = world.compounds[compound_name] = Compound(None, community.id, compound_name)
            await uow.places.add(compound)
        grid = world.grids[grid_name] = Grid(None, compound.id, grid_name)
        await uow.places.add(grid)
        for name, lat, lon in buildings:
            building = world.buildings[name] = Building(None, grid.id, name, lat, lon)
            await uow.places.add(building)
    await uow.commit()
    return world


SEEDED_AT = datetime(2026, 11, 1, tzinfo=timezone.utc)


async def add_person(uow, world: World, key: str, name: str, *grants: RoleGrant) -> Person:
    """Someone who has agreed to the current privacy notice (on Telegram), with these roles."""
    person = Person(None, name)
    await uow.people.add(person)
    await record_agreement(uow, person, Purpose.NOTICE, NOTICE_VERSION, "telegram", SEEDED_AT)
    for grant in grants:
        grant.person_id = person.id
        await uow.people.add_grant(grant)
    world.people[key] = person
    await uow.commit()
    return person


def staff_of(community: Community) -> RoleGrant:
    return RoleGrant(None, 0, Role.STAFF, community_id=community.id)
