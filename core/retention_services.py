"""Retention as a service: the daily job's domain part (scheduler/retention.py runs it and then
removes the files nothing names any more)."""

from __future__ import annotations

from datetime import datetime

from core import retention as rules
from core.ports import UnitOfWork
from core.retention import RetentionPolicy


async def expire_case_photos(uow: UnitOfWork, policy: RetentionPolicy, now: datetime,
                             limit: int = 500) -> list[str]:
    """Forget the photos of finished cases closed more than `policy.photo_days` ago (at most `limit`
    cases a call); the numbers of the cases whose photos went."""
    closed_before = policy.photos_closed_before(now)
    done = []
    for case in await uow.cases.finished_with_photos(closed_before, limit):
        rules.forget_photos(case, now, closed_before)
        await uow.cases.forget_photos(case)
        if case.id is not None:  # its voice notes go with its photos (their files: scheduler/retention.py)
            await uow.voice_notes.erase_of_case(case.id)
        done.append(case.number)
    return done
