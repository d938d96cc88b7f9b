"""What the volunteering services share: the community's policy (`VolunteerPolicy`), telling people
through the outbox, names, events, the race-retry count.

Each service loads what it needs through the unit of work, applies one transition from the rules
beside it (which check who may and record the events), saves, and asks the outbox to tell the
people concerned — all in the caller's transaction; the caller commits. A DomainError leaves the
caller to roll back.

Race safety: a post is saved with a check on the version it was loaded with
(`uow.volunteering.save_post` raises `StaleWrite` when another unit of work changed it first).
`claim_post` and `withdraw_claim` write the post before anything else, so on a lost race there is
nothing of theirs to undo: they reload and decide again (the loser of the last place is told
"post.full"). Points keep a balance row updated with `balance + delta >= 0` in the WHERE clause.

Moments in payloads are ISO timestamps in UTC (`iso`) under keys ending in `_at`; the bot words
them in each reader's language.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import Any, Mapping, Protocol, Sequence
from zoneinfo import ZoneInfo

from core.errors import NotFound
from core.events import Event
from core.ids import saved_id
from core.limits import LimitPolicy
from core.notifications import Notification, declared
from core.people import Role
from core.points import DEFAULT_REPORT_POINTS
from core.ports import UnitOfWork
from core.theme_day import DEFAULT_SCHEDULE, ThemeDaySchedule
from core.volunteering import common as rules
from core.volunteering.posts import next_allowed_moment
from core.workdays import WorkCalendar

log = logging.getLogger(__name__)

RACE_RETRIES = 5


class PointsTable(Protocol):
    """What `credit_report` reads of a policy (VolunteerPolicy, reporting's ReportPolicy): points per category."""

    @property
    def report_points(self) -> Mapping[str, int]: ...


@dataclass(frozen=True)
class VolunteerPolicy:
    """The community's volunteering rules; settings fill it in (`volunteer_policy(settings)`)."""

    calendar: WorkCalendar
    withdraw_cutoff: timedelta = rules.DEFAULT_WITHDRAW_CUTOFF
    no_show_limit: int = rules.DEFAULT_NO_SHOW_LIMIT
    quiet_start: time = rules.QUIET_START
    quiet_end: time = rules.QUIET_END
    report_points: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_REPORT_POINTS))
    schedule: ThemeDaySchedule = DEFAULT_SCHEDULE
    limits: LimitPolicy | None = None        # orders per day (None: no limit but suspension)

    @property
    def tz(self) -> ZoneInfo:
        return self.calendar.tz

    def allowed(self, now: datetime) -> datetime:
        """`now`, or the end of quiet hours when `now` is inside them."""
        return next_allowed_moment(now, self.quiet_start, self.quiet_end, self.tz)

    def held_until(self, now: datetime) -> datetime | None:
        """When a notice made at `now` goes out: None for at once, else the end of the quiet hours
        (so whoever caused it can be told "at 07:00", not "told")."""
        moment = self.allowed(now)
        return None if moment == now.astimezone(self.tz) else moment


def iso(moment: datetime) -> str:
    """How payloads carry a moment: an ISO timestamp in UTC (JSON has no datetimes). The bot words it
    in the reader's language and time zone (bot/rendering/notifications.py), so the key ends in `_at`."""
    return moment.astimezone(timezone.utc).isoformat()


async def tell(uow: UnitOfWork, people: Sequence[int], kind: str, payload: dict[str, Any],
               dedupe: str | None = None, not_before: datetime | None = None) -> int:
    """One notification per person (duplicates dropped); `dedupe` + person id makes its key."""
    declared(kind)
    notes = [Notification(p, kind, dict(payload), f"{dedupe}:{p}" if dedupe else None, None, not_before)
             for p in dict.fromkeys(people)]
    for note in notes:
        await uow.outbox.add(note)
    return len(notes)


async def staff_of(uow: UnitOfWork, community_id: int) -> list[int]:
    """The ids of the community's staff: who is told of new orders, registrations and services to confirm."""
    return [saved_id(p) for p in await uow.people.with_role(Role.STAFF, community_id)]


async def party_members_of(uow: UnitOfWork, community_id: int) -> list[int]:
    """The ids of the community's approved party members: who is told of a new post."""
    return [saved_id(p) for p in await uow.people.with_role(Role.PARTY_MEMBER, community_id)]


async def display_name(uow: UnitOfWork, person_id: int) -> str:
    """One person's display name (their number once they are removed)."""
    return (await display_names(uow, [person_id]))[person_id]


async def display_names(uow: UnitOfWork, person_ids: Sequence[int]) -> dict[int, str]:
    """Display names in one query; someone since removed shows as their number."""
    found = await uow.people.display_names(person_ids)
    return {p: found.get(p, str(p)) for p in person_ids}


class _Recording(Protocol):
    """An entity whose transitions record events until they are saved (a post, claim, order, template …)."""

    pending_events: list[Event]


async def save_events(uow: UnitOfWork, obj: _Recording) -> None:
    """Save the events an entity's transitions recorded, and clear them from it."""
    for event in obj.pending_events:
        await uow.events.add(event)
    obj.pending_events.clear()


async def community_code(uow: UnitOfWork, community_id: int) -> str:
    """The community's code that starts its running numbers ("DC" in DC-GW-2026-000001)."""
    community = await uow.places.community(community_id)
    if community is None:
        raise NotFound(what="community")
    return community.code


async def community_name(uow: UnitOfWork, community_id: int) -> str:
    """The community's name for a message (its id if it is gone)."""
    community = await uow.places.community(community_id)
    return community.name if community else str(community_id)
