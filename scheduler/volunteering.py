"""Volunteering's clock: every minute, the theme day's monthly jobs, post reminders, ended posts.

Like scheduler/sla.py the state is in the database: theme-day jobs and post reminders insert a
done key in the transaction of their work, and every notification has a dedupe key, so a missed
minute, a restart, a second process or a bot that was down over the 21st does each thing once.
"""

from __future__ import annotations

import logging

from core.clock import Clock
from core.theme_day_services import run_theme_day_jobs
from core.volunteering.common_services import VolunteerPolicy
from core.volunteering.posts_services import complete_ended_posts, send_post_reminders
from storage.uow import Database

log = logging.getLogger(__name__)


async def volunteering_tick(db: Database, policy: VolunteerPolicy, clock: Clock) -> dict[str, object]:
    """One minute's work; returns what it did (for logs and tests)."""
    now = clock.now()
    ran = await run_theme_day_jobs(db, policy, now)
    async with db.uow() as uow:
        reminders = await send_post_reminders(uow, policy, now)
        await uow.commit()
    async with db.uow() as uow:
        completed = await complete_ended_posts(uow, now)
        await uow.commit()
    result = {"theme_jobs": ran, "reminders": reminders, "completed": completed}
    if ran or reminders or completed:
        log.info("volunteering: %s", result)
    return result
