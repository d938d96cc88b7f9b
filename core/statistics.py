"""What the communities measure (their dashboard, the monthly Excel, `/stats` in chat): the figures,
the place and period they are counted for, and how each figure is defined.

The figures are counted by the database (storage/statistics.py implements `core.ports.StatisticsQueries`),
never by loading the rows; core says what to count and who may see which place
(core/statistics_services.py). Every definition is here, once:

Reports (place: community, compound or grid; period: [start, end))
    received          cases reported in the period (merged duplicates included: each was a report)
    closed            cases closed as fixed in the period (confirmed, or accepted by silence);
                      a case rejected as not a problem or merged is not "closed" here
    one-time closure  closed cases that never went back for rework (rework_count = 0) / closed
    on-time closure   closed cases whose last fix came by the deadline (resolved_at <= deadline) / closed
    time to close     closed_at − created_at of the closed cases: median and 90th percentile,
                      interpolated between the two nearest ranks (PostgreSQL's percentile_cont)
    rework            times a resident sent a fix back in the period (👎, or 🔁 after a silent close)
    escalations       times a case was escalated to a department in the period
    satisfaction      of the closed cases that got stars: the share of 4–5 stars, and the mean
    open now          cases still open at `now` (whatever their period), and of them overdue now

Volunteering and points (a community's, as party members register with a community, not a grid;
for a compound or a grid they are not given)
    orders            residents' service orders made in the period
    posts             posts starting in the period, not cancelled; places offered = their capacity
    places claimed    claims on those posts that took a place (withdrawn and waitlisted ones not)
    places filled     of those, the ones whose member came (checked in, out, or confirmed)
    hours             confirmed service time on those posts
    no-shows          claims on those posts marked no-show
    theme day         people confirmed on a theme-day post of the period (each counted once)
Points: earned = every positive ledger entry in the period, spent = every negative one (the shop).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Sequence
from zoneinfo import ZoneInfo

from core.cases import Category


class PlaceLevel:
    ALL = "all"
    COMMUNITY = "community"
    COMPOUND = "compound"
    GRID = "grid"


class OnTime:
    """The on-time rate of whatever counts closed cases and those closed by their deadline (the overview,
    a grid's line of the league, a property company): one definition for all."""

    closed: int
    closed_on_time: int

    @property
    def on_time_rate(self) -> float | None:
        return self.closed_on_time / self.closed if self.closed else None


@dataclass(frozen=True)
class Area:
    """The place counted: the communities a viewer may see, narrowed to one compound or grid.
    `community_ids` is never empty: an Area is made by core.statistics_services once it has checked them."""

    community_ids: tuple[int, ...]
    compound_id: int | None = None
    grid_id: int | None = None
    level: str = PlaceLevel.ALL
    name: str = ""

    @property
    def is_communities(self) -> bool:
        """Counted for whole communities (volunteering and points are counted only for those)."""
        return self.compound_id is None and self.grid_id is None


@dataclass(frozen=True)
class Period:
    """[start, end): aware moments; `label` is how people name it ("2026年11月")."""

    start: datetime
    end: datetime
    label: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period needs aware moments")
        if self.end <= self.start:
            raise ValueError("a period must end after it starts")


def month(year: int, month_number: int, tz: ZoneInfo) -> Period:
    """A calendar month in the community's zone."""
    start = datetime(year, month_number, 1, tzinfo=tz)
    end = datetime(year + (month_number == 12), month_number % 12 + 1, 1, tzinfo=tz)
    return Period(start, end, f"{year}-{month_number:02d}")


def month_of(now: datetime, tz: ZoneInfo) -> Period:
    local = now.astimezone(tz)
    return month(local.year, local.month, tz)


def days(first: date, last: date, tz: ZoneInfo) -> Period:
    """From the start of `first` to the end of `last`, both in the community's zone."""
    start = datetime(first.year, first.month, first.day, tzinfo=tz)
    end = datetime(last.year, last.month, last.day, tzinfo=tz) + timedelta(days=1)
    return Period(start, end, f"{first.isoformat()} – {last.isoformat()}")


def week_starts(period: Period, tz: ZoneInfo) -> list[datetime]:
    """The Mondays 00:00 (local) of every week the period touches, the first one at or before its start."""
    local = period.start.astimezone(tz)
    monday = datetime(local.year, local.month, local.day, tzinfo=tz) - timedelta(days=local.weekday())
    starts = []
    while monday < period.end:
        starts.append(monday)
        monday = (monday + timedelta(days=7, hours=12)).replace(hour=0)  # safe across zone changes
    return starts


def month_starts(period: Period, tz: ZoneInfo) -> list[datetime]:
    """The first moments (local) of every month the period touches."""
    local = period.start.astimezone(tz)
    starts = []
    year, number = local.year, local.month
    while (start := datetime(year, number, 1, tzinfo=tz)) < period.end:
        starts.append(start)
        year, number = year + (number == 12), number % 12 + 1
    return starts


# Closure-time buckets, in hours: [0, 4), [4, 8), … [120, ∞) — a working day, two, a week.
CLOSURE_BUCKETS_HOURS: tuple[int, ...] = (4, 8, 24, 48, 72, 120)


def interpolated(low: float, high: float, fraction: float) -> float:
    """The value between two neighbouring ranks, as percentile_cont interpolates."""
    return low + (high - low) * fraction


def percentile_ranks(count: int, p: float) -> tuple[int, float]:
    """For `count` sorted values, the 0-based rank below the p-th percentile and how far towards the next."""
    position = p * (count - 1)
    below = int(position)
    return below, position - below


# --- the figures ----------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFigures(OnTime):
    received: int = 0
    closed: int = 0
    closed_first_time: int = 0       # without rework
    closed_on_time: int = 0          # last fix by the deadline
    median_hours: float | None = None
    p90_hours: float | None = None
    rework: int = 0
    escalations: int = 0
    rated: int = 0
    rated_4_5: int = 0
    mean_rating: float | None = None
    open_now: int = 0
    overdue_now: int = 0
    without_proof: int = 0           # resolved in the period without proof on the spot (core.proof)

    @property
    def one_time_rate(self) -> float | None:
        return self.closed_first_time / self.closed if self.closed else None


    @property
    def satisfaction(self) -> float | None:
        return self.rated_4_5 / self.rated if self.rated else None


@dataclass(frozen=True)
class VolunteerFigures:
    orders: int = 0
    posts: int = 0
    places_offered: int = 0
    places_claimed: int = 0
    places_filled: int = 0
    hours: float = 0.0
    no_shows: int = 0
    theme_day_people: int = 0
    check_ins_far: int = 0           # checked in far from the community's buildings (core.proof)


@dataclass(frozen=True)
class PointsFigures:
    earned: int = 0
    spent: int = 0


@dataclass(frozen=True)
class Overview:
    area: Area
    period: Period
    now: datetime
    cases: CaseFigures
    volunteering: VolunteerFigures | None   # None: counted per community, and the area is narrower
    points: PointsFigures | None


# --- what the charts show -------------------------------------------------------------


@dataclass(frozen=True)
class WeekCount:
    week: date              # the Monday
    category: Category
    count: int


@dataclass(frozen=True)
class GridRow(OnTime):
    """One line of the grids' league table."""

    grid_id: int
    grid: str
    compound: str
    received: int
    closed: int
    closed_on_time: int
    rated: int
    mean_rating: float | None
    open_now: int



@dataclass(frozen=True)
class MonthHours:
    month: date             # the first of the month
    hours: float


@dataclass(frozen=True)
class CaseRow:
    """A case as a list shows it (the dashboard's lists, the Excel's case sheet): no personal data."""

    number: str
    category: Category
    state: str
    community_id: int
    grid_id: int
    grid: str
    building: str
    created_at: datetime
    deadline: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    closure_reason: str | None
    rating: int | None
    rework_count: int
    handler_id: int | None


@dataclass(frozen=True)
class Charts:
    weeks: Sequence[WeekCount]
    closure_buckets: Sequence[int]     # counts per CLOSURE_BUCKETS_HOURS bucket (one more than bounds)
    league: Sequence[GridRow]
    hours: Sequence[MonthHours] | None = None
    bounds_hours: tuple[int, ...] = field(default=CLOSURE_BUCKETS_HOURS)


def rate_text(rate: float | None) -> str:
    """A rate as people read it: "94.2%"; "—" when nothing was counted."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


def number_text(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


Value = int | float | None


def figure_values(overview: Overview) -> list[tuple[str, str, Value, str]]:
    """The overview as (section, figure, value, kind) in the order every channel shows it: the chat's
    `/stats`, the dashboard and the Excel's summary sheet. Labels are text keys `stats.f.<figure>`
    (`stats.s.<section>` for sections); kind is "count", "rate" (a fraction), "hours" or "stars"."""
    c = overview.cases
    rows: list[tuple[str, str, Value, str]] = [
        ("cases", "received", c.received, "count"), ("cases", "closed", c.closed, "count"),
        ("cases", "one_time_rate", c.one_time_rate, "rate"), ("cases", "on_time_rate", c.on_time_rate, "rate"),
        ("cases", "median_hours", c.median_hours, "hours"), ("cases", "p90_hours", c.p90_hours, "hours"),
        ("cases", "rework", c.rework, "count"), ("cases", "escalations", c.escalations, "count"),
        ("cases", "satisfaction", c.satisfaction, "rate"), ("cases", "mean_rating", c.mean_rating, "stars"),
        ("cases", "rated", c.rated, "count"),
        ("cases", "open_now", c.open_now, "count"), ("cases", "overdue_now", c.overdue_now, "count"),
        ("cases", "without_proof", c.without_proof, "count")]
    v = overview.volunteering
    if v is not None:
        rows += [("volunteering", "orders", v.orders, "count"), ("volunteering", "posts", v.posts, "count"),
                 ("volunteering", "places_offered", v.places_offered, "count"),
                 ("volunteering", "places_claimed", v.places_claimed, "count"),
                 ("volunteering", "places_filled", v.places_filled, "count"),
                 ("volunteering", "hours", v.hours, "hours"), ("volunteering", "no_shows", v.no_shows, "count"),
                 ("volunteering", "theme_day_people", v.theme_day_people, "count"),
                 ("volunteering", "check_ins_far", v.check_ins_far, "count")]
    p = overview.points
    if p is not None:
        rows += [("points", "earned", p.earned, "count"), ("points", "spent", p.spent, "count")]
    return rows


def value_text(value: Value, kind: str) -> str:
    """A figure written without language: "80.0%", "48.0", "3.50", "12"; "—" when nothing was counted."""
    if kind == "rate":
        return rate_text(value)
    if kind == "hours":
        return number_text(value)
    if kind == "stars":
        return number_text(value, 2)
    return "—" if value is None else str(value)


def figure_rows(overview: Overview) -> list[tuple[str, str, str]]:
    """figure_values with the values written out."""
    return [(section, figure, value_text(value, kind)) for section, figure, value, kind in figure_values(overview)]
