"""The case repository: a case row with its photos, "same problem" joiners and pending events."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import and_, bindparam, delete, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.cases import FINISHED_STATES, OPEN_STATES, Case, CaseState, Category, ClosureReason, HandlerKind, PhotoKind, PhotoRef
from core.duplicates import CaseSpot
from core.places import bounding_box
from storage.case_tables import case_me_too, case_numbers, case_photos, cases
from storage.outbox import dialect_insert
from storage.repositories import SqlEvents

_CASE_COLUMNS = {c.name for c in cases.columns}
_SIGNED = 1 << 63


def _signed(dhash: int | None) -> int | None:
    """64-bit hashes go into a signed BIGINT."""
    if dhash is None:
        return None
    return dhash - (1 << 64) if dhash >= _SIGNED else dhash


def _unsigned(dhash: int | None) -> int | None:
    return None if dhash is None else dhash & ((1 << 64) - 1)


# Statements built once: building one per call cost more CPU than running it (bench/updates.py).
_CASE_FIELDS = frozenset(f.name for f in fields(Case))
_OPEN = tuple(s.value for s in OPEN_STATES)
_CLOCK_WATCHES = OPEN_STATES | {CaseState.RESOLVED}
_PHOTOS_OF = (select(case_photos).where(case_photos.c.case_id.in_(bindparam("ids", expanding=True)))
              .order_by(case_photos.c.id))
_ME_TOO_OF = (select(case_me_too).where(case_me_too.c.case_id.in_(bindparam("ids", expanding=True)))
              .order_by(case_me_too.c.joined_at))
_BY_NUMBER = select(cases).where(cases.c.number == bindparam("number"))
_BY_NUMBER_LOCKED = _BY_NUMBER.with_for_update()
_BY_ID = select(cases).where(cases.c.id == bindparam("case_id"))
_BY_ID_LOCKED = _BY_ID.with_for_update()
_DUE = select(cases).where(cases.c.next_check_at <= bindparam("now")).order_by(cases.c.next_check_at)
_CHECK_AGAIN = (update(cases).where(cases.c.id == bindparam("case_id"), cases.c.updated_at == bindparam("loaded_at"))
                .values(next_check_at=bindparam("at")))


def _near(at_building: bool, in_box: bool):
    c = cases.c
    places = []
    if at_building:
        places.append(c.building_id == bindparam("building_id"))
    if in_box:
        places.append(and_(c.lat.between(bindparam("south"), bindparam("north")),
                           c.lon.between(bindparam("west"), bindparam("east"))))
    return (select(c.number, c.category, c.state, c.building_id, c.lat, c.lon, c.created_at)
            .where(c.community_id == bindparam("community_id"), c.category == bindparam("category"),
                   c.state.in_(_OPEN), c.created_at >= bindparam("since"), or_(*places))
            .order_by(c.id.desc()).limit(bindparam("limit")))


_NEAR = {(at_building, in_box): _near(at_building, in_box)
         for at_building, in_box in ((True, True), (True, False), (False, True))}


def _row_values(case: Case) -> dict[str, Any]:
    values = {k: getattr(case, k) for k in _CASE_FIELDS if k in _CASE_COLUMNS and k != "id"}
    for key in ("state", "category", "handler_kind", "closure_reason"):
        if values.get(key) is not None:
            values[key] = values[key].value if hasattr(values[key], "value") else values[key]
    # A written case may have new moments (a deadline, a reopening, a resolution): the next sweep
    # looks at it and sets the next one by core's rule. Finished cases are never looked at again.
    values["next_check_at"] = case.updated_at if case.state in _CLOCK_WATCHES else None
    return values


class SqlCases:
    def __init__(self, conn: AsyncConnection, events: SqlEvents) -> None:
        self.conn = conn
        self.events = events

    async def next_number(self, community_id: int, year: int) -> int:
        """The community's next running number for the year, taken inside this transaction.

        One upsert, so two residents confirming the year's first case at the same moment both get a
        number (a read-then-insert would give the second a unique violation on PostgreSQL).
        """
        n = case_numbers.c
        stmt = (dialect_insert(self.conn, case_numbers).values(community_id=community_id, year=year, last=1)
                .on_conflict_do_update(index_elements=["community_id", "year"], set_={"last": n.last + 1})
                .returning(n.last))
        return (await self.conn.execute(stmt)).scalar_one()

    async def add(self, case: Case, half_time_at: datetime | None = None) -> None:
        values = _row_values(case)
        values["half_time_at"] = half_time_at
        result = await self.conn.execute(insert(cases), values)
        case.id = result.inserted_primary_key[0]
        await self._add_photos(case, case.photos)
        await self._add_me_too(case, case.me_too, case.created_at)
        await self._flush_events(case)

    async def save(self, case: Case, *, half_time_at: datetime | None = None) -> None:
        """Write the case's changes, its new photos and joiners, and the events its transitions recorded."""
        values = _row_values(case)
        if half_time_at is not None:
            values["half_time_at"] = half_time_at
        await self.conn.execute(update(cases).where(cases.c.id == case.id).values(**values))
        stored = {(r.sha256, r.kind) for r in await self.conn.execute(
            select(case_photos.c.sha256, case_photos.c.kind).where(case_photos.c.case_id == case.id))}
        await self._add_photos(case, [p for p in case.photos if (p.sha256, p.kind.value) not in stored])
        joined = {r[0] for r in await self.conn.execute(
            select(case_me_too.c.person_id).where(case_me_too.c.case_id == case.id))}
        await self._add_me_too(case, [p for p in case.me_too if p not in joined], case.updated_at)
        await self._flush_events(case)

    async def _add_photos(self, case: Case, photos: Sequence[PhotoRef]) -> None:
        if photos:
            await self.conn.execute(insert(case_photos), [
                {"case_id": case.id, "sha256": p.sha256, "kind": p.kind.value, "width": p.width,
                 "height": p.height, "dhash": _signed(p.dhash)} for p in photos])

    async def _add_me_too(self, case: Case, people: Sequence[int], at: datetime) -> None:
        if people:
            await self.conn.execute(insert(case_me_too), [
                {"case_id": case.id, "person_id": p, "joined_at": at} for p in people])

    async def _flush_events(self, case: Case) -> None:
        for event in case.pending_events:
            await self.events.add(event)
        case.pending_events.clear()

    # ---- reading ------------------------------------------------------------------------

    async def _load(self, rows) -> list[Case]:
        rows = list(rows)
        if not rows:
            return []
        ids = [r.id for r in rows]
        photos: dict[int, list[PhotoRef]] = {i: [] for i in ids}
        for p in await self.conn.execute(_PHOTOS_OF, {"ids": ids}):
            photos[p.case_id].append(PhotoRef(p.sha256, PhotoKind(p.kind), p.width, p.height, _unsigned(p.dhash)))
        me_too: dict[int, list[int]] = {i: [] for i in ids}
        for m in await self.conn.execute(_ME_TOO_OF, {"ids": ids}):
            me_too[m.case_id].append(m.person_id)
        loaded = []
        for row in rows:
            data = {k: v for k, v in row._mapping.items() if k in _CASE_FIELDS}
            data["state"] = CaseState(data["state"])
            data["category"] = Category(data["category"])
            data["handler_kind"] = HandlerKind(data["handler_kind"]) if data["handler_kind"] else None
            data["closure_reason"] = ClosureReason(data["closure_reason"]) if data["closure_reason"] else None
            loaded.append(Case(**data, photos=photos[row.id], me_too=me_too[row.id]))
        return loaded

    async def _one(self, stmt, locked_stmt, params: dict, for_update: bool) -> Case | None:
        # two grid members pressing at once: on PostgreSQL one waits for the other
        locked = for_update and self.conn.dialect.name == "postgresql"
        found = await self._load(await self.conn.execute(locked_stmt if locked else stmt, params))
        return found[0] if found else None

    async def by_number(self, number: str, *, for_update: bool = False) -> Case | None:
        return await self._one(_BY_NUMBER, _BY_NUMBER_LOCKED, {"number": number}, for_update)

    async def by_id(self, case_id: int, *, for_update: bool = False) -> Case | None:
        return await self._one(_BY_ID, _BY_ID_LOCKED, {"case_id": case_id}, for_update)

    async def of_reporter(self, person_id: int, limit: int = 20) -> list[Case]:
        joined = select(case_me_too.c.case_id).where(case_me_too.c.person_id == person_id)
        return await self._load(await self.conn.execute(
            select(cases).where(or_(cases.c.reporter_id == person_id, cases.c.id.in_(joined)))
            .order_by(cases.c.id.desc()).limit(limit)))

    async def handled_by(self, person_id: int, limit: int = 20) -> list[Case]:
        return await self._load(await self.conn.execute(
            select(cases).where(cases.c.handler_id == person_id, cases.c.state.in_(_OPEN))
            .order_by(cases.c.deadline).limit(limit)))

    async def open_in_community(self, community_id: int, category: Category | None = None,
                                since: datetime | None = None) -> list[Case]:
        c = cases.c
        conditions = [c.community_id == community_id, c.state.in_(_OPEN)]
        if category is not None:
            conditions.append(c.category == category.value)
        if since is not None:
            conditions.append(c.created_at >= since)
        return await self._load(await self.conn.execute(select(cases).where(and_(*conditions)).order_by(c.id)))

    async def near(self, community_id: int, category: Category, building_id: int | None, lat: float | None,
                   lon: float | None, within_m: float, since: datetime, limit: int = 20) -> list[CaseSpot]:
        """Open cases of one category reported since `since` at the building or inside the box of
        `within_m` around (lat, lon): the few candidates for "same problem", not the whole community."""
        box = bounding_box(lat, lon, within_m) if lat is not None and lon is not None else None
        if building_id is None and box is None:
            return []
        stmt = _NEAR[(building_id is not None, box is not None)]
        south, north, west, east = box or (None, None, None, None)
        rows = await self.conn.execute(stmt, {
            "community_id": community_id, "category": category.value, "since": since, "limit": limit,
            "building_id": building_id, "south": south, "north": north, "west": west, "east": east})
        return [CaseSpot(r.number, Category(r.category), CaseState(r.state), r.building_id, r.lat, r.lon,
                         r.created_at) for r in rows]

    async def before_photo_hashes(self, community_id: int, since: datetime) -> list[tuple[str, int]]:
        """(case number, dHash) of the before-photos of open cases reported since `since`."""
        c, p = cases.c, case_photos.c
        rows = await self.conn.execute(
            select(c.number, p.dhash).select_from(cases.join(case_photos))
            .where(c.community_id == community_id, c.state.in_(_OPEN),
                   c.created_at >= since, p.kind == PhotoKind.BEFORE.value, p.dhash.is_not(None)))
        return [(number, _unsigned(dhash)) for number, dhash in rows]

    async def desk(self, community_ids: set[int], now: datetime, limit: int = 30) -> list[Case]:
        """What the community desk must look at: cases on the desk, overdue, or escalations not claimed;
        and cases resolved without proof on the spot (core.proof), while they wait for the resident."""
        c = cases.c
        return await self._load(await self.conn.execute(
            select(cases).where(c.community_id.in_(community_ids),
                                or_(and_(c.state.in_(_OPEN),
                                         or_(c.handler_kind == "staff", c.deadline < now,
                                             and_(c.state == CaseState.ESCALATED.value, c.escalation_deadline < now))),
                                    and_(c.state == CaseState.RESOLVED.value, c.on_site.is_(False))))
            .order_by(c.deadline).limit(limit)))

    async def due(self, now: datetime) -> list[tuple[Case, datetime | None]]:
        """Cases whose next check moment has come (for reminders), each with its half-time moment.

        Only those: a case already reminded waits, unread, for its next moment (`check_again`)."""
        rows = list(await self.conn.execute(_DUE, {"now": now}))
        half = {r.id: r.half_time_at for r in rows}
        return [(case, half[case.id]) for case in await self._load(rows)]

    async def check_again(self, case: Case, at: datetime | None) -> None:
        """Set when the sweep looks at `case` next; left alone if the case was written since it was
        loaded (that write asked for a look of its own, with the new moments)."""
        await self.conn.execute(_CHECK_AGAIN, {"case_id": case.id, "loaded_at": case.updated_at, "at": at})

    # ---- retention ----------------------------------------------------------------------

    async def finished_with_photos(self, closed_before: datetime, limit: int = 500) -> list[Case]:
        """Finished cases closed before `closed_before` that still have photo rows, oldest first."""
        c = cases.c
        has_photos = exists().where(case_photos.c.case_id == c.id)
        return await self._load(await self.conn.execute(
            select(cases).where(c.state.in_([s.value for s in FINISHED_STATES]), c.closed_at < closed_before,
                                has_photos).order_by(c.closed_at, c.id).limit(limit)))

    async def forget_photos(self, case: Case) -> None:
        """Remove the case's photo rows and save the events its transition recorded."""
        await self.conn.execute(delete(case_photos).where(case_photos.c.case_id == case.id))
        await self._flush_events(case)
