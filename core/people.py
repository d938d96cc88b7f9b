"""People and their roles. One person, many roles; a chat account is only an identity.

An identity (channel + external id) ties a person to Telegram today and WeChat later,
so a second channel needs no schema change.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Role(str, enum.Enum):
    RESIDENT = "resident"            # 居民: lives in a building
    GRID_MEMBER = "grid_member"      # 网格员: owns one or more grids
    PARTY_MEMBER = "party_member"    # 报到党员: home community + work unit, approved by staff
    STAFF = "staff"                  # 社区工作者: the community's dispatch desk
    DEPARTMENT = "department"        # 职能部门联系人: escalation target
    ADMIN = "admin"                  # runs the installation


class GrantStatus(str, enum.Enum):
    PENDING = "pending"      # asked for, waiting for staff (party members' "双报到")
    ACTIVE = "active"
    DECLINED = "declined"
    REVOKED = "revoked"


@dataclass
class Person:
    id: int | None
    display_name: str
    language: str | None = None     # None: follow the chat client's language
    phone: str | None = None        # only where the community needs it (grid members); PIPL: collect the least
    created_at: datetime | None = None
    notice_version: int | None = None          # the privacy notice they agreed to (core.consent); None: never
    location_agreed_at: datetime | None = None  # when they agreed to share a precise location (asked once)
    forgotten_at: datetime | None = None       # /forget: name, phone and accounts removed (core.forget)


@dataclass
class Identity:
    id: int | None
    person_id: int
    channel: str            # "telegram", later "wechat"
    external_id: str        # the channel's user id, as text
    chat_id: str            # where to send messages on that channel
    reachable: bool = True  # False after the user blocked the bot


@dataclass
class RoleGrant:
    """A role held by a person, scoped to the place it applies to."""

    id: int | None
    person_id: int
    role: Role
    status: GrantStatus = GrantStatus.ACTIVE
    community_id: int | None = None   # staff, party member (home community), resident (derived)
    grid_id: int | None = None        # grid member
    building_id: int | None = None    # resident
    department_id: int | None = None  # department contact
    work_unit: str | None = None      # party member's employer ("双报到")
    granted_by: int | None = None
    created_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status == GrantStatus.ACTIVE


@dataclass
class Department:
    id: int | None
    name: str
    district_id: int | None = None


class Roles:
    """What a person may do, read from their active grants."""

    def __init__(self, grants: list[RoleGrant]) -> None:
        self.grants = [g for g in grants if g.active]
        self.pending = [g for g in grants if g.status == GrantStatus.PENDING]

    def has(self, role: Role) -> bool:
        return any(g.role == role for g in self.grants)

    @property
    def names(self) -> list[Role]:
        order = list(Role)
        return sorted({g.role for g in self.grants}, key=order.index)

    @property
    def is_admin(self) -> bool:
        return self.has(Role.ADMIN)

    def home_building_id(self) -> int | None:
        return next((g.building_id for g in self.grants if g.role == Role.RESIDENT), None)

    def home_community_id(self) -> int | None:
        """The community of the person's home building (a resident grant), if any: where they order services."""
        return next((g.community_id for g in self.grants if g.role == Role.RESIDENT and g.community_id), None)

    def grid_ids(self) -> set[int]:
        return {g.grid_id for g in self.grants if g.role == Role.GRID_MEMBER and g.grid_id is not None}

    def staff_communities(self) -> set[int]:
        return {g.community_id for g in self.grants if g.role == Role.STAFF and g.community_id is not None}

    def party_communities(self) -> list[int]:
        """Where the person serves as a party member: the posts they may claim are these communities'."""
        return sorted({g.community_id for g in self.grants if g.role == Role.PARTY_MEMBER and g.community_id})

    def communities(self) -> list[int]:
        """Every community the person belongs to by a grant that names it (points are kept per community)."""
        return sorted({g.community_id for g in self.grants if g.community_id})

    def is_staff_of(self, community_id: int) -> bool:
        return self.is_admin or community_id in self.staff_communities()


def pick_language(person_language: str | None, client_language: str | None, default: str) -> str:
    """The person's own choice, else the chat client's (zh* → zh, en* → en), else the default."""
    if person_language in ("zh", "en"):
        return person_language
    code = (client_language or "").lower()
    if code.startswith("zh"):
        return "zh"
    if code.startswith("en"):
        return "en"
    return default


@dataclass
class Account:
    """A chat account as the bot meets it: the person, the account, and every grant they hold."""

    person: Person
    identity: Identity
    grants: list[RoleGrant]

    @property
    def roles(self) -> Roles:
        return Roles(self.grants)
