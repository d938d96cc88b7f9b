"""Services of theme days ("主题党日"): the templates staff define and retire, and the clock's work
(`run_theme_day_jobs`: create, announce, remind, summarise). The rules are in `core.theme_day`."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from core.access import desk_communities
from core.cases import Actor
from core.errors import NotFound
from core.ids import saved_id
from core.notifications import declared
from core.places import Community
from core.points import month_bounds
from core.ports import Database, UnitOfWork
from core.theme_day import (
    Job, JobKind, ThemeDayTemplate, job_key, may_keep_templates, member_month, participation_summary,
    theme_day_for, theme_post, theme_slot,
)
from core.theme_day import due_jobs as theme_due_jobs
from core.volunteering.common import CLAIMABLE_POST, ClaimState
from core.volunteering.common_services import (
    VolunteerPolicy, community_name, display_names, party_members_of, save_events, staff_of, tell,
)
from core.volunteering.posts import Post
from core.volunteering.posts_services import announce_post, new_post_number, reminder_payload
from core.workdays import WorkCalendar

log = logging.getLogger(__name__)


# ---- theme-day templates -------------------------------------------------------------------

async def define_template(uow: UnitOfWork, by: Actor, community_id: int, now: datetime, *,
                          policy: VolunteerPolicy | None = None, **kwargs: Any) -> ThemeDayTemplate:
    """Staff keep a theme-day activity (see core.theme_day.define_template for the arguments).

    Defined after this month's create job ran for the community (the 14th), with this month's
    theme day still ahead, it gets its post at once rather than next month — announced to the
    members too if the announcement (the 21st) has gone out. The job running again cannot make
    a second one: storage keeps (template, theme day) unique.
    """
    from core.theme_day import define_template as define

    policy = policy or VolunteerPolicy(calendar=WorkCalendar())
    template = define(by, community_id, now, **kwargs)
    await uow.volunteering.add_template(template)
    template.pending_events[:] = [replace(e, subject_id=str(template.id)) for e in template.pending_events]
    await save_events(uow, template)
    local = now.astimezone(policy.tz)
    year, month = local.year, local.month
    done = await uow.volunteering.done_keys(f"theme:{year:04d}-{month:02d}:")
    if f"{job_key(year, month, JobKind.CREATE)}:c{community_id}" in done:
        slot = theme_slot(template, theme_day_for(year, month), policy.calendar, policy.tz)
        if slot is not None and slot[0] > now:
            post = await _make_theme_post(uow, policy, template, year, month, now)
            if post is not None and f"{job_key(year, month, JobKind.ANNOUNCE)}:c{community_id}" in done:
                await announce_post(uow, policy, post, now)
    return template


async def theme_templates(uow: UnitOfWork, community_id: int) -> list[ThemeDayTemplate]:
    """The community's active theme-day activities, oldest first (retired ones are kept, not listed)."""
    return list(await uow.volunteering.templates(community_id))


async def template_communities(uow: UnitOfWork, by: Actor) -> list[int]:
    """The communities whose theme-day activities `by` keeps."""
    return await desk_communities(uow, by, "theme.template")


async def theme_desk(uow: UnitOfWork, by: Actor, community_id: int) -> tuple[Community | None, list[ThemeDayTemplate]]:
    """A community's active theme-day activities, for its staff."""
    may_keep_templates(by, community_id)
    return await uow.places.community(community_id), await theme_templates(uow, community_id)


def may_define_template(by: Actor, community_id: int) -> None:
    """Checked when ➕ is pressed, before the dialog asks for anything."""
    may_keep_templates(by, community_id)


async def template_to_retire(uow: UnitOfWork, by: Actor, template_id: int) -> ThemeDayTemplate:
    """🗑 pressed: the template, if `by` may retire it (the press itself changes nothing)."""
    template = await theme_template(uow, template_id)
    may_keep_templates(by, template.community_id)
    return template


async def theme_template(uow: UnitOfWork, template_id: int) -> ThemeDayTemplate:
    template = await uow.volunteering.template(template_id)
    if template is None:
        raise NotFound(what="template")
    return template


async def retire_template(uow: UnitOfWork, by: Actor, template_id: int, now: datetime) -> ThemeDayTemplate:
    """Staff of its community stop an activity: from next month on it makes no post; posts already
    made stay. Retiring a retired one changes nothing and records nothing."""
    from core.theme_day import retire_template as retire

    template = retire(await theme_template(uow, template_id), by, now)
    if template.pending_events:
        await uow.volunteering.save_template(template)
        await save_events(uow, template)
    return template


# ---- the clock -----------------------------------------------------------------------------

def _community_key(job: Job, community_id: int) -> str:
    return f"{job.dedupe_key}:c{community_id}"


async def run_theme_day_jobs(db: Database, policy: VolunteerPolicy, now: datetime) -> list[str]:
    """Run each community's due theme-day jobs, each once: the returned keys are those this call ran.

    Each job is its own transaction holding its work, its notifications and its done key
    ("theme:2026-12:announce:c3"); the key is inserted first, so a second scheduler waits for the
    first (PostgreSQL) and then finds it done, and a crash before commit leaves it to run again.
    """
    factory = db.uow
    local = now.astimezone(policy.tz)
    last = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    async with factory() as uow:
        communities = [saved_id(c) for c in await uow.places.communities()]
        done_all: set[str] = set()
        for y, m in (last, (local.year, local.month)):  # due_jobs looks no further back
            done_all |= await uow.volunteering.done_keys(f"theme:{y:04d}-{m:02d}:")
    ran: list[str] = []
    for community_id in communities:
        done = {k.rsplit(":", 1)[0] for k in done_all if k.endswith(f":c{community_id}")}
        jobs = theme_due_jobs(now, done, policy.schedule, tz=policy.tz, quiet_start=policy.quiet_start,
                              quiet_end=policy.quiet_end)
        for job in jobs:
            key = _community_key(job, community_id)
            try:
                async with factory() as uow:
                    if not await uow.volunteering.mark_done(key, now):
                        continue  # another scheduler ran it meanwhile
                    await _THEME_WORK[job.kind](uow, policy, community_id, job, now)
                    await uow.commit()
            except Exception:  # one community's trouble must not stop the others; next minute tries again
                log.exception("theme day job %s failed; it will be tried again", key)
                continue
            ran.append(key)
            log.info("theme day job %s done", key)
    return ran


