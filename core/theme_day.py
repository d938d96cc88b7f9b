"""The theme day (主题党日): party members serve in their home community on the 28th.

Fengtai's notice asks in-service party members to come to the community where they
registered "每月28日", together with the theme day, for policy talks, volunteer service and
local governance, and counts 3,220 members taking part "八小时外" — outside their working
hours. The scheduler turns each community's templates into that month's posts, announces
them, reminds those who claimed, and sums up who took part.

The date rule (decided here):

* **The theme day is always the 28th**, whatever day of the week, holiday or not. "每月28日"
  is the date every poster, work unit and member knows; moving it would make people come on
  the wrong day. In-service members come outside their working hours, so a weekend or a
  holiday is no obstacle — it is when most of them are free.
* What the calendar changes is the *time of day* (`theme_slot`): on a working day (swapped
  weekend workdays 调休 included, e.g. Saturday 2026-02-28) an activity starts after work,
  at the template's `workday_starts` (18:30 by default); on a rest day or a holiday it starts
  at `rest_day_starts` (09:00). A template with `workday_starts=None` (an outdoor clean-up
  that needs daylight) is skipped in months whose 28th is a working day. `day_kind` tells the
  announcement which case it is, so members read "周六" or "春节假期" with the posts.
* Every month has a 28th, so the rule needs no month-end special case.

The monthly jobs (`monthly_jobs`, times in China time, days set by `ThemeDaySchedule`):

    create    the 14th 09:00   make the posts (staff have a week to adjust them)
    announce  the 21st 09:00   tell the community's registered party members
    remind    the 27th 19:00   remind those holding a place
    summary   the day after the theme day, 09:00: the 29th — and in February the 1st of
              March, which is both the "29th" of non-leap years and the day after the 28th
              in every year (leap-year February: the 29th, as other months)

Each job has a dedupe key ("theme:2026-12:announce") named after the theme day's month, not
the day it runs, so February's summary running on 1 March is still "theme:2026-02:summary".
`due_jobs(now, done_keys)` returns the jobs whose moment has come and whose key is not done,
including those missed while the bot was down, in the order they were due. A job goes stale
(is no longer returned) when it has lost its point: the create, announce and remind jobs at
the end of the theme day, the summary a week after it was due. Jobs that tell people
(announce, remind, summary) wait while quiet hours last (22:00–07:00).

What storage must do so a job runs at most once: do the job's work, its outbox
notifications (each with its own dedupe key) and the insert of its dedupe key into a
done-jobs table with a unique key in one transaction. A second scheduler, or a restart in
the middle, then either finds the key done or rolls back and tries again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Collection, Sequence
from zoneinfo import ZoneInfo

from core.cases import Actor
from core.errors import NotAllowed
from core.events import Event
from core.points import PointsEntry, earned_between, month_bounds
from core.points import balance as points_balance
from core.volunteering.attendance import hours_served
from core.volunteering.common import (
    BadPost, ClaimState, MAX_CAPACITY, MAX_PLACE, MAX_POINTS_PER_PERSON, MAX_SHORT_TEXT, PostState,
    QUIET_END, QUIET_START,
)
from core.volunteering.posts import Claim, Post, create_post, next_allowed_moment
from core.workdays import CHINA_TZ, WorkCalendar

THEME_DAY = 28
SUMMARY_GRACE = timedelta(days=7)    # a summary later than this is no longer sent


class ThemeActivity(str, enum.Enum):
    POLICY_TALK = "policy_talk"              # 政策宣讲
    CLEAN_UP = "clean_up"                    # 环境整治 / 义务清扫
    VISIT_ELDERLY = "visit_elderly"          # 走访慰问
    VOLUNTEER_SERVICE = "volunteer_service"  # 志愿服务
    GOVERNANCE = "governance"                # 综合治理 (文明创建, 平安巡逻 …)
    OTHER = "other"


class DayKind(str, enum.Enum):
    WORKDAY = "workday"      # a working day, swapped weekend workdays included
    REST_DAY = "rest_day"    # a Saturday or Sunday off
    HOLIDAY = "holiday"      # a weekday off for a public holiday


class JobKind(str, enum.Enum):
    CREATE = "create"
    ANNOUNCE = "announce"
    REMIND = "remind"
    SUMMARY = "summary"


TELLS_PEOPLE = frozenset({JobKind.ANNOUNCE, JobKind.REMIND, JobKind.SUMMARY})


# --- the day -----------------------------------------------------------------------------


def theme_day_for(year: int, month: int, calendar: WorkCalendar | None = None) -> date:
    """The month's theme day: always the 28th (see the module's rule).

    The calendar does not move the day; it only decides the time of day (`theme_slot`).
    It is accepted here so callers ask one function whatever the rule becomes.
    """
    return date(year, month, THEME_DAY)


def day_kind(day: date, calendar: WorkCalendar) -> DayKind:
    if calendar.is_workday(day):
        return DayKind.WORKDAY
    return DayKind.REST_DAY if day.weekday() >= 5 else DayKind.HOLIDAY


# --- templates ---------------------------------------------------------------------------


@dataclass
class ThemeDayTemplate:
    """One activity a community holds every theme day: what, where, how many, when."""

    id: int | None
    community_id: int
    title: str
    activity: ThemeActivity
    place: str
    capacity: int
    points_per_person: int
    duration: timedelta = timedelta(hours=2)
    rest_day_starts: time = time(9, 0)
    workday_starts: time | None = time(18, 30)   # None: not held when the 28th is a working day
    skills: tuple[str, ...] = ()
    active: bool = True
    pending_events: list[Event] = field(default_factory=list, compare=False, repr=False)

    def record(self, kind: str, at: datetime, actor_id: int | None,
               before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> Event:
        event = Event("theme_template", str(self.id), kind, at, actor_id, before, after)
        self.pending_events.append(event)
        return event

    def view(self) -> dict[str, Any]:
        return {"title": self.title, "activity": self.activity.value, "place": self.place,
                "capacity": self.capacity, "points_per_person": self.points_per_person,
                "duration_min": int(self.duration.total_seconds() // 60),
                "rest_day_starts": self.rest_day_starts.isoformat(),
                "workday_starts": self.workday_starts.isoformat() if self.workday_starts else None,
                "active": self.active}


def may_keep_templates(by: Actor, community_id: int) -> None:
    """Staff of the community (or an admin) keep its theme-day activities."""
    if not by.roles.is_staff_of(community_id):
        raise NotAllowed(action="theme.template")


def define_template(by: Actor, community_id: int, now: datetime, *, title: str, activity: ThemeActivity,
                    place: str, capacity: int, points_per_person: int,
                    duration: timedelta = timedelta(hours=2), rest_day_starts: time = time(9, 0),
                    workday_starts: time | None = time(18, 30), skills: Sequence[str] = ()) -> ThemeDayTemplate:
    """Staff of the community keep a theme-day activity; the scheduler makes its post each month."""
    may_keep_templates(by, community_id)
    template = ThemeDayTemplate(None, community_id, " ".join(title.split()), ThemeActivity(activity),
                                " ".join(place.split()), capacity, points_per_person, duration,
                                rest_day_starts, workday_starts, tuple(skills))
    _check_template(template)
    template.record("theme_template_defined", now, by.person_id, None, template.view())
    return template


def retire_template(template: ThemeDayTemplate, by: Actor, now: datetime) -> ThemeDayTemplate:
    """Staff stop an activity; posts already made stay. Twice is once."""
    may_keep_templates(by, template.community_id)
    if template.active:
        before = template.view()
        template.active = False
        template.record("theme_template_retired", now, by.person_id, before, template.view())
    return template


def _check_template(t: ThemeDayTemplate) -> None:
    if not t.title or len(t.title) > MAX_SHORT_TEXT:
        raise BadPost(why="title")
    if not t.place or len(t.place) > MAX_PLACE:
        raise BadPost(why="place")
    if isinstance(t.capacity, bool) or not isinstance(t.capacity, int) or not 1 <= t.capacity <= MAX_CAPACITY:
        raise BadPost(why="capacity", max=MAX_CAPACITY)
    if isinstance(t.points_per_person, bool) or not isinstance(t.points_per_person, int) \
            or not 0 <= t.points_per_person <= MAX_POINTS_PER_PERSON:
        raise BadPost(why="points", max=MAX_POINTS_PER_PERSON)
    if not timedelta(minutes=15) <= t.duration <= timedelta(hours=12):
        raise BadPost(why="times")


def theme_slot(template: ThemeDayTemplate, day: date, calendar: WorkCalendar,
               tz: ZoneInfo = CHINA_TZ) -> tuple[datetime, datetime] | None:
    """When the activity runs on `day`: after work on a working day, in the morning otherwise.

    None when the template is not held on a working day and `day` is one.
    """
    starts = template.workday_starts if day_kind(day, calendar) == DayKind.WORKDAY else template.rest_day_starts
    if starts is None:
        return None
    begin = datetime.combine(day, starts, tzinfo=tz)
    return begin, begin + template.duration


def theme_post(template: ThemeDayTemplate, year: int, month: int, calendar: WorkCalendar, now: datetime, *,
               number: str, tz: ZoneInfo = CHINA_TZ) -> Post | None:
    """The scheduler's post for this template and month, or None when there is none to make.

    None: the template is retired, skipped on a working day, or its slot has already ended
    (the bot came back too late). Storage keeps (template_id, theme day) unique, so a job
    run twice cannot make two posts.
    """
    if not template.active:
        return None
    slot = theme_slot(template, theme_day_for(year, month, calendar), calendar, tz)
    if slot is None or slot[1] <= now:
        return None
    return create_post(None, template.community_id, now, number=number, title=template.title,
                       starts_at=slot[0], ends_at=slot[1], place=template.place, capacity=template.capacity,
                       points_per_person=template.points_per_person, skills=template.skills,
                       template_id=template.id)


# --- the scheduler's jobs ----------------------------------------------------------------


@dataclass(frozen=True)
class ThemeDaySchedule:
    """Which day of the month each job runs, and at what time (China time)."""

    create_day: int = 14
    announce_day: int = 21
    remind_day: int = 27
    create_at: time = time(9, 0)
    announce_at: time = time(9, 0)
    remind_at: time = time(19, 0)
    summary_at: time = time(9, 0)

    def __post_init__(self) -> None:
        if not 1 <= self.create_day <= self.announce_day <= self.remind_day < THEME_DAY:
            raise ValueError("need 1 <= create_day <= announce_day <= remind_day < 28")


DEFAULT_SCHEDULE = ThemeDaySchedule()


@dataclass(frozen=True)
class Job:
    kind: JobKind
    due_at: datetime
    dedupe_key: str          # "theme:2026-12:announce": the job runs at most once per key
    theme_day: date
    stale_at: datetime       # after this the job is no longer worth running

    @property
    def year_month(self) -> tuple[int, int]:
        return self.theme_day.year, self.theme_day.month


def job_key(year: int, month: int, kind: JobKind) -> str:
    return f"theme:{year:04d}-{month:02d}:{JobKind(kind).value}"


def monthly_jobs(year: int, month: int, schedule: ThemeDaySchedule = DEFAULT_SCHEDULE,
                 tz: ZoneInfo = CHINA_TZ) -> list[Job]:
    """The four jobs of one month's theme day, in the order they fall due."""
    day = theme_day_for(year, month)
    day_over = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=tz)

    def at(d: int, t: time) -> datetime:
        return datetime.combine(date(year, month, d), t, tzinfo=tz)

    summary_due = datetime.combine(day + timedelta(days=1), schedule.summary_at, tzinfo=tz)
    return [
        Job(JobKind.CREATE, at(schedule.create_day, schedule.create_at), job_key(year, month, JobKind.CREATE),
            day, day_over),
        Job(JobKind.ANNOUNCE, at(schedule.announce_day, schedule.announce_at),
            job_key(year, month, JobKind.ANNOUNCE), day, day_over),
        Job(JobKind.REMIND, at(schedule.remind_day, schedule.remind_at), job_key(year, month, JobKind.REMIND),
            day, day_over),
        Job(JobKind.SUMMARY, summary_due, job_key(year, month, JobKind.SUMMARY), day, summary_due + SUMMARY_GRACE),
    ]


