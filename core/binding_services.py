"""Binding services: a code is issued (to oneself, or by staff for someone on their roster) and used
from another chat account, which then is that person there. See core/binding.py for the rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.binding import (
    BIND_CODE_TTL, AlreadyBound, BindCode, TooManyBindAttempts, UnknownBindCode, account_key, attempts_left,
    new_bind_code, normalise_code,
)
from core.access import desk_communities
from core.cases import Actor
from core.errors import DomainError, NotAllowed, NotFound
from core.ids import saved_id
from core.onboarding import link_identity, record
from core.people import Person, Role
from core.ports import UnitOfWork


async def communities_of(uow: UnitOfWork, person_id: int) -> set[int]:
    """The communities a person belongs to through any grant (a grid's, a building's, or named)."""
    found: set[int] = set()
    for grant in await uow.people.grants(person_id):
        if grant.community_id is not None:
            found.add(grant.community_id)
        elif grant.grid_id is not None:
            community = await uow.places.grid_community_id(grant.grid_id)
            if community is not None:
                found.add(community)
    return found


async def issue_bind_code(uow: UnitOfWork, by: Actor, now: datetime, person_id: int | None = None) -> BindCode:
    """A code that binds another chat account to `person_id` (default: `by` themselves). For oneself:
    anyone with a role. For someone else: staff of a community that person belongs to, or an admin —
    how a grid member imported from the org file, who has no chat yet, joins on WeCom. A new code
    replaces the person's earlier one; the event keeps who issued it for whom, never the code."""
    target = by.person_id if person_id is None else person_id
    if target == by.person_id:
        if not by.roles.names:
            raise NotAllowed(action="bind")
    elif not by.roles.is_admin and not (await communities_of(uow, target)) & by.roles.staff_communities():
        raise NotAllowed(action="bind")
    if await uow.people.get(target) is None:
        raise NotFound(what="person")
    for old in await uow.bind_codes.live_of_person(target, now):
        old.revoked = True
        await uow.bind_codes.update(old)
    code = new_bind_code()
    for _ in range(20):  # two live codes never share their digits
        same = await uow.bind_codes.get(code)
        if same is None or same.used_at is not None or same.revoked or now >= same.expires_at:
            break
        code = new_bind_code()
    else:
        raise RuntimeError("no free bind code")
    issued = BindCode(code, target, now + BIND_CODE_TTL, created_by=by.person_id, created_at=now)
    await uow.bind_codes.add(issued)
    await record(uow, "person", target, "bind_code_issued", now, by.person_id,
                 after={"expires_at": issued.expires_at.isoformat()})
    return issued


async def roster_named(uow: UnitOfWork, by: Actor, words: str) -> list[Person]:
    """The people of the communities `by` keeps as staff whose name contains `words`: whom staff may
    issue a bind code for (grid members of their grids, residents, party members, colleagues)."""
    words = words.strip().lower()
    if not words:
        return []
    found: dict[int, Person] = {}
    for community_id in await desk_communities(uow, by, "bind"):
        people = [p for grid in await uow.places.grids(community_id) if grid.id is not None
                  for p in await uow.people.grid_members(grid.id)]
        for role in (Role.RESIDENT, Role.PARTY_MEMBER, Role.STAFF):
            people += list(await uow.people.with_role(role, community_id))
        found.update({saved_id(p): p for p in people if words in p.display_name.lower()})
    return sorted(found.values(), key=lambda p: p.display_name)


@dataclass(frozen=True)
class BindOutcome:
    """What sending a code did: the person now behind the account, or why not. Not an exception, so a
    refusal is committed like a success: the refusals are the attempts counted against the account."""

    person: Person | None = None
    refusal: DomainError | None = None


async def bind_account(uow: UnitOfWork, visitor: Person, channel: str, external_id: str, typed: str,
                       now: datetime) -> BindOutcome:
    """The account (`channel`, `external_id`), met as `visitor`, sends `typed`: with a live code it
    becomes the code's person on this channel (whatever roles it had move along, as with a roster
    invite); anything else is refused and counted."""
    account = account_key(channel, external_id)
    refused = [e.at for e in await uow.events.of("account", account) if e.kind == "bind_refused"]
    if attempts_left(refused, now) == 0:
        return BindOutcome(refusal=TooManyBindAttempts())
    code = normalise_code(typed)
    issued = await uow.bind_codes.get(code) if code is not None else None
    try:
        if issued is None:
            raise UnknownBindCode()
        issued.check_usable(now)
    except DomainError as refusal:
        await record(uow, "account", account, "bind_refused", now, visitor.id, after={"why": refusal.key})
        return BindOutcome(refusal=refusal)
    target = await uow.people.get(issued.person_id)
    if target is None:
        return BindOutcome(refusal=UnknownBindCode())
    if target.id != visitor.id and any(i.channel == channel for i in await uow.people.identities(saved_id(target))):
        return BindOutcome(refusal=AlreadyBound(channel=channel))  # the right code: not counted as a guess
    issued.use(account, now)
    await uow.bind_codes.update(issued)
    person = target if target.id == visitor.id else await link_identity(
        uow, visitor, saved_id(target), channel, external_id, now)
    await record(uow, "person", person.id, "account_bound", now, person.id,
                 after={"channel": channel, "issued_by": issued.created_by})
    return BindOutcome(person=person)
