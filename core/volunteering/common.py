"""Volunteering's shared vocabulary: limits, states, errors, who is who, and the helpers every
transition uses (move a post or claim, check a state, trim a text)."""

from __future__ import annotations

import enum
from datetime import time, timedelta
from typing import Any

from core.errors import DomainError
from core.people import Role, Roles

DEFAULT_WITHDRAW_CUTOFF = timedelta(hours=3)
DEFAULT_NO_SHOW_LIMIT = 2
CHECK_IN_EARLY = timedelta(minutes=30)       # a member may check in this long before start
QUIET_START = time(22, 0)
QUIET_END = time(7, 0)

MAX_DESCRIPTION = 300
MAX_SHORT_TEXT = 60          # preferred time, title, work unit
MAX_PLACE = 100
MAX_CAPACITY = 500
MAX_POINTS_PER_PERSON = 1000
MAX_SKILLS = 5


# --- vocabulary ------------------------------------------------------------------------


class ServiceKind(str, enum.Enum):
    ELDERLY_HELP = "elderly_help"      # helping an elderly neighbour
    CARRYING = "carrying"              # carrying things, moving
    TUTORING = "tutoring"              # homework help, phone and computer lessons
    PAPERWORK = "paperwork"            # forms, applications, online services
    SMALL_REPAIRS = "small_repairs"    # in the home, not a property fault (that is a report)
    COMPANIONSHIP = "companionship"    # a chat, a walk, a visit
    OTHER = "other"


class OrderState(str, enum.Enum):
    NEW = "new"
    DISPATCHED = "dispatched"
    DECLINED = "declined"


class PostState(str, enum.Enum):
    OPEN = "open"                # places remain
    FULL = "full"                # every place taken; claims may join the waitlist
    CANCELLED = "cancelled"
    DONE = "done"


class ClaimState(str, enum.Enum):
    CLAIMED = "claimed"          # holds a place
    WAITLISTED = "waitlisted"    # waits for a place
    WITHDRAWN = "withdrawn"
    CHECKED_IN = "checked_in"
    CHECKED_OUT = "checked_out"
    CONFIRMED = "confirmed"      # the service was done; hours and points count
    NO_SHOW = "no_show"


# A claim in these states holds one of the post's places.
HOLDS_PLACE = frozenset({ClaimState.CLAIMED, ClaimState.CHECKED_IN, ClaimState.CHECKED_OUT,
                         ClaimState.CONFIRMED})
# A claim in these states keeps the member's time busy (see the overlap rule).
BLOCKS_TIME = frozenset({ClaimState.CLAIMED, ClaimState.WAITLISTED, ClaimState.CHECKED_IN,
                         ClaimState.CHECKED_OUT})
# A claim in these states is live: claiming the same post again is refused.
LIVE_CLAIM = HOLDS_PLACE | {ClaimState.WAITLISTED}
CLAIMABLE_POST = frozenset({PostState.OPEN, PostState.FULL})


# --- errors ----------------------------------------------------------------------------


class WrongState(DomainError):
    """The thing is not in a state that allows this (a decided order, a finished claim …)."""

    key = "volunteer.wrong_state"

    def __init__(self, what: str, ref: str, state: str, action: str) -> None:
        self.what, self.ref, self.state, self.action = what, ref, state, action
        super().__init__(what=what, ref=ref, state=state, action=action)


class RegistrationPending(DomainError):
    key = "party.registration_pending"


class RegisteredElsewhere(DomainError):
    """"双报到" is to one home community; moving is done by that community's staff."""

    key = "party.registered_elsewhere"


class WorkUnitRequired(DomainError):
    key = "party.work_unit_required"


class NotResident(DomainError):
    key = "order.not_resident"


class DescriptionRequired(DomainError):
    key = "order.description_required"


class TextTooLong(DomainError):
    key = "volunteer.text_too_long"


class ReasonRequired(DomainError):
    key = "volunteer.reason_required"


class BadPost(DomainError):
    """A post that cannot be: no title or place, ends before it starts, no places …"""

    key = "post.invalid"


class NotMember(DomainError):
    """Not an approved party member of the post's community."""

    key = "post.not_member"


class NotYourClaim(DomainError):
    key = "post.not_your_claim"


class PostClosed(DomainError):
    """Cancelled or done: nothing to claim."""

    key = "post.closed"


class PostStarted(DomainError):
    key = "post.started"


class PostFull(DomainError):
    """No place left. `waitlist` says the member may join the waitlist instead."""

    key = "post.full"


class AlreadyClaimed(DomainError):
    key = "post.already_claimed"


class Overlap(DomainError):
    key = "post.overlap"


class Suspended(DomainError):
    key = "post.suspended"


class WithdrawTooLate(DomainError):
    key = "post.withdraw_too_late"


class CheckInTooEarly(DomainError):
    key = "post.check_in_too_early"


class CheckInTooLate(DomainError):
    key = "post.check_in_too_late"


class PhotoRequired(DomainError):
    key = "post.photo_required"


class PhotoReused(DomainError):
    """The check-out photo is the check-in photo: it proves nothing."""

    key = "post.photo_reused"


class BadRating(DomainError):
    key = "post.bad_rating"


class NotStartedYet(DomainError):
    key = "post.not_started"


class NotEndedYet(DomainError):
    key = "post.not_ended"


# --- who is who ------------------------------------------------------------------------


def is_party_member_of(roles: Roles, community_id: int) -> bool:
    """Approved ("双报到" done) for this community; pending and declined grants do not count."""
    return any(g.role == Role.PARTY_MEMBER and g.community_id == community_id for g in roles.grants)


def is_resident_of(roles: Roles, community_id: int) -> bool:
    return any(g.role == Role.RESIDENT and g.community_id == community_id for g in roles.grants)


def require_state(state: enum.Enum, allowed: frozenset[Any] | set[Any], what: str, ref: str, action: str) -> None:
    """Refuse (`WrongState`) unless `state` is one of `allowed`: where every transition starts."""
    if state not in allowed:
        raise WrongState(what, ref, state.value, action)


def short_text(text: str | None, limit: int) -> str:
    """`text` with its whitespace collapsed; refused (`TextTooLong`) past `limit` characters."""
    text = " ".join((text or "").split())
    if len(text) > limit:
        raise TextTooLong(max=limit)
    return text


def not_int(value: object) -> bool:
    """True for anything but a plain int (a bool is no number of places, points or stars)."""
    return isinstance(value, bool) or not isinstance(value, int)


def running_number(community_code: str, kind: str, year: int, seq: int) -> str:
    """A running number "<code>-<kind>-<year>-<seq>": orders are FW, posts GW."""
    code = community_code.strip().upper()
    if not code or not code.isascii() or not code.isalnum():
        raise ValueError(f"community code must be letters or digits: {community_code!r}")
    if seq < 1:
        raise ValueError("running numbers start at 1")
    return f"{code}-{kind}-{year:04d}-{seq:06d}"
