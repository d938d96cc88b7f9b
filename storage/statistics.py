"""The dashboard's figures, counted by the database: `core.ports.StatisticsQueries`.

Every query returns a handful of numbers or rows, whatever the number of cases: counts, sums and
averages are aggregates; the median and the 90th percentile of the time to close are PostgreSQL's
`percentile_cont`, and on SQLite (which has none) the two neighbouring values read with
ORDER BY … LIMIT 2 OFFSET k and interpolated alike. Weeks, months and closure-time buckets are
CASE expressions over boundaries that core works out in the community's time zone, so both
databases count the same way. The definitions are in core/statistics.py.

Indexes for these (migration 0014): cases by (community, created_at) and (community, closed_at);
events by (subject_type, kind, at).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Float, and_, case, cast, distinct, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.cases import OPEN_STATES, CaseState, Category, ClosureReason
from core.companies import CompanyFigures
from core.statistics import (
    Area, CaseFigures, CaseRow, GridRow, MonthHours, Period, PointsFigures, VolunteerFigures, WeekCount,
    interpolated, percentile_ranks,
)
from core.sign_in import SignInLink
from core.volunteering.common import ClaimState, PostState
from storage.case_tables import cases
from storage.tables import buildings, compounds, events, grids, sign_in_links
from storage.volunteer_tables import points_entries, volunteer_claims, volunteer_orders, volunteer_posts

_OPEN = tuple(s.value for s in OPEN_STATES)
_REWORK_KINDS = ("fix_rejected", "reopened_after_auto_close")
_CLAIMED = tuple(s.value for s in (ClaimState.CLAIMED, ClaimState.CHECKED_IN, ClaimState.CHECKED_OUT,
                                   ClaimState.CONFIRMED, ClaimState.NO_SHOW))
_FILLED = tuple(s.value for s in (ClaimState.CHECKED_IN, ClaimState.CHECKED_OUT, ClaimState.CONFIRMED))
c = cases.c


def _in_area(area: Area) -> list[Any]:
    where = [c.community_id.in_(area.community_ids)]
    if area.grid_id is not None:
        where.append(c.grid_id == area.grid_id)
    elif area.compound_id is not None:
        where.append(c.grid_id.in_(select(grids.c.id).where(grids.c.compound_id == area.compound_id)))
    return where


def _closed_in(period: Period) -> list[Any]:
    """The closed cohort: closed as fixed within the period."""
    return [c.state == CaseState.CLOSED.value, c.closure_reason == ClosureReason.FIXED.value,
            c.closed_at >= period.start, c.closed_at < period.end]


def _count_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _bucket(column: Any, starts: Sequence[Any]) -> Any:
    """0 for values before starts[1], 1 before starts[2] … (the caller keeps values ≥ starts[0])."""
    if len(starts) == 1:
        return literal(0)
    return case(*[(column < start, i) for i, start in enumerate(starts[1:])], else_=len(starts) - 1)


class SqlSignIns:
    """The dashboard's one-time links: `use` is one conditional UPDATE, so a link opens one session."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, link: SignInLink) -> None:
        await self.conn.execute(insert(sign_in_links).values(
            token_hash=link.token_hash, person_id=link.person_id, created_at=link.created_at,
            expires_at=link.expires_at, used_at=link.used_at))

    async def use(self, token_hash: str, now: datetime) -> int | None:
        s = sign_in_links.c
        return (await self.conn.execute(
            update(sign_in_links).where(s.token_hash == token_hash, s.used_at.is_(None), s.expires_at > now)
            .values(used_at=now).returning(s.person_id))).scalar_one_or_none()


