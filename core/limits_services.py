"""Abuse limits as services: may this person report or order now; staff suspend and restore reporting.

`may_report` is asked when a report dialog opens (so nobody photographs a problem to be refused at the
end) and again by `report_problem` and `join_same_problem`; `check_order_limit` by `order_service`.
Suspending and restoring are commands with a permission check and an event, and the person is told
through the outbox.
"""

from __future__ import annotations

from datetime import datetime

from core import limits as rules
from core.cases import Actor
from core.access import require_staff_of
from core.errors import NotFound
from core.limits import LimitPolicy, Suspension
from core.notifications import Notification
from core.ports import UnitOfWork


async def may_report(uow: UnitOfWork, policy: LimitPolicy | None, by: Actor, now: datetime) -> None:
    """Refused (politely) while reporting is suspended or the hour's or the day's reports are used up.
    No policy: suspensions only (a caller with no figures, such as an import)."""
    rules.check_not_suspended(await uow.limits.suspension(by.person_id))
    if policy is None:
        return
    last_hour = await uow.limits.reports_since(by.person_id, now - rules.HOUR)
    last_day = await uow.limits.reports_since(by.person_id, now - rules.DAY) if last_hour < policy.reports_per_hour \
        else last_hour
    rules.check_report_counts(policy, last_hour, last_day)


async def check_order_limit(uow: UnitOfWork, policy: LimitPolicy | None, by: Actor, now: datetime) -> None:
    rules.check_not_suspended(await uow.limits.suspension(by.person_id))
    if policy is not None:
        rules.check_order_count(policy, await uow.limits.orders_since(by.person_id, now - rules.DAY))


async def suspend_reporting(uow: UnitOfWork, by: Actor, person_id: int, reason: str, now: datetime) -> Suspension:
    """Staff of the person's community stop their reporting, with a reason the person is told."""
    if await uow.people.get(person_id) is None:
        raise NotFound(what="person")
    grants = list(await uow.people.grants(person_id))
    suspension, event = rules.suspend(by, person_id, grants, reason, now)
    await uow.limits.suspend(suspension)
    await uow.events.add(event)
    await uow.outbox.add(Notification(person_id, "limits.suspended_for_you", {"reason": suspension.reason},
                                      dedupe_key=f"limits:suspended:{person_id}:{now.isoformat()}"))
    return suspension


async def restore_reporting(uow: UnitOfWork, by: Actor, person_id: int, now: datetime, reason: str = "") -> None:
    """Staff lift the suspension; the person is told they may report again."""
    grants = list(await uow.people.grants(person_id))
    event = rules.restore(by, await uow.limits.suspension(person_id), person_id, grants, reason, now)
    await uow.limits.lift(person_id)
    await uow.events.add(event)
    await uow.outbox.add(Notification(person_id, "limits.restored_for_you", {},
                                      dedupe_key=f"limits:restored:{person_id}:{now.isoformat()}"))


async def _reporter_for_staff(uow: UnitOfWork, by: Actor, number: str) -> int:
    """The reporter of case `number`, for staff of its community (refused before anything is said)."""
    case = await uow.cases.by_number(number)
    if case is None:
        raise NotFound(what="case")
    require_staff_of(by, case.community_id, "limits.suspend")
    return case.reporter_id


async def suspend_reporter(uow: UnitOfWork, by: Actor, number: str, reason: str, now: datetime) -> Suspension:
    """Staff name a case and a reason: its reporter's reporting is suspended (staff know cases, not ids)."""
    return await suspend_reporting(uow, by, await _reporter_for_staff(uow, by, number), reason, now)


async def restore_reporter(uow: UnitOfWork, by: Actor, number: str, now: datetime, reason: str = "") -> None:
    await restore_reporting(uow, by, await _reporter_for_staff(uow, by, number), now, reason)