def due_jobs(now: datetime, done_keys: Collection[str], schedule: ThemeDaySchedule = DEFAULT_SCHEDULE, *,
             tz: ZoneInfo = CHINA_TZ, quiet_start: time | None = QUIET_START,
             quiet_end: time | None = QUIET_END) -> list[Job]:
    """The jobs to run now: due, not stale, not done; missed ones included, oldest first.

    Looks at this month's and last month's theme day (no job is worth running later than
    that). Jobs that tell people are held back during quiet hours (`quiet_start=None`: no
    quiet hours).
    """
    if now.tzinfo is None:
        raise ValueError("due_jobs needs an aware datetime")
    local = now.astimezone(tz)
    this = (local.year, local.month)
    last = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    quiet = (quiet_start is not None and quiet_end is not None
             and next_allowed_moment(local, quiet_start, quiet_end, tz) != local)
    due = [job for y, m in (last, this) for job in monthly_jobs(y, m, schedule, tz)
           if job.due_at <= now < job.stale_at and job.dedupe_key not in done_keys
           and not (quiet and job.kind in TELLS_PEOPLE)]
    return sorted(due, key=lambda j: (j.due_at, list(JobKind).index(j.kind)))


# --- who took part ------------------------------------------------------------------------


@dataclass(frozen=True)
class Participant:
    person_id: int
    posts: int               # theme-day posts they served on (checked in)
    hours: timedelta


