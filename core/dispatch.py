"""Who a case may be handed to ("社区派单"): the community's grid members and the departments serving it.

The desk, a grid member forwarding or escalating, and the transitions that then run all ask
these questions, so a button's person id is a claim checked again here, never a permission.

A department contact serves a community when their grant names it, or names no community at
all (a county department, e.g. `redgrid invite department --department 城管局` without
`--community`). Grid members of any grid of the case's community may take it from the desk.
"""

from __future__ import annotations

from dataclasses import dataclass
from core.errors import NotAllowed
from core.ids import saved_id
from core.people import Department, GrantStatus, Person, Role
from core.ports import UnitOfWork


@dataclass(frozen=True)
class MemberChoice:
    """A grid member of the community, with where they work ("粮食局小区 · 第一网格")."""

    person: Person
    compound: str
    grid: str
    grid_id: int

    @property
    def place(self) -> str:
        """"粮食局小区第一网格" names its compound already; "东城花园 一网格" needs it in front."""
        return self.grid if self.grid.startswith(self.compound) else f"{self.compound} {self.grid}"


@dataclass(frozen=True)
class DepartmentContact:
    """A department's contact person: shown as "城管局 · 张三", never by a chat name alone."""

    person: Person
    department: Department | None  # None: a contact granted without a department (old data)

    @property
    def name(self) -> str:
        """The department's name, or the contact's when the grant names no department."""
        return self.department.name if self.department else self.person.display_name

    @property
    def label(self) -> str:
        return f"{self.department.name} · {self.person.display_name}" if self.department else self.person.display_name


async def grid_members_of(uow: UnitOfWork, community_id: int) -> list[MemberChoice]:
    """Every active grid member of the community, grouped by compound and grid (by name), then by name."""
    choices: list[MemberChoice] = []
    for compound in await uow.places.compounds(community_id):
        for grid in await uow.places.grids(community_id):
            if grid.compound_id != compound.id:
                continue
            for person in await uow.people.grid_members(saved_id(grid)):
                choices.append(MemberChoice(person, compound.name, grid.name, saved_id(grid)))
    return sorted(choices, key=lambda c: (c.compound, c.grid, c.person.display_name, saved_id(c.person)))


async def departments_serving(uow: UnitOfWork, community_id: int) -> list[DepartmentContact]:
    """The department contacts who serve the community, sorted by department, then by name."""
    contacts: list[DepartmentContact] = []
    departments: dict[int | None, Department | None] = {}
    for person in await uow.people.with_role(Role.DEPARTMENT):
        for grant in await uow.people.grants(saved_id(person)):
            if grant.role != Role.DEPARTMENT or grant.status != GrantStatus.ACTIVE:
                continue
            if grant.community_id not in (None, community_id):
                continue
            if grant.department_id is not None and grant.department_id not in departments:
                departments[grant.department_id] = await uow.people.department(grant.department_id)
            contacts.append(DepartmentContact(person, departments.get(grant.department_id)))
            break
    return sorted(contacts, key=lambda c: (c.name, c.person.display_name, saved_id(c.person)))


async def department_of(uow: UnitOfWork, person_id: int) -> Department | None:
    """The department a contact speaks for (their first active department grant), if any."""
    for grant in await uow.people.grants(person_id):
        if grant.role == Role.DEPARTMENT and grant.active and grant.department_id is not None:
            return await uow.people.department(grant.department_id)
    return None


async def require_grid_member_of(uow: UnitOfWork, community_id: int, person_id: int) -> MemberChoice:
    """The desk assigns only to a grid member of the case's community (a forged id is refused)."""
    for choice in await grid_members_of(uow, community_id):
        if choice.person.id == person_id:
            return choice
    raise NotAllowed(action="case.assign")


async def require_department_for(uow: UnitOfWork, community_id: int, person_id: int, action: str) -> DepartmentContact:
    """A case is forwarded or escalated only to a contact of a department serving its community."""
    for contact in await departments_serving(uow, community_id):
        if contact.person.id == person_id:
            return contact
    raise NotAllowed(action=f"case.{action}")

