"""Invites: how staff, grid members, party members and department contacts join.

A resident registers on their own; every other role is given by someone who holds
the right to give it, through a deep link `/start inv_<code>` that expires and admits
a limited number of people.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import InviteExpired, InviteRevoked, InviteUsedUp, NotAllowed
from core.people import Role, Roles

INVITE_PREFIX = "inv_"
# Roles an invite can carry; residents register themselves.
INVITABLE = (Role.GRID_MEMBER, Role.PARTY_MEMBER, Role.STAFF, Role.DEPARTMENT, Role.ADMIN)


@dataclass
class Invite:
    code: str
    role: Role
    expires_at: datetime
    max_uses: int = 1
    uses: int = 0
    community_id: int | None = None
    grid_id: int | None = None
    department_id: int | None = None
    person_id: int | None = None      # bound to a person already on the roster (imported grid member)
    created_by: int | None = None     # None: created on the command line by the operator
    created_at: datetime | None = None
    revoked: bool = False

    @property
    def deep_link_payload(self) -> str:
        return INVITE_PREFIX + self.code

    def check_redeemable(self, now: datetime) -> None:
        if self.revoked:
            raise InviteRevoked()
        if now >= self.expires_at:
            raise InviteExpired(expired_at=self.expires_at)
        if self.uses >= self.max_uses:
            raise InviteUsedUp()


def new_code() -> str:
    """12 URL-safe characters: unguessable, and short enough for a deep link (64 max)."""
    return secrets.token_urlsafe(9)


def code_from_payload(payload: str) -> str | None:
    if payload.startswith(INVITE_PREFIX) and len(payload) > len(INVITE_PREFIX):
        return payload[len(INVITE_PREFIX):]
    return None


def check_may_invite(inviter: Roles | None, role: Role, community_id: int | None) -> None:
    """Admins invite anyone; staff invite grid members, party members and colleagues of their community.

    `inviter` None is the operator at the command line, who may do anything.
    """
    if role not in INVITABLE:
        raise NotAllowed(action="invite", role=role.value)
    if inviter is None or inviter.is_admin:
        return
    if role in (Role.GRID_MEMBER, Role.PARTY_MEMBER, Role.STAFF) and community_id is not None \
            and community_id in inviter.staff_communities():
        return
    raise NotAllowed(action="invite", role=role.value)


def expiry(now: datetime, ttl_hours: int) -> datetime:
    return now + timedelta(hours=ttl_hours)
