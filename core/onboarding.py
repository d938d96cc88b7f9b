"""Onboarding: residents choosing their building, invites redeemed. Meeting a chat account (and the
privacy notice that comes before anything is kept) is core/consent_services.py."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from core.errors import AlreadyHasRole, NotAllowed, NotFound, PlaceMismatch, UnknownInvite
from core.events import Event
from core.cases import Actor
from core.consent import PrivacyPolicy
from core.consent_services import agree
from core.ids import saved_id
from core.invites import Invite, check_may_invite, expiry, new_code
from core.personal_data import FORGOTTEN_NAME
from core.people import GrantStatus, Person, Role, RoleGrant, Roles
from core.places import Address, Community, Grid, check_address
from core.ports import UnitOfWork


def _grant_view(grant: RoleGrant) -> dict[str, Any]:
    view = {k: v for k, v in asdict(grant).items() if v is not None and k not in ("created_at", "id")}
    view["role"] = grant.role.value
    view["status"] = grant.status.value
    return view


async def record(uow: UnitOfWork, subject_type: str, subject_id: object, kind: str, at: datetime,
                 actor_id: int | None, before: dict[str, Any] | None = None,
                 after: dict[str, Any] | None = None) -> None:
    await uow.events.add(Event(subject_type, str(subject_id), kind, at, actor_id, before, after))


async def meet(uow: UnitOfWork, channel: str, external_id: str, chat_id: str, display_name: str,
               now: datetime, policy: PrivacyPolicy | None = None) -> Person:
    """The person behind a chat account who has agreed to the privacy notice (a newcomer is created by
    agreeing: core.consent_services.agree). For tools and tests that stand for someone who said yes."""
    account = await agree(uow, policy or PrivacyPolicy(), channel, external_id, chat_id, display_name, now)
    return account.person


async def roles_of(uow: UnitOfWork, person: Person) -> Roles:
    return Roles(list(await uow.people.grants(saved_id(person))))


async def resolve_address(uow: UnitOfWork, community_id: int, compound_id: int, building_id: int) -> Address:
    community = await uow.places.community(community_id)
    compound = await uow.places.compound(compound_id)
    building = await uow.places.building(building_id)
    grid = await uow.places.grid(building.grid_id) if building else None
    if community is None or compound is None or building is None or grid is None:
        raise NotFound(what="building")
    return check_address(community, compound, grid, building)


async def register_resident(uow: UnitOfWork, person: Person, community_id: int, compound_id: int,
                            building_id: int, now: datetime) -> Address:
    """A resident names their building; moving house replaces the old one."""
    address = await resolve_address(uow, community_id, compound_id, building_id)
    grants = await uow.people.grants(saved_id(person))
    current = [g for g in grants if g.role == Role.RESIDENT and g.active]
    if any(g.building_id == building_id for g in current):
        return address
    for old in current:
        before = _grant_view(old)
        old.status = GrantStatus.REVOKED
        await uow.people.update_grant(old)
        await record(uow, "person", person.id, "resident_moved_out", now, person.id, before, _grant_view(old))
    grant = RoleGrant(None, saved_id(person), Role.RESIDENT, community_id=community_id,
                      building_id=building_id, created_at=now)
    await uow.people.add_grant(grant)
    await record(uow, "person", person.id, "resident_registered", now, person.id, None, _grant_view(grant))
    return address


async def set_language(uow: UnitOfWork, person: Person, language: str, now: datetime) -> None:
    if language not in ("zh", "en"):
        raise NotAllowed(action="language")
    before = {"language": person.language}
    person.language = language
    await uow.people.update(person)
    await record(uow, "person", person.id, "language_set", now, person.id, before, {"language": language})


async def create_invite(uow: UnitOfWork, inviter: Person | None, role: Role, now: datetime, *,
                        ttl_hours: int, max_uses: int = 1, community_id: int | None = None,
                        grid_id: int | None = None, department_id: int | None = None,
                        person_id: int | None = None) -> Invite:
    """An invite for one role in one place. `inviter` None is the operator at the command line."""
    if role == Role.GRID_MEMBER:
        if grid_id is None:
            raise NotFound(what="grid")
        grid_community = await uow.places.grid_community_id(grid_id)
        if grid_community is None:
            raise NotFound(what="grid")
        if community_id is not None and community_id != grid_community:
            raise PlaceMismatch(building=str(grid_id), community=str(community_id))
        community_id = grid_community
    elif role in (Role.STAFF, Role.PARTY_MEMBER):
        if community_id is None or await uow.places.community(community_id) is None:
            raise NotFound(what="community")
    elif role == Role.DEPARTMENT:
        if department_id is None or await uow.people.department(department_id) is None:
            raise NotFound(what="department")
    inviter_roles = await roles_of(uow, inviter) if inviter is not None else None
    check_may_invite(inviter_roles, role, community_id)
    if person_id is not None and await uow.people.get(person_id) is None:
        raise NotFound(what="person")
    invite = Invite(code=new_code(), role=role, expires_at=expiry(now, ttl_hours), max_uses=max_uses,
                    community_id=community_id, grid_id=grid_id, department_id=department_id,
                    person_id=person_id, created_by=inviter.id if inviter else None, created_at=now)
    await uow.invites.add(invite)
    await record(uow, "invite", invite.code, "invite_created", now, invite.created_by,
                 after={"role": role.value, "community_id": community_id, "grid_id": grid_id,
                        "max_uses": max_uses, "expires_at": invite.expires_at.isoformat()})
    return invite


# The roles staff invite from the chat (admins give department and admin roles on the command line).
STAFF_INVITES = (Role.GRID_MEMBER, Role.PARTY_MEMBER, Role.STAFF)


async def invite_communities(uow: UnitOfWork, by: Actor) -> list[Community]:
    """The communities `by` may invite people to: every one for an admin, else those they staff."""
    if not (by.roles.is_admin or by.roles.staff_communities()):
        raise NotAllowed(action="invite")
    communities = list(await uow.places.communities())
    if by.roles.is_admin:
        return communities
    return [c for c in communities if c.id in by.roles.staff_communities()]


@dataclass(frozen=True)
class InviteStep:
    """The next step of making an invite: roles to pick from, grids to pick from, or the invite."""

    roles: tuple[Role, ...] = ()
    grids: list[Grid] = field(default_factory=list)
    invite: Invite | None = None


async def choose_invite(uow: UnitOfWork, by: Actor, community_id: int, role: str, now: datetime, *,
                        ttl_hours: int, max_uses: int = 1) -> InviteStep:
    """Staff (or an admin) picked a community, then a role: the roles they may give there (no role
    yet), the community's grids (a grid member's invite names a grid), or the invite itself."""
    if not by.roles.is_staff_of(community_id):
        raise NotAllowed(action="invite")
    if not role:
        return InviteStep(roles=STAFF_INVITES)
    chosen = next((r for r in STAFF_INVITES if r.value == role), None)
    if chosen is None:
        raise NotAllowed(action="invite")
    if chosen == Role.GRID_MEMBER:
        check_may_invite(by.roles, chosen, community_id)
        return InviteStep(grids=list(await uow.places.grids(community_id)))
    inviter = await uow.people.get(by.person_id)
    if inviter is None:
        raise NotFound(what="person")
    return InviteStep(invite=await create_invite(uow, inviter, chosen, now, ttl_hours=ttl_hours, max_uses=max_uses,
                                                 community_id=community_id))


def _same_scope(grant: RoleGrant, invite: Invite) -> bool:
    return (grant.role == invite.role and grant.community_id == invite.community_id
            and grant.grid_id == invite.grid_id and grant.department_id == invite.department_id)


async def redeem_invite(uow: UnitOfWork, person: Person, channel: str, external_id: str, code: str,
                        now: datetime) -> tuple[Person, RoleGrant]:
    """Give the invite's role to whoever opened the link.

    An invite bound to a roster person (an imported grid member) ties this chat account
    to that person instead, carrying over anything the account already had.
    Returns the person now behind the chat account and the grant.
    """
    invite = await uow.invites.get(code)
    if invite is None:
        raise UnknownInvite()
    invite.check_redeemable(now)
    if invite.person_id is not None and invite.person_id != person.id:
        person = await _adopt_roster_person(uow, person, invite.person_id, channel, external_id, now)
    grants = await uow.people.grants(saved_id(person))
    existing = next((g for g in grants if _same_scope(g, invite)), None)
    if existing is not None and existing.active and invite.person_id is None:
        raise AlreadyHasRole(role=invite.role.value)
    if existing is not None:
        before = _grant_view(existing)
        existing.status = GrantStatus.ACTIVE
        await uow.people.update_grant(existing)
        grant = existing
    else:
        before = None
        grant = RoleGrant(None, saved_id(person), invite.role, community_id=invite.community_id,
                          grid_id=invite.grid_id, department_id=invite.department_id,
                          granted_by=invite.created_by, created_at=now)
        await uow.people.add_grant(grant)
    invite.uses += 1
    await uow.invites.update(invite)
    await record(uow, "invite", invite.code, "invite_redeemed", now, person.id,
                 {"uses": invite.uses - 1}, {"uses": invite.uses, "person_id": person.id})
    await record(uow, "person", person.id, "role_granted", now, invite.created_by, before, _grant_view(grant))
    return person, grant


async def _adopt_roster_person(uow: UnitOfWork, visitor: Person, roster_id: int, channel: str,
                               external_id: str, now: datetime) -> Person:
    if await uow.people.get(roster_id) is None:
        raise UnknownInvite()
    if any(i.channel == channel for i in await uow.people.identities(roster_id)):
        # Someone already took this roster place on this channel; a second account may not.
        raise AlreadyHasRole(role="roster")
    return await link_identity(uow, visitor, roster_id, channel, external_id, now)


async def link_identity(uow: UnitOfWork, visitor: Person, person_id: int, channel: str, external_id: str,
                        now: datetime) -> Person:
    """The chat account (`channel`, `external_id`) that met us as `visitor` becomes `person_id`'s: the
    grants the visitor had move along, and the language they chose is kept if the person has none.
    A roster invite (`redeem_invite`) and a bind code (core/binding_services.py) both end here."""
    person = await uow.people.get(person_id)
    if person is None:
        raise NotFound(what="person")
    identity = await uow.people.identity(channel, external_id)
    if identity is None:
        raise NotFound(what="identity")
    identity.person_id = person_id
    await uow.people.update_identity(identity)
    for grant in await uow.people.grants(saved_id(visitor)):
        grant.person_id = person_id
        await uow.people.update_grant(grant)
    if person.language is None and visitor.language is not None:
        person.language = visitor.language
    # what the visitor agreed to is the person's agreement: they are one person
    await uow.consents.move(saved_id(visitor), person_id)
    person.notice_version = max(person.notice_version or 0, visitor.notice_version or 0) or None
    person.location_agreed_at = person.location_agreed_at or visitor.location_agreed_at
    await uow.people.update(person)
    # the visitor was this same person for a moment: their chat name is not kept twice
    visitor.display_name = FORGOTTEN_NAME
    await uow.people.update(visitor)
    await record(uow, "person", person_id, "identity_linked", now, person_id,
                 {"person_id": visitor.id}, {"person_id": person_id, "channel": channel})
    return person