class SqlStatistics:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    @property
    def _postgres(self) -> bool:
        return self.conn.dialect.name == "postgresql"

    def _seconds_to_close(self) -> Any:
        if self._postgres:
            return func.extract("epoch", c.closed_at - c.created_at)
        return (func.julianday(c.closed_at) - func.julianday(c.created_at)) * 86400.0

    async def _one(self, stmt: Any) -> Any:
        return (await self.conn.execute(stmt)).one()

    # --- the overview ---------------------------------------------------------------------

    async def case_figures(self, area: Area, period: Period, now: datetime) -> CaseFigures:
        where = _in_area(area)
        received = (await self._one(select(func.count()).select_from(cases).where(
            *where, c.created_at >= period.start, c.created_at < period.end)))[0]
        seconds = self._seconds_to_close()
        columns = [func.count(), _count_if(c.rework_count == 0), _count_if(c.resolved_at <= c.deadline),
                   func.count(c.rating), _count_if(c.rating >= 4), func.avg(cast(c.rating, Float))]
        if self._postgres:
            columns += [func.percentile_cont(0.5).within_group(seconds),
                        func.percentile_cont(0.9).within_group(seconds)]
        row = await self._one(select(*columns).where(*where, *_closed_in(period)))
        closed, first_time, on_time, rated, rated_4_5, mean = row[:6]
        if self._postgres:
            p50, p90 = row[6], row[7]
        else:
            p50 = await self._percentile(seconds, where + _closed_in(period), closed, 0.5)
            p90 = await self._percentile(seconds, where + _closed_in(period), closed, 0.9)
        by_kind = dict((await self.conn.execute(
            select(events.c.kind, func.count())
            .select_from(events.join(cases, c.number == events.c.subject_id))
            .where(events.c.subject_type == "case", events.c.kind.in_(_REWORK_KINDS + ("escalated",)),
                   events.c.at >= period.start, events.c.at < period.end, *where)
            .group_by(events.c.kind))).all())
        open_now, overdue_now = await self._one(
            select(func.count(), _count_if(c.deadline < now)).where(*where, c.state.in_(_OPEN)))
        without_proof = (await self._one(select(func.count()).where(
            *where, c.on_site.is_(False), c.resolved_at >= period.start, c.resolved_at < period.end)))[0]
        return CaseFigures(
            received=received, closed=closed, closed_first_time=int(first_time), closed_on_time=int(on_time),
            median_hours=None if p50 is None else float(p50) / 3600,
            p90_hours=None if p90 is None else float(p90) / 3600,
            rework=sum(by_kind.get(k, 0) for k in _REWORK_KINDS), escalations=by_kind.get("escalated", 0),
            rated=rated, rated_4_5=int(rated_4_5), mean_rating=None if mean is None else float(mean),
            open_now=open_now, overdue_now=int(overdue_now), without_proof=int(without_proof))

    async def _percentile(self, value: Any, where: list[Any], count: int, p: float) -> float | None:
        """SQLite: the p-th percentile of `value` over `count` rows, from the two neighbouring ranks."""
        if not count:
            return None
        below, fraction = percentile_ranks(count, p)
        found = [r[0] for r in await self.conn.execute(
            select(value).where(*where).order_by(value).limit(2).offset(below))]
        return interpolated(float(found[0]), float(found[-1]), fraction)

    async def volunteer_figures(self, community_ids: Sequence[int], period: Period) -> VolunteerFigures:
        o, p, cl = volunteer_orders.c, volunteer_posts.c, volunteer_claims.c
        orders = (await self._one(select(func.count()).where(
            o.community_id.in_(community_ids), o.created_at >= period.start, o.created_at < period.end)))[0]
        posts_of = [p.community_id.in_(community_ids), p.starts_at >= period.start, p.starts_at < period.end,
                    p.state != PostState.CANCELLED.value]
        posts, offered = await self._one(select(func.count(), func.coalesce(func.sum(p.capacity), 0)).where(*posts_of))
        confirmed = cl.state == ClaimState.CONFIRMED.value
        claimed, filled, seconds, no_shows, theme_people, far = await self._one(
            select(_count_if(cl.state.in_(_CLAIMED)), _count_if(cl.state.in_(_FILLED)),
                   func.coalesce(func.sum(case((confirmed, cl.served_seconds), else_=0)), 0),
                   _count_if(cl.state == ClaimState.NO_SHOW.value),
                   func.count(distinct(case((and_(confirmed, p.theme_day.is_not(None)), cl.person_id)))),
                   _count_if(cl.check_in_on_site.is_(False)))
            .select_from(volunteer_claims.join(volunteer_posts, p.id == cl.post_id)).where(*posts_of))
        return VolunteerFigures(orders=orders, posts=posts, places_offered=int(offered), places_claimed=int(claimed),
                                places_filled=int(filled), hours=float(seconds) / 3600, no_shows=int(no_shows),
                                theme_day_people=theme_people, check_ins_far=int(far))

    async def points_figures(self, community_ids: Sequence[int], period: Period) -> PointsFigures:
        pe = points_entries.c
        earned, spent = await self._one(select(
            func.coalesce(func.sum(case((pe.delta > 0, pe.delta), else_=0)), 0),
            func.coalesce(func.sum(case((pe.delta < 0, -pe.delta), else_=0)), 0))
            .where(pe.community_id.in_(community_ids), pe.at >= period.start, pe.at < period.end))
        return PointsFigures(earned=int(earned), spent=int(spent))

    # --- charts ---------------------------------------------------------------------------

    async def reports_per_week(self, area: Area, period: Period, weeks: Sequence[datetime]) -> Sequence[WeekCount]:
        if not weeks:
            return []
        week = _bucket(c.created_at, weeks)
        rows = await self.conn.execute(
            select(week.label("week"), c.category, func.count())
            .where(*_in_area(area), c.created_at >= period.start, c.created_at < period.end)
            .group_by(week, c.category))
        return sorted((WeekCount(weeks[w].date(), Category(category), n) for w, category, n in rows),
                      key=lambda r: (r.week, list(Category).index(r.category)))

    async def closure_times(self, area: Area, period: Period, bounds_hours: Sequence[int]) -> Sequence[int]:
        seconds = self._seconds_to_close()
        bucket = case(*[(seconds < hours * 3600, i) for i, hours in enumerate(bounds_hours)],
                      else_=len(bounds_hours))
        counts = [0] * (len(bounds_hours) + 1)
        for b, n in await self.conn.execute(
                select(bucket, func.count()).where(*_in_area(area), *_closed_in(period)).group_by(bucket)):
            counts[b] = n
        return counts

    async def grid_league(self, area: Area, period: Period, now: datetime) -> Sequence[GridRow]:
        received = and_(c.created_at >= period.start, c.created_at < period.end)
        closed = and_(*_closed_in(period))
        is_open = c.state.in_(_OPEN)
        figures = {row[0]: row[1:] for row in await self.conn.execute(
            select(c.grid_id, _count_if(received), _count_if(closed),
                   _count_if(and_(closed, c.resolved_at <= c.deadline)),
                   func.count(case((closed, c.rating))), func.avg(case((closed, cast(c.rating, Float)))),
                   _count_if(is_open))
            .where(*_in_area(area), or_(received, closed, is_open)).group_by(c.grid_id))}
        g, cp = grids.c, compounds.c
        where = [cp.community_id.in_(area.community_ids)]
        if area.grid_id is not None:
            where.append(g.id == area.grid_id)
        elif area.compound_id is not None:
            where.append(cp.id == area.compound_id)
        rows = []
        for grid_id, grid, compound in await self.conn.execute(
                select(g.id, g.name, cp.name).select_from(grids.join(compounds, cp.id == g.compound_id))
                .where(*where).order_by(cp.name, g.name)):
            got, closed_n, on_time, rated, mean, open_now = figures.get(grid_id, (0, 0, 0, 0, None, 0))
            rows.append(GridRow(grid_id, grid, compound, int(got), int(closed_n), int(on_time), int(rated),
                                None if mean is None else float(mean), int(open_now)))
        # the league: best on-time rate first, then more closed, then fewer open; grids with nothing closed last
        return sorted(rows, key=lambda r: (r.on_time_rate is None, -(r.on_time_rate or 0), -r.closed, r.open_now))

    async def hours_per_month(self, community_ids: Sequence[int], period: Period,
                              months: Sequence[datetime]) -> Sequence[MonthHours]:
        if not months:
            return []
        p, cl = volunteer_posts.c, volunteer_claims.c
        month = _bucket(p.starts_at, months)
        seconds = {m: s for m, s in await self.conn.execute(
            select(month, func.coalesce(func.sum(cl.served_seconds), 0))
            .select_from(volunteer_claims.join(volunteer_posts, p.id == cl.post_id))
            .where(p.community_id.in_(community_ids), p.starts_at >= period.start, p.starts_at < period.end,
                   cl.state == ClaimState.CONFIRMED.value)
            .group_by(month))}
        return [MonthHours(start.date(), float(seconds.get(i, 0)) / 3600) for i, start in enumerate(months)]

    async def property_companies(self, area: Area, period: Period, now: datetime) -> Sequence[CompanyFigures]:
        received = and_(c.created_at >= period.start, c.created_at < period.end)
        closed = and_(*_closed_in(period))
        is_open = c.state.in_(_OPEN)
        cp = compounds.c
        where = [cp.community_id.in_(area.community_ids), cp.property_company.is_not(None)]
        if area.compound_id is not None:
            where.append(cp.id == area.compound_id)
        served: dict[str, list[tuple[int, str]]] = {}
        for compound_id, name, company in await self.conn.execute(
                select(cp.id, cp.name, cp.property_company).where(*where).order_by(cp.name)):
            served.setdefault(company, []).append((compound_id, name))
        figures = {row[0]: row[1:] for row in await self.conn.execute(
            select(cp.property_company, _count_if(received), _count_if(closed),
                   _count_if(and_(closed, c.resolved_at <= c.deadline)),
                   func.count(case((closed, c.rating))), func.avg(case((closed, cast(c.rating, Float)))),
                   _count_if(is_open))
            .select_from(cases.join(grids, grids.c.id == c.grid_id).join(compounds, cp.id == grids.c.compound_id))
            .where(*_in_area(area), *where, or_(received, closed, is_open))
            .group_by(cp.property_company))}
        rows = []
        for company, its_compounds in sorted(served.items()):
            got, closed_n, on_time, rated, mean, open_now = figures.get(company, (0, 0, 0, 0, None, 0))
            rows.append(CompanyFigures(company, tuple(its_compounds), int(got), int(closed_n), int(on_time),
                                       int(rated), None if mean is None else float(mean), int(open_now)))
        return rows

    # --- lists ------------------------------------------------------------------------------

    async def cases(self, area: Area, period: Period | None, *, open_only: bool = False, limit: int = 100,
                    offset: int = 0) -> Sequence[CaseRow]:
        where = _in_area(area)
        if period is not None:
            where += [c.created_at >= period.start, c.created_at < period.end]
        if open_only:
            where.append(c.state.in_(_OPEN))
        rows = await self.conn.execute(
            select(c.number, c.category, c.state, c.community_id, c.grid_id, grids.c.name, buildings.c.name,
                   c.created_at, c.deadline, c.resolved_at, c.closed_at, c.closure_reason, c.rating,
                   c.rework_count, c.handler_id)
            .select_from(cases.join(grids, grids.c.id == c.grid_id).join(buildings, buildings.c.id == c.building_id))
            .where(*where).order_by(c.created_at.desc(), c.id.desc()).limit(limit).offset(offset))
        return [CaseRow(r[0], Category(r[1]), r[2], *r[3:]) for r in rows]
