"""Services of registration ("双报到"): ask, list what staff must decide, approve, decline."""

from __future__ import annotations

from datetime import datetime

from core.access import desk_communities, require_staff_of
from core.cases import Actor
from core.disclosure_services import record_views
from core.errors import NotFound
from core.ids import saved_id
from core.people import GrantStatus, Person, Role, RoleGrant, Roles
from core.ports import UnitOfWork
from core.volunteering import registration as rules
from core.volunteering.common import WrongState
from core.volunteering.common_services import community_name, display_name, save_events, staff_of, tell
from core.volunteering.registration import Registration


# ---- registration ("双报到") -----------------------------------------------------------------

async def ask_to_register(uow: UnitOfWork, person_id: int, community_id: int, work_unit: str,
                          now: datetime) -> Registration:
    """The party member asks their home community to confirm them; its staff are told."""
    if await uow.places.community(community_id) is None:
        raise NotFound(what="community")
    roles = Roles(list(await uow.people.grants(person_id)))
    registration = rules.register_party_member(person_id, roles, community_id, work_unit, now)
    await uow.people.add_grant(registration.grant)
    await save_events(uow, registration)
    await tell(uow, await staff_of(uow, community_id), "party.registration_requested",
               {"person": person_id, "community": community_id, "name": await display_name(uow, person_id),
                "work_unit": registration.grant.work_unit},
               dedupe=f"party:{registration.grant.id}:requested")
    return registration


async def pending_registrations(uow: UnitOfWork, community_id: int) -> list[tuple[Person, RoleGrant]]:
    """Who waits for the community's "双报到" decision, oldest request first."""
    return list(await uow.volunteering.pending_registrations(community_id))


async def pending_members(uow: UnitOfWork, by: Actor, now: datetime) -> list[tuple[int, Person, RoleGrant]]:
    """Every "双报到" request waiting in the communities `by` keeps: (community, person, grant). The list
    shows each person's name and employer to staff: the look is audited (core.disclosure)."""
    waiting = [(community, who, grant) for community in await desk_communities(uow, by, "party.decide")
               for who, grant in await pending_registrations(uow, community)]
    for community, who, _ in waiting:
        await record_views(uow, [by.person_id], [saved_id(who)], "members.pending", str(community), now)
    return waiting


async def registration_to_decide(uow: UnitOfWork, by: Actor, person_id: int,
                                 community_id: int | None) -> tuple[int, Person | None]:
    """The community whose decision on `person_id` a ✅ / ✖ press asks for, and the person.

    The button names the community (staff of another community are refused); on a button from
    before it named one, it is the community of those `by` staffs where the person waits. Already
    decided: WrongState."""
    if community_id is not None:
        require_staff_of(by, community_id, "party.decide")
        candidates = [community_id]
    else:
        candidates = await desk_communities(uow, by, "party.decide")
    who = await uow.people.get(person_id)
    for community in candidates:
        if any(p.id == person_id for p, _ in await pending_registrations(uow, community)):
            return community, who
    raise WrongState("registration", who.display_name if who else str(person_id), "decided", "decide")


async def _registration(uow: UnitOfWork, person_id: int, community_id: int) -> Registration:
    for grant in await uow.people.grants(person_id):
        if (grant.role == Role.PARTY_MEMBER and grant.community_id == community_id
                and grant.status == GrantStatus.PENDING):
            return Registration(grant)
    raise NotFound(what="registration")


async def approve_registration(uow: UnitOfWork, by: Actor, person_id: int, community_id: int,
                               now: datetime) -> Registration:
    registration = rules.approve_registration(await _registration(uow, person_id, community_id), by, now)
    await uow.people.update_grant(registration.grant)
    await save_events(uow, registration)
    await tell(uow, [person_id], "party.registration_approved", {"community": await community_name(uow, community_id)},
               dedupe=f"party:{registration.grant.id}:approved")
    return registration


async def decline_registration(uow: UnitOfWork, by: Actor, person_id: int, community_id: int, reason: str,
                               now: datetime) -> Registration:
    registration = rules.decline_registration(await _registration(uow, person_id, community_id), by, now, reason)
    await uow.people.update_grant(registration.grant)
    await save_events(uow, registration)
    await tell(uow, [person_id], "party.registration_declined",
               {"community": await community_name(uow, community_id), "reason": " ".join(reason.split())},
               dedupe=f"party:{registration.grant.id}:declined")
    return registration
