"""Repositories over one connection: rows in, domain dataclasses out."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any, Sequence, TypeVar

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.events import Event
from core.binding import BindCode
from core.invites import Invite
from core.people import Account, Department, GrantStatus, Identity, Person, Role, RoleGrant
from core.places import Address, Building, Community, Compound, District, Grid, Street
from storage import tables as t

T = TypeVar("T")


def _build(cls: type[T], row: Any) -> T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in row._mapping.items() if k in names})


class _Repo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def _one(self, cls: type[T], stmt) -> T | None:
        row = (await self.conn.execute(stmt)).first()
        return _build(cls, row) if row is not None else None

    async def _all(self, cls: type[T], stmt) -> list[T]:
        return [_build(cls, row) for row in await self.conn.execute(stmt)]

    async def _insert(self, table: Table, obj: Any, exclude: tuple[str, ...] = ("id",)) -> None:
        values = {k: v for k, v in _values(obj).items() if k not in exclude}
        result = await self.conn.execute(insert(table), values)  # one cached statement, values as parameters
        if "id" in exclude:
            obj.id = result.inserted_primary_key[0]

    async def _update(self, table: Table, obj: Any, key: str = "id") -> None:
        values = _values(obj)
        await self.conn.execute(update(table).where(table.c[key] == values[key]).values(**values))


def _values(obj: Any) -> dict[str, Any]:
    return {k: (v.value if isinstance(v, (Role, GrantStatus)) else v) for k, v in asdict(obj).items()}


_PLACE_TABLES: dict[type, Table] = {
    District: t.districts, Street: t.streets, Community: t.communities,
    Compound: t.compounds, Grid: t.grids, Building: t.buildings,
}


def _labelled(table: Table, prefix: str) -> list:
    return [c.label(f"{prefix}{c.name}") for c in table.c]


def _take(cls: type[T], row: Any, prefix: str) -> T:
    m = row._mapping
    return cls(**{f.name: m[f"{prefix}{f.name}"] for f in fields(cls)})  # type: ignore[arg-type]


# The two lookups every update makes, built once: building a statement costs more than running it.
_ADDRESS = (select(*_labelled(t.buildings, "b_"), *_labelled(t.grids, "g_"), *_labelled(t.compounds, "p_"),
                   *_labelled(t.communities, "c_"))
            .select_from(t.buildings.join(t.grids).join(t.compounds).join(t.communities))
            .where(t.buildings.c.id == bindparam("building_id")))
_ACCOUNT = (select(*_labelled(t.persons, "p_"), *_labelled(t.identities, "i_"), *_labelled(t.role_grants, "r_"))
            .select_from(t.persons.join(t.identities).outerjoin(t.role_grants,
                                                                t.role_grants.c.person_id == t.persons.c.id))
            .where(t.identities.c.channel == bindparam("channel"),
                   t.identities.c.external_id == bindparam("external_id"))
            .order_by(t.role_grants.c.id))


class SqlPlaces(_Repo):
    async def communities(self) -> Sequence[Community]:
        return await self._all(Community, select(t.communities).order_by(t.communities.c.id))

    async def community(self, community_id: int) -> Community | None:
        return await self._one(Community, select(t.communities).where(t.communities.c.id == community_id))

    async def compounds(self, community_id: int) -> Sequence[Compound]:
        return await self._all(Compound, select(t.compounds)
                               .where(t.compounds.c.community_id == community_id).order_by(t.compounds.c.id))

    async def compound(self, compound_id: int) -> Compound | None:
        return await self._one(Compound, select(t.compounds).where(t.compounds.c.id == compound_id))

    async def grids(self, community_id: int | None = None) -> Sequence[Grid]:
        stmt = select(t.grids).order_by(t.grids.c.id)
        if community_id is not None:
            stmt = stmt.join(t.compounds).where(t.compounds.c.community_id == community_id)
        return await self._all(Grid, stmt)

    async def grid(self, grid_id: int) -> Grid | None:
        return await self._one(Grid, select(t.grids).where(t.grids.c.id == grid_id))

    async def buildings_of_compound(self, compound_id: int) -> Sequence[Building]:
        return await self._all(Building, select(t.buildings).join(t.grids)
                               .where(t.grids.c.compound_id == compound_id).order_by(t.buildings.c.id))

    async def buildings_with_position(self) -> Sequence[Building]:
        return await self._all(Building, select(t.buildings)
                               .where(t.buildings.c.lat.is_not(None), t.buildings.c.lon.is_not(None)))

    async def building(self, building_id: int) -> Building | None:
        return await self._one(Building, select(t.buildings).where(t.buildings.c.id == building_id))

    async def address(self, building_id: int) -> Address | None:
        row = (await self.conn.execute(_ADDRESS, {"building_id": building_id})).first()
        if row is None:
            return None
        return Address(_take(Community, row, "c_"), _take(Compound, row, "p_"), _take(Grid, row, "g_"),
                       _take(Building, row, "b_"))

    async def grid_community_id(self, grid_id: int) -> int | None:
        row = (await self.conn.execute(
            select(t.compounds.c.community_id).join(t.grids).where(t.grids.c.id == grid_id))).first()
        return row[0] if row else None

    async def district_named(self, name: str) -> District | None:
        return await self._one(District, select(t.districts).where(t.districts.c.name == name))

    async def street_named(self, district_id: int, name: str) -> Street | None:
        c = t.streets.c
        return await self._one(Street, select(t.streets).where(c.district_id == district_id, c.name == name))

    async def community_named(self, street_id: int, name: str) -> Community | None:
        c = t.communities.c
        return await self._one(Community, select(t.communities).where(c.street_id == street_id, c.name == name))

    async def compound_named(self, community_id: int, name: str) -> Compound | None:
        c = t.compounds.c
        return await self._one(Compound, select(t.compounds).where(c.community_id == community_id, c.name == name))

    async def grid_named(self, compound_id: int, name: str) -> Grid | None:
        c = t.grids.c
        return await self._one(Grid, select(t.grids).where(c.compound_id == compound_id, c.name == name))

    async def building_named(self, compound_id: int, name: str) -> Building | None:
        return await self._one(Building, select(t.buildings).join(t.grids).where(
            t.grids.c.compound_id == compound_id, t.buildings.c.name == name))

    async def add(self, place) -> None:
        await self._insert(_PLACE_TABLES[type(place)], place)

    async def update(self, place) -> None:
        await self._update(_PLACE_TABLES[type(place)], place)


def _grant(row: Any) -> RoleGrant:
    grant = _build(RoleGrant, row)
    grant.role, grant.status = Role(grant.role), GrantStatus(grant.status)
    return grant


class SqlPeople(_Repo):
    async def get(self, person_id: int) -> Person | None:
        return await self._one(Person, select(t.persons).where(t.persons.c.id == person_id))

    async def by_identity(self, channel: str, external_id: str) -> Person | None:
        i = t.identities.c
        return await self._one(Person, select(t.persons).join(t.identities)
                               .where(i.channel == channel, i.external_id == external_id))

    async def account(self, channel: str, external_id: str) -> Account | None:
        """The person behind a chat account, that account and all their grants: one query."""
        rows = list(await self.conn.execute(_ACCOUNT, {"channel": channel, "external_id": external_id}))
        if not rows:
            return None
        grants = []
        for row in rows:
            if row._mapping["r_id"] is not None:
                grant = _take(RoleGrant, row, "r_")
                grant.role, grant.status = Role(grant.role), GrantStatus(grant.status)
                grants.append(grant)
        return Account(_take(Person, rows[0], "p_"), _take(Identity, rows[0], "i_"), grants)

    async def display_names(self, person_ids: Sequence[int]) -> dict[int, str]:
        """Names of several people in one query (a roster, who is coming, a summary)."""
        if not person_ids:
            return {}
        rows = await self.conn.execute(select(t.persons.c.id, t.persons.c.display_name)
                                       .where(t.persons.c.id.in_(set(person_ids))))
        return {person_id: name for person_id, name in rows}

    async def by_phone(self, phone: str) -> Person | None:
        return await self._one(Person, select(t.persons).where(t.persons.c.phone == phone))

    async def add(self, person: Person) -> None:
        await self._insert(t.persons, person)

    async def update(self, person: Person) -> None:
        await self._update(t.persons, person)

    async def identities(self, person_id: int) -> Sequence[Identity]:
        return await self._all(Identity, select(t.identities).where(t.identities.c.person_id == person_id))

    async def identity(self, channel: str, external_id: str) -> Identity | None:
        i = t.identities.c
        return await self._one(Identity, select(t.identities)
                               .where(i.channel == channel, i.external_id == external_id))

    async def add_identity(self, identity: Identity) -> None:
        await self._insert(t.identities, identity)

    async def update_identity(self, identity: Identity) -> None:
        await self._update(t.identities, identity)

    async def grants(self, person_id: int) -> Sequence[RoleGrant]:
        rows = await self.conn.execute(select(t.role_grants).where(t.role_grants.c.person_id == person_id)
                                       .order_by(t.role_grants.c.id))
        return [_grant(row) for row in rows]

    async def add_grant(self, grant: RoleGrant) -> None:
        await self._insert(t.role_grants, grant)

    async def update_grant(self, grant: RoleGrant) -> None:
        await self._update(t.role_grants, grant)

    async def grid_members(self, grid_id: int) -> Sequence[Person]:
        g = t.role_grants.c
        return await self._all(Person, select(t.persons).join(t.role_grants, g.person_id == t.persons.c.id).where(
            g.role == Role.GRID_MEMBER.value, g.status == GrantStatus.ACTIVE.value, g.grid_id == grid_id)
            .order_by(t.persons.c.id))

    async def with_role(self, role: Role, community_id: int | None = None) -> Sequence[Person]:
        """People holding an active role, in one community when given (staff of 东城社区 …)."""
        g = t.role_grants.c
        stmt = select(t.persons).join(t.role_grants, g.person_id == t.persons.c.id).where(
            g.role == role.value, g.status == GrantStatus.ACTIVE.value)
        if community_id is not None:
            stmt = stmt.where(g.community_id == community_id)
        return await self._all(Person, stmt.distinct().order_by(t.persons.c.id))

    async def department(self, department_id: int) -> Department | None:
        return await self._one(Department, select(t.departments).where(t.departments.c.id == department_id))

    async def department_named(self, name: str) -> Department | None:
        return await self._one(Department, select(t.departments).where(t.departments.c.name == name))

    async def add_department(self, department: Department) -> None:
        await self._insert(t.departments, department)


class SqlInvites(_Repo):
    async def get(self, code: str) -> Invite | None:
        row = (await self.conn.execute(select(t.invites).where(t.invites.c.code == code))).first()
        if row is None:
            return None
        invite = _build(Invite, row)
        invite.role = Role(invite.role)
        return invite

    async def add(self, invite: Invite) -> None:
        await self._insert(t.invites, invite, exclude=())

    async def update(self, invite: Invite) -> None:
        await self._update(t.invites, invite, key="code")


class SqlBindCodes(_Repo):
    async def get(self, code: str) -> BindCode | None:
        return await self._one(BindCode, select(t.bind_codes).where(t.bind_codes.c.code == code)
                               .order_by(t.bind_codes.c.id.desc()).limit(1))

    async def live_of_person(self, person_id: int, now: datetime) -> list[BindCode]:
        c = t.bind_codes.c
        return await self._all(BindCode, select(t.bind_codes).where(
            c.person_id == person_id, c.used_at.is_(None), c.revoked.is_(False), c.expires_at > now))

    async def add(self, code: BindCode) -> None:
        await self._insert(t.bind_codes, code)

    async def update(self, code: BindCode) -> None:
        await self._update(t.bind_codes, code)


class SqlEvents(_Repo):
    async def add(self, event: Event) -> None:
        values = {k: v for k, v in asdict(event).items() if k != "id"}
        values["before"], values["after"] = _jsonable(event.before), _jsonable(event.after)
        await self.conn.execute(insert(t.events), values)

    async def of(self, subject_type: str, subject_id: str) -> Sequence[Event]:
        e = t.events.c
        return await self._all(Event, select(t.events).where(
            e.subject_type == subject_type, e.subject_id == subject_id).order_by(e.id))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (Role, GrantStatus)):
        return value.value
    return value
