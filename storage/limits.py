"""What the abuse limits read (reports and orders counted per person) and suspended reporting."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.limits import Suspension
from storage.case_tables import cases, reporting_suspensions
from storage.outbox import dialect_insert
from storage.volunteer_tables import volunteer_orders

_S = reporting_suspensions.c


class SqlLimits:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def reports_since(self, person_id: int, since: datetime) -> int:
        return (await self.conn.execute(select(func.count()).select_from(cases).where(
            cases.c.reporter_id == person_id, cases.c.created_at >= since))).scalar_one()

    async def orders_since(self, person_id: int, since: datetime) -> int:
        o = volunteer_orders.c
        return (await self.conn.execute(select(func.count()).select_from(volunteer_orders).where(
            o.resident_id == person_id, o.created_at >= since))).scalar_one()

    async def suspension(self, person_id: int) -> Suspension | None:
        row = (await self.conn.execute(select(reporting_suspensions).where(_S.person_id == person_id))).first()
        return Suspension(row.person_id, row.reason, row.suspended_by, row.since) if row else None

    async def suspend(self, suspension: Suspension) -> None:
        """Suspend, or replace the reason and moment of a suspension already there."""
        stmt = dialect_insert(self.conn, reporting_suspensions).values(
            person_id=suspension.person_id, reason=suspension.reason, suspended_by=suspension.suspended_by,
            since=suspension.since)
        await self.conn.execute(stmt.on_conflict_do_update(index_elements=["person_id"], set_={
            "reason": stmt.excluded.reason, "suspended_by": stmt.excluded.suspended_by,
            "since": stmt.excluded.since}))

    async def lift(self, person_id: int) -> None:
        await self.conn.execute(delete(reporting_suspensions).where(_S.person_id == person_id))