@dataclass(frozen=True)
class ParticipationSummary:
    """What staff receive the day after the theme day, for one community."""

    community_id: int
    theme_day: date
    posts: int
    places: int
    took_part: list[Participant]     # most hours first
    no_shows: list[int]
    unsettled: list[int]             # still "claimed" after the day: staff should confirm or mark

    @property
    def hours(self) -> timedelta:
        return sum((p.hours for p in self.took_part), timedelta(0))


SERVED = frozenset({ClaimState.CHECKED_IN, ClaimState.CHECKED_OUT, ClaimState.CONFIRMED})


def participation_summary(community_id: int, day: date, posts: Sequence[Post], claims: Sequence[Claim],
                          tz: ZoneInfo = CHINA_TZ) -> ParticipationSummary:
    """Who took part in the community's theme day, their hours, and who did not come.

    `posts` may be all of the community's posts: only theme-day posts of `day` that were not
    cancelled count. Hours are those fixed at confirmation, else computed from check-in/out.
    """
    theme = {p.number: p for p in posts
             if p.community_id == community_id and p.is_theme_day and p.local_day(tz) == day
             and p.state != PostState.CANCELLED}
    served: dict[int, list[timedelta]] = {}
    no_shows: list[int] = []
    unsettled: list[int] = []
    for c in claims:
        post = theme.get(c.post_number)
        if post is None:
            continue
        if c.state in SERVED:
            served.setdefault(c.person_id, []).append(c.served if c.served is not None else hours_served(c, post))
        elif c.state == ClaimState.NO_SHOW:
            no_shows.append(c.person_id)
        elif c.state == ClaimState.CLAIMED:
            unsettled.append(c.person_id)
    took_part = [Participant(person, len(h), sum(h, timedelta(0))) for person, h in served.items()]
    took_part.sort(key=lambda p: (-p.hours, p.person_id))
    return ParticipationSummary(community_id, day, len(theme), sum(p.capacity for p in theme.values()),
                                took_part, sorted(set(no_shows)), sorted(set(unsettled)))


