"""The dashboard's queries: who may see which place, and the figures for it (counted by storage).

Staff see their communities, an administrator every one (core.access.desk_communities, the same
question the desk asks). A place outside them is "not found", never "not allowed": a URL with
another community's grid or case learns nothing, not even that it exists. The dashboard, the
monthly Excel and `/stats` in chat all call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from core.access import desk_communities
from core.companies import CompanyFigures, GradeRule, credit_grade
from core.cases import Actor
from core.errors import NotFound
from core.ports import UnitOfWork
from core.statistics import (
    CLOSURE_BUCKETS_HOURS, Area, CaseRow, Charts, GridRow, Overview, Period, PlaceLevel, month_starts, week_starts,
)

# The Excel's case list holds at most this many cases (a month of a street office is far below).
MAX_REPORT_CASES = 100_000


@dataclass(frozen=True)
class PlaceChoice:
    """What a viewer asked for: everything they may see, or one community, compound or grid by id."""

    level: str = PlaceLevel.ALL
    id: int | None = None


async def area_for(uow: UnitOfWork, by: Actor, choice: PlaceChoice = PlaceChoice()) -> Area:
    """The place `by` asked for, if they may see it; NotFound when it is not theirs or does not exist."""
    allowed = await desk_communities(uow, by, action="stats")
    if choice.level == PlaceLevel.ALL or choice.id is None:
        names = [c.name for c in await uow.places.communities() if c.id in allowed]
        return Area(tuple(allowed), level=PlaceLevel.ALL, name="、".join(names))
    if choice.level == PlaceLevel.COMMUNITY:
        community = await uow.places.community(choice.id)
        if community is None or choice.id not in allowed:
            raise NotFound(what="community")
        return Area((choice.id,), level=PlaceLevel.COMMUNITY, name=community.name)
    if choice.level == PlaceLevel.COMPOUND:
        compound = await uow.places.compound(choice.id)
        if compound is None or compound.community_id not in allowed:
            raise NotFound(what="compound")
        return Area((compound.community_id,), compound_id=choice.id, level=PlaceLevel.COMPOUND, name=compound.name)
    if choice.level == PlaceLevel.GRID:
        grid = await uow.places.grid(choice.id)
        compound = await uow.places.compound(grid.compound_id) if grid is not None else None
        if grid is None or compound is None or compound.community_id not in allowed:
            raise NotFound(what="grid")
        return Area((compound.community_id,), compound_id=compound.id, grid_id=choice.id, level=PlaceLevel.GRID,
                    name=f"{compound.name} {grid.name}")
    raise NotFound(what="place")


async def overview(uow: UnitOfWork, by: Actor, choice: PlaceChoice, period: Period, now: datetime) -> Overview:
    """The figures the communities report, for a period and a place (definitions: core/statistics.py)."""
    area = await area_for(uow, by, choice)
    return await overview_of(uow, area, period, now)


async def overview_of(uow: UnitOfWork, area: Area, period: Period, now: datetime) -> Overview:
    """The overview of an area already checked by `area_for` (the Excel asks it once per grid)."""
    cases = await uow.statistics.case_figures(area, period, now)
    if not area.is_communities:
        return Overview(area, period, now, cases, None, None)
    volunteering = await uow.statistics.volunteer_figures(area.community_ids, period)
    points = await uow.statistics.points_figures(area.community_ids, period)
    return Overview(area, period, now, cases, volunteering, points)


async def charts(uow: UnitOfWork, area: Area, period: Period, now: datetime, tz: ZoneInfo) -> Charts:
    """The numbers behind the dashboard's charts, for an area `area_for` gave."""
    stats = uow.statistics
    weeks = await stats.reports_per_week(area, period, week_starts(period, tz))
    buckets = await stats.closure_times(area, period, CLOSURE_BUCKETS_HOURS)
    league = await stats.grid_league(area, period, now)
    hours = (await stats.hours_per_month(area.community_ids, period, month_starts(period, tz))
             if area.is_communities else None)
    return Charts(weeks, buckets, league, hours)


async def property_companies(uow: UnitOfWork, by: Actor, choice: PlaceChoice, period: Period, now: datetime,
                             rules: tuple[GradeRule, ...]) -> list[tuple[CompanyFigures, str | None]]:
    """Each property company serving the viewer's compounds, with its figures and credit grade."""
    area = await area_for(uow, by, choice)
    return [(figures, credit_grade(figures, rules))
            for figures in await uow.statistics.property_companies(area, period, now)]


@dataclass(frozen=True)
class MonthlyReport:
    """What the monthly Excel holds: the overview, each grid's own, and the period's cases."""

    overview: Overview
    grids: list[tuple[GridRow, Overview]]
    cases: list[CaseRow]


async def monthly_report(uow: UnitOfWork, by: Actor, choice: PlaceChoice, period: Period, now: datetime) -> MonthlyReport:
    area = await area_for(uow, by, choice)
    whole = await overview_of(uow, area, period, now)
    grids = []
    for row in sorted(await uow.statistics.grid_league(area, period, now), key=lambda r: (r.compound, r.grid)):
        grid_area = Area(area.community_ids, grid_id=row.grid_id, level=PlaceLevel.GRID, name=f"{row.compound} {row.grid}")
        grids.append((row, await overview_of(uow, grid_area, period, now)))
    cases = list(await uow.statistics.cases(area, period, limit=MAX_REPORT_CASES))
    return MonthlyReport(whole, grids, cases)
