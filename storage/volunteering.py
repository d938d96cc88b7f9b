"""The volunteering repository (`uow.volunteering`): rows in, core dataclasses out.

Posts are saved with an optimistic check (`WHERE version = :loaded`), so of two units of work that
loaded the same post only the first save counts; the second raises `StaleWrite` and its service
reloads. Points keep a balance row per (person, community) changed by one conditional UPDATE, so two
redemptions at once can never take it below zero. `mark_done` inserts a scheduler key once.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.events import Event
from core.people import GrantStatus, Person, Role, RoleGrant
from core.points import AlreadyCredited, NotEnoughPoints, PointsEntry, PointsReason
from core.ports import StaleWrite
from core.theme_day import ThemeActivity, ThemeDayTemplate
from core.volunteering.common import ClaimState, OrderState, PostState, ServiceKind
from core.volunteering.orders import Order
from core.volunteering.posts import Claim, Post, Standing
from storage import tables as t
from storage.outbox import dialect_insert
from storage.repositories import SqlEvents
from storage.volunteer_tables import (
    done_jobs, points_balances, points_entries, theme_templates, volunteer_claims, volunteer_numbers,
    volunteer_orders, volunteer_posts, volunteer_standings,
)

P, C, O = volunteer_posts.c, volunteer_claims.c, volunteer_orders.c
CLAIMABLE = [PostState.OPEN.value, PostState.FULL.value]
# claims staff still have to settle once the post has started: mark a no-show, or confirm
# (and, once it has ended, a CHECKED_IN claim: check the member out for them, then confirm)
UNSETTLED = [ClaimState.CLAIMED.value, ClaimState.CHECKED_OUT.value]


def _order(row: Any) -> Order:
    m = row._mapping
    return Order(m["id"], m["number"], m["resident_id"], m["community_id"], ServiceKind(m["kind"]), m["description"],
                 m["preferred_time"], m["place"], OrderState(m["state"]), m["created_at"], m["updated_at"],
                 m["decline_reason"], m["post_number"])


def _order_values(order: Order) -> dict[str, Any]:
    return {"number": order.number, "resident_id": order.resident_id, "community_id": order.community_id,
            "kind": order.kind.value, "description": order.description, "preferred_time": order.preferred_time,
            "place": order.place, "state": order.state.value, "created_at": order.created_at,
            "updated_at": order.updated_at, "decline_reason": order.decline_reason, "post_number": order.post_number}


def _post(row: Any) -> Post:
    return _post_of(row._mapping)


def _post_of(m: Any) -> Post:
    return Post(m["id"], m["number"], m["community_id"], m["title"], m["starts_at"], m["ends_at"], m["place"],
                m["capacity"], m["points_per_person"], PostState(m["state"]), m["created_at"], m["updated_at"],
                skills=tuple(m["skills"] or ()), order_number=m["order_number"], template_id=m["template_id"],
                created_by=m["created_by"], places_taken=m["places_taken"], cancel_reason=m["cancel_reason"],
                version=m["version"])


def _post_values(post: Post) -> dict[str, Any]:
    return {"number": post.number, "community_id": post.community_id, "title": post.title,
            "starts_at": post.starts_at, "ends_at": post.ends_at, "place": post.place, "capacity": post.capacity,
            "points_per_person": post.points_per_person, "state": post.state.value, "created_at": post.created_at,
            "updated_at": post.updated_at, "skills": list(post.skills), "order_number": post.order_number,
            "template_id": post.template_id, "created_by": post.created_by, "places_taken": post.places_taken,
            "cancel_reason": post.cancel_reason}


_CLAIM_COLUMNS = [C.id, P.number.label("post_number"), C.person_id, C.state, C.queued_at, C.updated_at, C.claimed_at,
                  C.checked_in_at, C.check_in_photo, C.check_in_lat, C.check_in_lon, C.checked_out_at,
                  C.check_out_photo, C.served_seconds, C.rating, C.confirmed_by, C.check_in_on_site,
                  C.check_in_distance_m]


def _claim(m: Any) -> Claim:
    served = m["served_seconds"]
    return Claim(m["id"], m["post_number"], m["person_id"], ClaimState(m["state"]), m["queued_at"], m["updated_at"],
                 m["claimed_at"], m["checked_in_at"], m["check_in_photo"], m["check_in_lat"], m["check_in_lon"],
                 m["checked_out_at"], m["check_out_photo"], timedelta(seconds=served) if served is not None else None,
                 m["rating"], m["confirmed_by"], check_in_on_site=m["check_in_on_site"],
                 check_in_distance_m=m["check_in_distance_m"])


def _claim_values(claim: Claim) -> dict[str, Any]:
    return {"person_id": claim.person_id, "state": claim.state.value, "queued_at": claim.queued_at,
            "updated_at": claim.updated_at, "claimed_at": claim.claimed_at, "checked_in_at": claim.checked_in_at,
            "check_in_photo": claim.check_in_photo, "check_in_lat": claim.check_in_lat,
            "check_in_lon": claim.check_in_lon, "checked_out_at": claim.checked_out_at,
            "check_out_photo": claim.check_out_photo,
            "served_seconds": int(claim.served.total_seconds()) if claim.served is not None else None,
            "rating": claim.rating, "confirmed_by": claim.confirmed_by, "check_in_on_site": claim.check_in_on_site,
            "check_in_distance_m": claim.check_in_distance_m}


def _template(row: Any) -> ThemeDayTemplate:
    m = row._mapping
    return ThemeDayTemplate(m["id"], m["community_id"], m["title"], ThemeActivity(m["activity"]), m["place"],
                            m["capacity"], m["points_per_person"], timedelta(minutes=m["duration_min"]),
                            m["rest_day_starts"], m["workday_starts"], tuple(m["skills"] or ()), bool(m["active"]))


def _template_values(tpl: ThemeDayTemplate) -> dict[str, Any]:
    return {"community_id": tpl.community_id, "title": tpl.title, "activity": tpl.activity.value, "place": tpl.place,
            "capacity": tpl.capacity, "points_per_person": tpl.points_per_person,
            "duration_min": int(tpl.duration.total_seconds() // 60), "rest_day_starts": tpl.rest_day_starts,
            "workday_starts": tpl.workday_starts, "skills": list(tpl.skills), "active": tpl.active}


def _entry(row: Any) -> PointsEntry:
    m = row._mapping
    return PointsEntry(m["person_id"], m["community_id"], m["delta"], PointsReason(m["reason"]), m["ref"], m["at"],
                       m["by"], m["note"], id=m["id"])


class SqlVolunteering:
    def __init__(self, conn: AsyncConnection, events: SqlEvents) -> None:
        self.conn = conn
        self.events = events

    @property
    def _pg(self) -> bool:
        return self.conn.dialect.name == "postgresql"

    async def next_number(self, community_id: int, year: int, kind: str) -> int:
        """The community's next running number of the year for orders or posts (one upsert, race-free)."""
        n = volunteer_numbers.c
        stmt = (dialect_insert(self.conn, volunteer_numbers).values(community_id=community_id, year=year, kind=kind,
                                                                   last=1)
                .on_conflict_do_update(index_elements=["community_id", "year", "kind"], set_={"last": n.last + 1})
                .returning(n.last))
        return (await self.conn.execute(stmt)).scalar_one()

    async def save_events(self, events: Iterable[Event]) -> None:
        for event in events:
            await self.events.add(event)

    async def pending_registrations(self, community_id: int) -> list[tuple[Person, RoleGrant]]:
        g = t.role_grants.c
        rows = await self.conn.execute(
            select(t.persons.c.id.label("p_id"), t.persons.c.display_name, t.persons.c.language, t.persons.c.phone,
                   t.persons.c.created_at.label("p_created_at"), t.role_grants)
            .join(t.role_grants, g.person_id == t.persons.c.id)
            .where(g.role == Role.PARTY_MEMBER.value, g.status == GrantStatus.PENDING.value,
                   g.community_id == community_id).order_by(g.id))
        out = []
        for r in rows:
            m = r._mapping
            out.append((Person(m["p_id"], m["display_name"], m["language"], m["phone"], m["p_created_at"]),
                        RoleGrant(m["id"], m["person_id"], Role(m["role"]), GrantStatus(m["status"]),
                                  m["community_id"], m["grid_id"], m["building_id"], m["department_id"],
                                  m["work_unit"], m["granted_by"], m["created_at"])))
        return out

    # ---- orders ---------------------------------------------------------------------------

    async def add_order(self, order: Order) -> None:
        result = await self.conn.execute(insert(volunteer_orders).values(**_order_values(order)))
        order.id = result.inserted_primary_key[0]

    async def save_order(self, order: Order) -> None:
        await self.conn.execute(update(volunteer_orders).where(O.id == order.id).values(**_order_values(order)))

    async def order(self, number: str, *, for_update: bool = False) -> Order | None:
        stmt = select(volunteer_orders).where(O.number == number)
        if for_update and self._pg:
            stmt = stmt.with_for_update()  # two staff deciding at once: the second sees the first's decision
        row = (await self.conn.execute(stmt)).first()
        return _order(row) if row else None

    async def orders_in_state(self, community_id: int, state: str) -> list[Order]:
        rows = await self.conn.execute(select(volunteer_orders).where(O.community_id == community_id, O.state == state)
                                       .order_by(O.id))
        return [_order(r) for r in rows]

    # ---- posts ----------------------------------------------------------------------------

    async def add_post(self, post: Post, theme_day: date | None = None) -> bool:
        """Insert the post; a theme-day post whose (template, day) exists already is not added (False)."""
        values = {**_post_values(post), "version": post.version, "theme_day": theme_day}
        if post.template_id is not None:
            stmt = (dialect_insert(self.conn, volunteer_posts).values(**values)
                    .on_conflict_do_nothing(index_elements=["template_id", "theme_day"]).returning(P.id))
            row = (await self.conn.execute(stmt)).first()
            if row is None:
                return False
            post.id = row[0]
            return True
        result = await self.conn.execute(insert(volunteer_posts).values(**values))
        post.id = result.inserted_primary_key[0]
        return True

    async def save_post(self, post: Post) -> None:
        """Write the post if nobody changed it since it was loaded; else StaleWrite."""
        result = await self.conn.execute(
            update(volunteer_posts).where(P.id == post.id, P.version == post.version)
            .values(**_post_values(post), version=P.version + 1))
        if result.rowcount != 1:
            raise StaleWrite(post.number)
        post.version += 1

    async def post(self, number: str) -> Post | None:
        row = (await self.conn.execute(select(volunteer_posts).where(P.number == number))).first()
        return _post(row) if row else None

    async def _posts(self, stmt) -> list[Post]:
        return [_post(r) for r in await self.conn.execute(stmt)]

    async def open_posts(self, community_id: int, now: datetime) -> list[Post]:
        return await self._posts(select(volunteer_posts).where(
            P.community_id == community_id, P.state.in_(CLAIMABLE), P.starts_at > now).order_by(P.starts_at, P.id))

    async def unsettled_posts(self, community_id: int, now: datetime, limit: int = 20) -> list[Post]:
        """Posts started by `now` (not cancelled) with a claim in UNSETTLED, or ended by `now` with a
        claim still CHECKED_IN (the member forgot to check out), most recent first."""
        waiting = select(C.id).where(C.post_id == P.id, or_(
            C.state.in_(UNSETTLED), and_(C.state == ClaimState.CHECKED_IN.value, P.ends_at <= now))).exists()
        return await self._posts(select(volunteer_posts).where(
            P.community_id == community_id, P.state != PostState.CANCELLED.value, P.starts_at <= now, waiting)
            .order_by(P.starts_at.desc(), P.id.desc()).limit(limit))

    async def posts_starting(self, after: datetime, until: datetime) -> list[Post]:
        return await self._posts(select(volunteer_posts).where(
            P.state.in_(CLAIMABLE), P.starts_at > after, P.starts_at <= until).order_by(P.starts_at, P.id))

    async def ended_posts(self, now: datetime, limit: int = 200) -> list[Post]:
        return await self._posts(select(volunteer_posts).where(P.state.in_(CLAIMABLE), P.ends_at <= now)
                                 .order_by(P.ends_at, P.id).limit(limit))

    async def theme_posts(self, community_id: int, day: date) -> list[Post]:
        return await self._posts(select(volunteer_posts).where(P.community_id == community_id, P.theme_day == day)
                                 .order_by(P.starts_at, P.id))

    # ---- claims ---------------------------------------------------------------------------

    def _claims(self):
        return select(*_CLAIM_COLUMNS).select_from(volunteer_claims.join(volunteer_posts, P.id == C.post_id))

    async def claim(self, post_number: str, person_id: int) -> Claim | None:
        row = (await self.conn.execute(self._claims().where(P.number == post_number, C.person_id == person_id))).first()
        return _claim(row._mapping) if row else None

    async def add_claim(self, claim: Claim) -> None:
        post_id = (await self.conn.execute(select(P.id).where(P.number == claim.post_number))).scalar_one()
        result = await self.conn.execute(insert(volunteer_claims).values(post_id=post_id, **_claim_values(claim)))
        claim.id = result.inserted_primary_key[0]

    async def save_claim(self, claim: Claim) -> None:
        await self.conn.execute(update(volunteer_claims).where(C.id == claim.id).values(**_claim_values(claim)))

    async def claims_of_post(self, post_number: str) -> list[Claim]:
        return await self.claims_of_posts([post_number])

    async def claims_of_posts(self, post_numbers: Sequence[str]) -> list[Claim]:
        if not post_numbers:
            return []
        rows = await self.conn.execute(self._claims().where(P.number.in_(list(post_numbers))).order_by(C.id))
        return [_claim(r._mapping) for r in rows]

    async def _pairs(self, *conditions) -> list[tuple[Claim, Post]]:
        post_cols = [c.label(f"p_{c.name}") for c in volunteer_posts.columns]
        rows = await self.conn.execute(
            select(*_CLAIM_COLUMNS, *post_cols).select_from(volunteer_claims.join(volunteer_posts, P.id == C.post_id))
            .where(and_(*conditions)).order_by(P.starts_at, C.id))
        out = []
        for r in rows:
            m = r._mapping
            out.append((_claim(m), _post_of({c.name: m[f"p_{c.name}"] for c in volunteer_posts.columns})))
        return out

    async def claims_of_person(self, person_id: int, states: Iterable[str]) -> list[tuple[Claim, Post]]:
        return await self._pairs(C.person_id == person_id, C.state.in_(list(states)))

    async def claims_in_community(self, community_id: int, start: datetime, end: datetime) -> list[tuple[Claim, Post]]:
        return await self._pairs(P.community_id == community_id, P.starts_at >= start, P.starts_at < end)

    # ---- standings ------------------------------------------------------------------------

    async def standing(self, person_id: int, community_id: int) -> Standing | None:
        s = volunteer_standings.c
        row = (await self.conn.execute(select(volunteer_standings).where(
            s.person_id == person_id, s.community_id == community_id))).first()
        if row is None:
            return None
        return Standing(row.person_id, row.community_id, row.no_shows, bool(row.suspended), row.suspended_at,
                        row.no_shows_at_lift)

    async def save_standing(self, standing: Standing) -> None:
        values = {"no_shows": standing.no_shows, "suspended": standing.suspended,
                  "suspended_at": standing.suspended_at, "no_shows_at_lift": standing.no_shows_at_lift}
        stmt = (dialect_insert(self.conn, volunteer_standings)
                .values(person_id=standing.person_id, community_id=standing.community_id, **values)
                .on_conflict_do_update(index_elements=["person_id", "community_id"], set_=values))
        await self.conn.execute(stmt)

    # ---- theme-day templates --------------------------------------------------------------

    async def add_template(self, template: ThemeDayTemplate) -> None:
        result = await self.conn.execute(insert(theme_templates).values(**_template_values(template)))
        template.id = result.inserted_primary_key[0]

    async def save_template(self, template: ThemeDayTemplate) -> None:
        await self.conn.execute(update(theme_templates).where(theme_templates.c.id == template.id)
                                .values(**_template_values(template)))

    async def template(self, template_id: int) -> ThemeDayTemplate | None:
        row = (await self.conn.execute(select(theme_templates).where(theme_templates.c.id == template_id))).first()
        return _template(row) if row else None

    async def templates(self, community_id: int, *, active_only: bool = True) -> list[ThemeDayTemplate]:
        tt = theme_templates.c
        stmt = select(theme_templates).where(tt.community_id == community_id)
        if active_only:
            stmt = stmt.where(tt.active.is_(True))
        return [_template(r) for r in await self.conn.execute(stmt.order_by(tt.id))]

    # ---- points ---------------------------------------------------------------------------

    async def points_entries(self, person_id: int, community_id: int) -> list[PointsEntry]:
        e = points_entries.c
        rows = await self.conn.execute(select(points_entries).where(e.person_id == person_id,
                                                                    e.community_id == community_id).order_by(e.id))
        return [_entry(r) for r in rows]

    async def points_between(self, community_id: int, start: datetime, end: datetime) -> list[PointsEntry]:
        e = points_entries.c
        rows = await self.conn.execute(select(points_entries).where(
            e.community_id == community_id, e.at >= start, e.at < end).order_by(e.at, e.id))
        return [_entry(r) for r in rows]

    async def add_points(self, entry: PointsEntry) -> None:
        """The entry (once per reason and ref, else AlreadyCredited), then the balance row, changed only
        while it stays at or above zero (else NotEnoughPoints). Both refusals leave the caller to roll back.
        """
        added = await self.conn.execute(
            dialect_insert(self.conn, points_entries).values(
                person_id=entry.person_id, community_id=entry.community_id, delta=entry.delta,
                reason=entry.reason.value, ref=entry.ref, at=entry.at, by=entry.by, note=entry.note)
            .on_conflict_do_nothing(index_elements=["person_id", "community_id", "reason", "ref"]))
        if added.rowcount != 1:  # a double press, or two staff confirming at once: the other one counted
            raise AlreadyCredited(reason=entry.reason.value, ref=entry.ref)
        b = points_balances.c
        if entry.delta >= 0:
            await self.conn.execute(
                dialect_insert(self.conn, points_balances)
                .values(person_id=entry.person_id, community_id=entry.community_id, balance=entry.delta)
                .on_conflict_do_update(index_elements=["person_id", "community_id"],
                                       set_={"balance": b.balance + entry.delta}))
            return
        changed = await self.conn.execute(
            update(points_balances).where(b.person_id == entry.person_id, b.community_id == entry.community_id,
                                          b.balance + entry.delta >= 0)
            .values(balance=b.balance + entry.delta))
        if changed.rowcount != 1:
            raise NotEnoughPoints(balance=await self.balance(entry.person_id, entry.community_id),
                                  wanted=-entry.delta)

    async def balance(self, person_id: int, community_id: int) -> int:
        b = points_balances.c
        value = (await self.conn.execute(select(b.balance).where(
            b.person_id == person_id, b.community_id == community_id))).scalar()
        return value or 0

    async def balances(self, community_id: int) -> dict[int, int]:
        b = points_balances.c
        return {p: n for p, n in await self.conn.execute(
            select(b.person_id, b.balance).where(b.community_id == community_id))}

    # ---- the scheduler's done jobs --------------------------------------------------------

    async def done_keys(self, prefix: str) -> set[str]:
        k = done_jobs.c.key
        return {row[0] for row in await self.conn.execute(select(k).where(k.startswith(prefix, autoescape=True)))}

    async def mark_done(self, key: str, now: datetime) -> bool:
        """Insert the key; False when it was there already (the job ran, or runs in another process)."""
        stmt = (dialect_insert(self.conn, done_jobs).values(key=key, done_at=now)
                .on_conflict_do_nothing(index_elements=["key"]))
        return (await self.conn.execute(stmt)).rowcount == 1
