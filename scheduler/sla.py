"""The report loop's clock: every minute, tell whoever must hear that time has passed.

The state (deadlines, half-time moments, reminders already queued) lives in the database and every
reminder carries a dedupe key, so a missed minute, a restart or a second run says nothing twice.
"""

from __future__ import annotations

import logging

from core.clock import Clock
from core.cases_services import ReportPolicy, sweep
from storage.uow import Database

log = logging.getLogger(__name__)


async def sweep_reports(db: Database, policy: ReportPolicy, clock: Clock) -> dict[str, int]:
    async with db.uow() as uow:
        counts = await sweep(uow, policy, clock.now())
        await uow.commit()
    if any(counts.values()):
        log.info("report sweep: %s", counts)
    return counts
