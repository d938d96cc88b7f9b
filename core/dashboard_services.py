"""The dashboard's drill-down: a case, a grid, a party member — each for a viewer who may see it.

The same rule as the figures (core.statistics_services.area_for): staff see their communities, an
administrator all; anything else is NotFound, so another community's case number in a URL learns
nothing. Phones come masked (core.disclosure) except, on a case's page, for the case's own handler;
every page that shows a person's data writes its audit row (core.disclosure_services).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Sequence

from core.access import desk_communities
from core.cases import Actor, Case
from core.errors import NotFound
from core.events import Event
from core.ids import saved_id
from core.disclosure import mask_phone
from core.disclosure_services import record_views, show_reporter
from core.people import GrantStatus, Person, Role
from core.places import Address, Building, Compound, Grid
from core.ports import UnitOfWork
from core.statistics import CaseRow, PlaceLevel
from core.statistics_services import PlaceChoice, area_for
from core.volunteering.common import ClaimState
from core.volunteering.posts import Claim, Post


@dataclass(frozen=True)
class PersonShown:
    """A person as the dashboard shows them: a name and a phone, masked unless the viewer may read it."""

    id: int
    name: str
    phone: str


@dataclass(frozen=True)
class CasePage:
    case: Case
    address: Address
    history: Sequence[Event]
    names: dict[int, str]
    reporter: PersonShown
    handler: PersonShown | None
    neighbours: Sequence[Building]      # the community's buildings with a position, for the little map
    phones_unmasked: bool


@dataclass(frozen=True)
class GridPage:
    grid: Grid
    compound: Compound
    community_name: str
    members: Sequence[PersonShown]
    buildings: Sequence[Building]
    open_cases: Sequence[CaseRow]
    recent_cases: Sequence[CaseRow]


@dataclass(frozen=True)
class MemberPage:
    person: PersonShown
    community_id: int
    work_unit: str
    claims: Sequence[tuple[Claim, Post]]
    hours: float
    points_balance: int
    points_earned: int
    no_shows: int
    history: Sequence[Event] = field(default_factory=list)


def shown(person: Person, unmasked: bool = False) -> PersonShown:
    return PersonShown(saved_id(person), person.display_name,
                       (person.phone or "") if unmasked else (mask_phone(person.phone) or ""))


async def case_page(uow: UnitOfWork, by: Actor, number: str, now: datetime) -> CasePage:
    """A case with its photos, place, history and people, for staff of its community (or an admin)."""
    allowed = await desk_communities(uow, by, action="dashboard")
    case = await uow.cases.by_number(number)
    if case is None or case.community_id not in allowed:
        raise NotFound(what="case")
    address = await uow.places.address(case.building_id)
    if address is None:
        raise NotFound(what="case")
    history = await uow.events.of("case", case.number)
    ids = {e.actor_id for e in history if e.actor_id is not None} | {case.reporter_id}
    if case.handler_id is not None:
        ids.add(case.handler_id)
    names = await uow.people.display_names(sorted(ids))
    unmasked = case.is_handled_by(by.person_id)  # only the case's own handler may need to call
    seen = await show_reporter(uow, case, by, now, what="dashboard.case")  # how much, and the look audited
    handler = await uow.people.get(case.handler_id) if case.handler_id is not None else None
    reporter = PersonShown(case.reporter_id, seen.name or "", seen.phone or "")
    neighbours = [b for g in await uow.places.grids(case.community_id) if g.id is not None
                  for b in await _buildings_of_grid(uow, g)]
    return CasePage(case, address, history, names, reporter,
                    shown(handler, unmasked) if handler is not None else None,
                    [b for b in neighbours if b.has_position], unmasked)


async def _buildings_of_grid(uow: UnitOfWork, grid: Grid) -> list[Building]:
    return [b for b in await uow.places.buildings_of_compound(grid.compound_id) if b.grid_id == grid.id]


async def grid_page(uow: UnitOfWork, by: Actor, grid_id: int, now: datetime) -> GridPage:
    area = await area_for(uow, by, PlaceChoice(PlaceLevel.GRID, grid_id))
    grid = await uow.places.grid(grid_id)
    compound = await uow.places.compound(grid.compound_id) if grid is not None else None
    community = await uow.places.community(compound.community_id) if compound is not None else None
    if grid is None or compound is None or community is None:
        raise NotFound(what="grid")
    members = [shown(p) for p in await uow.people.grid_members(grid_id)]
    open_cases = await uow.statistics.cases(area, None, open_only=True, limit=200)
    recent = await uow.statistics.cases(area, None, limit=30)
    return GridPage(grid, compound, community.name, members, await _buildings_of_grid(uow, grid), open_cases, recent)


async def member_page(uow: UnitOfWork, by: Actor, person_id: int, now: datetime) -> MemberPage:
    """A party member of one of the viewer's communities: their posts, hours and points (the look audited)."""
    allowed = await desk_communities(uow, by, action="dashboard")
    person = await uow.people.get(person_id)
    grants = [g for g in await uow.people.grants(person_id)
              if g.role == Role.PARTY_MEMBER and g.status == GrantStatus.ACTIVE and g.community_id in allowed]
    if person is None or not grants or grants[0].community_id is None:
        raise NotFound(what="person")
    community_id = grants[0].community_id
    claims = [(c, p) for c, p in await uow.volunteering.claims_of_person(person_id, [s.value for s in ClaimState])
              if p.community_id == community_id]
    claims.sort(key=lambda pair: pair[1].starts_at, reverse=True)
    served = sum(((c.served or timedelta()) for c, _ in claims if c.state == ClaimState.CONFIRMED), timedelta())
    entries = await uow.volunteering.points_entries(person_id, community_id)
    standing = await uow.volunteering.standing(person_id, community_id)
    await record_views(uow, [by.person_id], [person_id], "dashboard.member", str(community_id), now)
    return MemberPage(shown(person), community_id, grants[0].work_unit or "", claims,
                      served.total_seconds() / 3600,
                      await uow.volunteering.balance(person_id, community_id),
                      sum(e.delta for e in entries if e.delta > 0), standing.no_shows if standing else 0)


async def party_members(uow: UnitOfWork, by: Actor) -> list[PersonShown]:
    """The active party members of the viewer's communities, for the dashboard's list."""
    allowed = await desk_communities(uow, by, action="dashboard")
    found: dict[int, PersonShown] = {}
    for community_id in allowed:
        for person in await uow.people.with_role(Role.PARTY_MEMBER, community_id):
            found[saved_id(person)] = shown(person)
    return sorted(found.values(), key=lambda p: p.name)


async def places_of(uow: UnitOfWork, by: Actor) -> list[tuple[str, int, str, int]]:
    """The places the viewer may pick, as (level, id, name, depth) in tree order."""
    allowed = await desk_communities(uow, by, action="dashboard")
    found: list[tuple[str, int, str, int]] = []
    for community in await uow.places.communities():
        if community.id not in allowed or community.id is None:
            continue
        found.append((PlaceLevel.COMMUNITY, community.id, community.name, 0))
        grids = await uow.places.grids(community.id)
        for compound in await uow.places.compounds(community.id):
            if compound.id is None:
                continue
            found.append((PlaceLevel.COMPOUND, compound.id, compound.name, 1))
            found += [(PlaceLevel.GRID, g.id, g.name, 2) for g in grids if g.compound_id == compound.id and g.id is not None]
    return found
