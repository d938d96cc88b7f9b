"""Abuse limits: how much one person may report and order, and staff suspending someone's reporting.

The figures come from settings (`LimitPolicy`); the counts from storage. A refusal is a polite text
key like any other (core.errors), so every channel answers the same way. Messages per minute are a
channel's own limit (bot/limits.py for Telegram): counting them needs no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.cases import Actor
from core.errors import DomainError, NotAllowed
from core.events import Event
from core.people import Role, RoleGrant

MAX_REASON = 200


@dataclass(frozen=True)
class LimitPolicy:
    reports_per_hour: int = 5
    reports_per_day: int = 20
    orders_per_day: int = 5
    messages_per_minute: int = 30      # the channel's limit (an album counts one per photo)


class ReportLimitReached(DomainError):
    """params: limit, per ("hour" / "day"); the text key names the window."""

    key = "limits.reports_hour"

    def __init__(self, *, limit: int, per: str) -> None:
        self.key = f"limits.reports_{per}"
        super().__init__(limit=limit, per=per)


class OrderLimitReached(DomainError):
    """params: limit."""

    key = "limits.orders"


class ReportingSuspended(DomainError):
    """params: reason."""

    key = "limits.suspended"


class ReasonRequired(DomainError):
    key = "limits.reason_required"


class NotSuspended(DomainError):
    key = "limits.not_suspended"


@dataclass(frozen=True)
class Suspension:
    """`person_id` may not report (nor join, nor order) until staff restore them."""

    person_id: int
    reason: str
    suspended_by: int
    since: datetime


HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def check_report_counts(policy: LimitPolicy, last_hour: int, last_day: int) -> None:
    """A new report after `last_hour` reports in the last hour and `last_day` in the last 24 hours."""
    if last_hour >= policy.reports_per_hour:
        raise ReportLimitReached(limit=policy.reports_per_hour, per="hour")
    if last_day >= policy.reports_per_day:
        raise ReportLimitReached(limit=policy.reports_per_day, per="day")


def check_order_count(policy: LimitPolicy, last_day: int) -> None:
    if last_day >= policy.orders_per_day:
        raise OrderLimitReached(limit=policy.orders_per_day)


def check_not_suspended(suspension: Suspension | None) -> None:
    if suspension is not None:
        raise ReportingSuspended(reason=suspension.reason)


def may_suspend(by: Actor, person_grants: list[RoleGrant]) -> None:
    """Staff of a community the person lives in (an administrator anywhere) may suspend or restore
    their reporting; nobody else, and nobody their own."""
    communities = {g.community_id for g in person_grants
                   if g.active and g.role == Role.RESIDENT and g.community_id is not None}
    if by.roles.is_admin:
        return
    if not any(by.roles.is_staff_of(c) for c in communities):
        raise NotAllowed(action="limits.suspend")


def suspend(by: Actor, person_id: int, person_grants: list[RoleGrant], reason: str,
            now: datetime) -> tuple[Suspension, Event]:
    may_suspend(by, person_grants)
    if by.person_id == person_id:
        raise NotAllowed(action="limits.suspend")
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    reason = reason[:MAX_REASON]
    suspension = Suspension(person_id, reason, by.person_id, now)
    return suspension, Event("person", str(person_id), "reporting_suspended", now, by.person_id,
                             {"suspended": False}, {"suspended": True, "reason": reason})


def restore(by: Actor, suspension: Suspension | None, person_id: int, person_grants: list[RoleGrant],
            reason: str, now: datetime) -> Event:
    may_suspend(by, person_grants)
    if suspension is None:
        raise NotSuspended()
    reason = (reason or "").strip()[:MAX_REASON]
    return Event("person", str(person_id), "reporting_restored", now, by.person_id,
                 {"suspended": True, "reason": suspension.reason}, {"suspended": False, "reason": reason})