async def _make_theme_post(uow: UnitOfWork, policy: VolunteerPolicy, template: ThemeDayTemplate, year: int,
                           month: int, now: datetime) -> Post | None:
    """The template's post for the month's theme day; None when there is none to make or it exists."""
    probe = theme_post(template, year, month, policy.calendar, now, number="X-GW-0000-000001", tz=policy.tz)
    if probe is None:
        return None
    number = await new_post_number(uow, policy, template.community_id, now)
    post = theme_post(template, year, month, policy.calendar, now, number=number, tz=policy.tz)
    assert post is not None
    if not await uow.volunteering.add_post(post, theme_day=theme_day_for(year, month)):
        return None
    await save_events(uow, post)
    return post


async def _theme_create(uow: UnitOfWork, policy: VolunteerPolicy, community_id: int, job: Job, now: datetime) -> None:
    year, month = job.year_month
    for template in await uow.volunteering.templates(community_id):
        await _make_theme_post(uow, policy, template, year, month, now)


async def _theme_announce(uow: UnitOfWork, policy: VolunteerPolicy, community_id: int, job: Job,
                          now: datetime) -> None:
    posts = [p for p in await uow.volunteering.theme_posts(community_id, job.theme_day)
             if p.state in CLAIMABLE_POST]
    members = await party_members_of(uow, community_id)
    if not posts or not members:
        return
    lines = "\n".join(f"· {p.title} {p.starts_at.astimezone(policy.tz):%H:%M}–{p.ends_at.astimezone(policy.tz):%H:%M}"
                      f" ({p.number})" for p in sorted(posts, key=lambda p: (p.starts_at, p.number)))
    community = await community_name(uow, community_id)
    day = job.theme_day
    await uow.broadcasts.start(f"{community} {day.month}月{day.day}日主题党日", members, declared("theme.announce"),
                               {"community": community, "month": day.month, "day": day.day, "posts": lines},
                               None, now=now, not_before=policy.held_until(now))


async def _theme_remind(uow: UnitOfWork, policy: VolunteerPolicy, community_id: int, job: Job, now: datetime) -> None:
    """The day-before reminder of the theme-day posts (send_post_reminders leaves it to this job)."""
    for post in await uow.volunteering.theme_posts(community_id, job.theme_day):
        if post.state not in CLAIMABLE_POST:
            continue
        holders = [c.person_id for c in await uow.volunteering.claims_of_post(post.number)
                   if c.state == ClaimState.CLAIMED]
        await tell(uow, holders, "post.reminder", reminder_payload(policy, post),
                   dedupe=f"post:{post.number}:day_before", not_before=policy.held_until(now))


async def _theme_summary(uow: UnitOfWork, policy: VolunteerPolicy, community_id: int, job: Job,
                         now: datetime) -> None:
    day = job.theme_day
    posts = list(await uow.volunteering.theme_posts(community_id, day))
    claims = list(await uow.volunteering.claims_of_posts([p.number for p in posts]))
    summary = participation_summary(community_id, day, posts, claims, policy.tz)
    later = policy.held_until(now)
    if not summary.posts:
        return  # no theme day was held here this month: nothing to sum up
    named = await display_names(uow, [p.person_id for p in summary.took_part])
    names = "、".join([f"{named[p.person_id]} {p.hours.total_seconds() / 3600:.1f}h"
                      for p in summary.took_part]) or "—"
    await tell(uow, await staff_of(uow, community_id), "theme.summary_staff",
               {"month": day.month, "day": day.day, "posts": summary.posts, "places": summary.places,
                "people": len(summary.took_part), "hours": round(summary.hours.total_seconds() / 3600, 1),
                "names": names, "no_shows": len(summary.no_shows), "unsettled": len(summary.unsettled)},
               dedupe=f"{job.dedupe_key}:c{community_id}:staff", not_before=later)
    year, month = job.year_month
    start, end = month_bounds(year, month, policy.tz)
    month_claims = list(await uow.volunteering.claims_in_community(community_id, start, end))
    entries = list(await uow.volunteering.points_between(community_id, start, end))
    balances = await uow.volunteering.balances(community_id)
    for member in await party_members_of(uow, community_id):
        mine = member_month(member, community_id, year, month, [cp for cp in month_claims if cp[0].person_id == member],
                            [e for e in entries if e.person_id == member], policy.tz)
        mine = replace(mine, balance=balances.get(member, 0))
        await tell(uow, [member], "theme.summary_member",
                   {"month": month, "services": mine.services, "theme_days": mine.theme_days,
                    "hours": round(mine.hours.total_seconds() / 3600, 1), "no_shows": mine.no_shows,
                    "points": mine.points_earned, "balance": mine.balance},
                   dedupe=f"{job.dedupe_key}:member", not_before=later)


_THEME_WORK = {JobKind.CREATE: _theme_create, JobKind.ANNOUNCE: _theme_announce, JobKind.REMIND: _theme_remind,
               JobKind.SUMMARY: _theme_summary}