@dataclass(frozen=True)
class MemberMonth:
    """What each member receives with the summary: their own month, all posts included."""

    person_id: int
    year: int
    month: int
    services: int            # posts served (checked in), theme day or not
    theme_days: int          # of those, theme-day posts
    hours: timedelta
    no_shows: int
    points_earned: int       # this month, in this community
    balance: int             # now, in this community


def member_month(person_id: int, community_id: int, year: int, month: int,
                 claims: Sequence[tuple[Claim, Post]], entries: Sequence[PointsEntry],
                 tz: ZoneInfo = CHINA_TZ) -> MemberMonth:
    """The member's month in the community: posts that started in it, points earned in it."""
    start, end = month_bounds(year, month, tz)
    services = theme_days = no_shows = 0
    hours = timedelta(0)
    for c, post in claims:
        if c.person_id != person_id or post.community_id != community_id or not start <= post.starts_at < end:
            continue
        if c.state in SERVED:
            services += 1
            theme_days += post.is_theme_day
            hours += c.served if c.served is not None else hours_served(c, post)
        elif c.state == ClaimState.NO_SHOW:
            no_shows += 1
    return MemberMonth(person_id, year, month, services, theme_days, hours, no_shows,
                       earned_between(entries, person_id, start, end, community_id),
                       points_balance(entries, person_id, community_id))

