"""Registration ("双报到"): a party member asks to serve in their home community; staff approve or
decline. The rules; `registration_services` loads, saves and tells."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.cases import Actor
from core.errors import AlreadyHasRole, NotAllowed
from core.events import Event
from core.people import GrantStatus, Role, RoleGrant, Roles
from core.volunteering.common import (
    MAX_DESCRIPTION, MAX_SHORT_TEXT, RegisteredElsewhere, RegistrationPending, WorkUnitRequired, WrongState, short_text,
)


# --- registration ("双报到") ------------------------------------------------------------


@dataclass
class Registration:
    """A party member's grant for their home community, with the events of its decisions."""

    grant: RoleGrant
    pending_events: list[Event] = field(default_factory=list, compare=False, repr=False)

    def record(self, kind: str, at: datetime, actor_id: int | None,
               before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> Event:
        event = Event("person", str(self.grant.person_id), kind, at, actor_id, before, after)
        self.pending_events.append(event)
        return event


def register_party_member(person_id: int, roles: Roles, community_id: int, work_unit: str,
                          now: datetime) -> Registration:
    """A party member asks to register with their home community and names their work unit.

    `roles` are the person's grants (active and pending). One home community at a time:
    a pending request anywhere, or an approved registration elsewhere, is refused.
    """
    for grant in roles.grants:
        if grant.role == Role.PARTY_MEMBER:
            if grant.community_id == community_id:
                raise AlreadyHasRole(role=Role.PARTY_MEMBER.value)
            raise RegisteredElsewhere(community_id=grant.community_id)
    if any(g.role == Role.PARTY_MEMBER for g in roles.pending):
        raise RegistrationPending()
    work_unit = short_text(work_unit, MAX_SHORT_TEXT)
    if not work_unit:
        raise WorkUnitRequired()
    grant = RoleGrant(None, person_id, Role.PARTY_MEMBER, GrantStatus.PENDING, community_id=community_id,
                      work_unit=work_unit, created_at=now)
    registration = Registration(grant)
    registration.record("party_registration_requested", now, person_id, None, _grant_view(grant))
    return registration


def approve_registration(registration: Registration, by: Actor, now: datetime) -> Registration:
    """Staff of the home community confirm the member: from now on they see and claim posts."""
    return _decide_registration(registration, by, now, GrantStatus.ACTIVE, "party_registration_approved", None)


def decline_registration(registration: Registration, by: Actor, now: datetime,
                         reason: str = "") -> Registration:
    """Staff of the community say no (not living here, not a party member …); the person is told."""
    return _decide_registration(registration, by, now, GrantStatus.DECLINED, "party_registration_declined",
                                short_text(reason, MAX_DESCRIPTION))


def _decide_registration(registration: Registration, by: Actor, now: datetime, to: GrantStatus, kind: str,
                         reason: str | None) -> Registration:
    grant = registration.grant
    if grant.role != Role.PARTY_MEMBER or grant.community_id is None:
        raise ValueError("not a party member's registration")
    if not by.roles.is_staff_of(grant.community_id):
        raise NotAllowed(action="party.decide")
    if grant.status != GrantStatus.PENDING:
        raise WrongState("registration", str(grant.person_id), grant.status.value, kind)
    before = _grant_view(grant)
    grant.status = to
    grant.granted_by = by.person_id
    after = _grant_view(grant)
    if reason:
        after["reason"] = reason
    registration.record(kind, now, by.person_id, before, after)
    return registration


def _grant_view(grant: RoleGrant) -> dict[str, Any]:
    return {"role": grant.role.value, "status": grant.status.value, "community_id": grant.community_id,
            "work_unit": grant.work_unit}
