"""Open311 clients, tokens and requests (`core.ports.Open311Repository`)."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.cases import CaseState, Category, HandlerKind
from core.open311 import MAX_PAGE_SIZE, Open311Client, PublicRequest, RequestFilter, states_of
from storage.case_tables import case_photos, cases
from storage.tables import buildings, communities, compounds, grids, open311_clients, open311_tokens

c = cases.c


class SqlOpen311:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add_client(self, client: Open311Client) -> None:
        client.id = (await self.conn.execute(insert(open311_clients).values(
            name=client.name, key_hash=client.key_hash, person_id=client.person_id, created_at=client.created_at,
            revoked=client.revoked).returning(open311_clients.c.id))).scalar_one()

    async def save_client(self, client: Open311Client) -> None:
        await self.conn.execute(update(open311_clients).where(open311_clients.c.id == client.id)
                                .values(key_hash=client.key_hash, revoked=client.revoked))

    async def _client(self, where) -> Open311Client | None:
        row = (await self.conn.execute(select(open311_clients).where(where))).first()
        return None if row is None else Open311Client(row.id, row.name, row.key_hash, row.person_id, row.created_at,
                                                      bool(row.revoked))

    async def client_named(self, name: str) -> Open311Client | None:
        return await self._client(open311_clients.c.name == name)

    async def client_by_key(self, key_hash: str) -> Open311Client | None:
        return await self._client(open311_clients.c.key_hash == key_hash)

    async def add_token(self, token: str, client_id: int, case_number: str, now: datetime) -> None:
        await self.conn.execute(insert(open311_tokens).values(token=token, client_id=client_id,
                                                              case_number=case_number, created_at=now))

    async def token(self, token: str) -> str | None:
        return (await self.conn.execute(select(open311_tokens.c.case_number)
                                        .where(open311_tokens.c.token == token))).scalar_one_or_none()

    async def requests(self, wanted: RequestFilter) -> Sequence[PublicRequest]:
        b, g, cp, cm, t = buildings.c, grids.c, compounds.c, communities.c, open311_tokens.c
        lat, lon = func.coalesce(c.lat, b.lat), func.coalesce(c.lon, b.lon)
        where = []
        if wanted.community_ids is not None:
            where.append(c.community_id.in_(wanted.community_ids))
        if wanted.numbers:
            where.append(c.number.in_(wanted.numbers))
        if wanted.categories:
            where.append(c.category.in_([x.value for x in wanted.categories]))
        if wanted.statuses:
            where.append(c.state.in_([s for status in wanted.statuses for s in states_of(status)]))
        if wanted.start is not None:
            where.append(c.created_at >= wanted.start)
        if wanted.end is not None:
            where.append(c.created_at <= wanted.end)
        if wanted.bbox is not None:
            south, north, west, east = wanted.bbox
            where += [lat.between(south, north), lon.between(west, east)]
        first_photo = (select(case_photos.c.sha256).where(case_photos.c.case_id == c.id, case_photos.c.kind == "before")
                       .order_by(case_photos.c.id).limit(1).scalar_subquery())
        size = max(1, min(wanted.page_size, MAX_PAGE_SIZE))
        rows = await self.conn.execute(
            select(c.number, c.category, c.state, c.closure_reason, c.resolution_note, c.handler_kind, c.created_at,
                   c.updated_at, c.deadline, cm.name, cp.name, b.name, lat, lon, t.client_id, c.description,
                   first_photo)
            .select_from(cases.join(buildings, b.id == c.building_id).join(grids, g.id == c.grid_id)
                         .join(compounds, cp.id == g.compound_id).join(communities, cm.id == c.community_id)
                         .outerjoin(open311_tokens, t.case_number == c.number))
            .where(*where).order_by(c.created_at.desc(), c.id.desc())
            .limit(size).offset((max(wanted.page, 1) - 1) * size))
        return [PublicRequest(r[0], Category(r[1]), CaseState(r[2]), r[3], r[4],
                              HandlerKind(r[5]) if r[5] else None, r[6], r[7], r[8], f"{r[9]} {r[10]} {r[11]}",
                              r[12], r[13], r[14], r[15], r[16]) for r in rows]
