"""The audit log's repository: `add` and reads only (storage/audit_tables.py). No update, no delete:
staff cannot edit what they were shown, and no job prunes it."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.disclosure import AuditEntry
from storage.audit_tables import audit_log

_A = audit_log.c


class SqlAudit:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, entries: Sequence[AuditEntry]) -> None:
        if entries:
            await self.conn.execute(insert(audit_log), [
                {"at": e.at, "viewer_id": e.viewer_id, "person_id": e.person_id, "what": e.what[:32],
                 "subject": (e.subject or "")[:64]} for e in entries])

    async def entries(self, *, person_id: int | None = None, since: datetime | None = None,
                      until: datetime | None = None, limit: int = 1000) -> list[AuditEntry]:
        stmt = select(audit_log)
        if person_id is not None:
            stmt = stmt.where(_A.person_id == person_id)
        if since is not None:
            stmt = stmt.where(_A.at >= since)
        if until is not None:
            stmt = stmt.where(_A.at < until)
        rows = await self.conn.execute(stmt.order_by(_A.at, _A.id).limit(limit))
        return [AuditEntry(r.at, r.viewer_id, r.person_id, r.what, r.subject, r.id) for r in rows]
