"""Minimum disclosure, as services: what a viewer is shown of a reporter or of a list of people, with
the audit entry written in the same transaction when the viewer is staff (core/disclosure.py).

Renderers of every channel ask `show_reporter` / `shown_people` and print what they get; they never
look at a phone number themselves. The administrator reads the log with `audit_entries`
(`redgrid audit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Iterable, Sequence

from core.cases import Actor, Case
from core.disclosure import AuditEntry, Shown, is_audited, mask_phone, reporter_disclosure, shown_phone
from core.people import Person, Roles
from core.ports import UnitOfWork


@dataclass(frozen=True)
class ReporterShown:
    """A case's reporter as one viewer may see them: `name`/`phone` None when not to be shown."""

    shown: Shown
    name: str | None = None
    phone: str | None = None


async def viewer(uow: UnitOfWork, person: Person) -> Actor:
    """The person as a viewer, with the roles that decide what they may see (for a renderer that has
    only the recipient of a notification)."""
    assert person.id is not None
    return Actor(person.id, Roles(list(await uow.people.grants(person.id))))


async def show_reporter(uow: UnitOfWork, case: Case, by: Actor, now: datetime, *, what: str = "case.reporter",
                        audit: bool = True) -> ReporterShown:
    """How `case`'s reporter is shown to `by`; a look by staff is audited (unless `audit` is False:
    the caller recorded it already, as for a notification written when it was queued)."""
    shown = reporter_disclosure(case, by)
    if shown in (Shown.ANONYMOUS, Shown.HIDDEN):
        return ReporterShown(shown)
    person = await uow.people.get(case.reporter_id)
    if person is None:
        return ReporterShown(Shown.HIDDEN)
    if audit and is_audited(shown, by, case.reporter_id):
        await uow.audit.add([AuditEntry(now, by.person_id, case.reporter_id, what, case.number)])
    return ReporterShown(shown, person.display_name, shown_phone(person.phone, shown))


async def record_views(uow: UnitOfWork, viewer_ids: Iterable[int], person_ids: Iterable[int], what: str,
                       subject: str, now: datetime) -> None:
    """Staff `viewer_ids` were shown data of `person_ids` (a list, a notification): one entry each."""
    people = list(dict.fromkeys(person_ids))
    await uow.audit.add([AuditEntry(now, v, p, what, subject)
                         for v in dict.fromkeys(viewer_ids) for p in people if p != v])


def listed_phone(person: Person) -> str | None:
    """A phone in a staff list: always masked (a list is for choosing, not for calling)."""
    return mask_phone(person.phone)


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The community's calendar day as [start, end) moments."""
    start = datetime.combine(day, time(0), tz)
    return start, start + timedelta(days=1)


async def audit_entries(uow: UnitOfWork, *, person_id: int | None = None, day: date | None = None,
                        tz: tzinfo | None = None, limit: int = 1000) -> Sequence[AuditEntry]:
    """The audit log, oldest first: every look, or those at `person_id`'s data, or on `day` (in `tz`)."""
    since = until = None
    if day is not None:
        assert tz is not None, "a day needs the community's time zone"
        since, until = day_bounds(day, tz)
    return await uow.audit.entries(person_id=person_id, since=since, until=until, limit=limit)
