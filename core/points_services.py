"""Services of points ("积分"): balance, history, the leaderboard, the shop (redeem), and points
for a confirmed report (`credit_report`). The rules are in `core.points`."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from core.access import desk_communities
from core.cases import Actor, Case
from core.points import (
    DEFAULT_REPORT_POINTS, LeaderboardRow, Ledger, PointsEntry, PointsReason, earn, month_bounds,
    monthly_leaderboard, points_for_report, report_ref, spend,
)
from core.ports import UnitOfWork
from core.volunteering.common_services import PointsTable, tell
from core.workdays import CHINA_TZ


async def load_ledger(uow: UnitOfWork, person_id: int, community_id: int) -> Ledger:
    """The person's points in the community, loaded to earn or spend."""
    return Ledger(await uow.volunteering.points_entries(person_id, community_id))


async def record_points(uow: UnitOfWork, ledger: Ledger, entry: PointsEntry) -> None:
    """Save a ledger's new entry and the events of the change, in the caller's transaction."""
    await uow.volunteering.add_points(entry)
    ledger.pending.clear()
    await uow.volunteering.save_events(ledger.pending_events)
    ledger.pending_events.clear()


# ---- points ("积分") ----------------------------------------------------------------------

async def points_balance(uow: UnitOfWork, person_id: int, community_id: int) -> int:
    return await uow.volunteering.balance(person_id, community_id)


async def points_history(uow: UnitOfWork, person_id: int, community_id: int, limit: int = 20) -> list[PointsEntry]:
    """Newest first."""
    return (await load_ledger(uow, person_id, community_id)).history(person_id, community_id)[:limit]


async def leaderboard(uow: UnitOfWork, community_id: int, year: int, month: int, limit: int = 10, *,
                      tz: ZoneInfo = CHINA_TZ) -> list[LeaderboardRow]:
    start, end = month_bounds(year, month, tz)
    entries = await uow.volunteering.points_between(community_id, start, end)
    return monthly_leaderboard(entries, community_id, year, month, top=limit, tz=tz)


async def shop_communities(uow: UnitOfWork, by: Actor) -> list[int]:
    """The communities whose points shop `by` keeps."""
    return await desk_communities(uow, by, "points.spend")


async def redeem(uow: UnitOfWork, by: Actor, person_id: int, community_id: int, points: int, item: str,
                 now: datetime, *, ref: str | None = None) -> PointsEntry:
    """Staff record a purchase at the points shop; never below zero, even when two staff press at once.

    `ref` names the redemption (a receipt, the bot's message id) so pressing twice records it once;
    without it each call is a new redemption.
    """
    ledger = await load_ledger(uow, person_id, community_id)
    entry = spend(ledger, by, person_id, community_id, points, item, now,
                  ref=ref or f"shop:{by.person_id}:{now.isoformat()}")
    await record_points(uow, ledger, entry)  # the balance row's conditional update is the real check
    await tell(uow, [person_id], "points.redeemed",
               {"points": points, "item": entry.note, "balance": ledger.balance(person_id, community_id)},
               dedupe=f"points:redeemed:{entry.ref}")
    return entry


async def credit_report(uow: UnitOfWork, policy: PointsTable | None, case: Case, now: datetime) -> PointsEntry | None:
    """The reporter's points for a report confirmed useful (fixed); None when it earns nothing.

    `policy` is anything with `report_points` (VolunteerPolicy or ReportPolicy; None: the defaults).
    Crediting the same case again does nothing.
    """
    table = (policy.report_points if policy is not None else None) or DEFAULT_REPORT_POINTS
    points = points_for_report(case, table)
    if points <= 0:
        return None
    ledger = await load_ledger(uow, case.reporter_id, case.community_id)
    if ledger.find(case.reporter_id, case.community_id, PointsReason.REPORT, report_ref(case)) is not None:
        return None
    entry = earn(ledger, case.reporter_id, case.community_id, points, PointsReason.REPORT, report_ref(case), now)
    await record_points(uow, ledger, entry)
    await tell(uow, [case.reporter_id], "points.report_earned",
               {"case": case.number, "points": points,
                "balance": ledger.balance(case.reporter_id, case.community_id)},
               dedupe=f"points:{report_ref(case)}")
    return entry
