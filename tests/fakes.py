"""An in-memory unit of work: core's ports (`core.ports`) without a database, for service tests that
need no SQL. mypy checks this module against the ports (pyproject [tool.mypy] `files`).

`FakeDatabase().uow()` opens a unit of work like `storage.uow.Database.uow()`: what it changes is
kept on `commit` and undone when it is left without one. Objects go in and come out as copies, as
rows do, so a service that changes a loaded case has changed nothing until it saves it.

Faked: places, people, invites, bind codes, events, the outbox, cases and the points ledger. Orders, posts,
claims, standings, theme-day templates and broadcasts are not: their tests run on the databases
(tests/test_volunteer_services.py), and a call here says so.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import TracebackType
from typing import Any, Awaitable, Callable, Iterable, NoReturn, Sequence, TypeVar

from core.cases import FINISHED_STATES, OPEN_STATES, Case, CaseState, Category, HandlerKind, PhotoKind
from core.consent import Consent
from core.disclosure import AuditEntry
from core.duplicates import CaseSpot
from core.limits import Suspension
from core.events import Event
from core.binding import BindCode
from core.invites import Invite
from core.notifications import Notification
from core.people import Account, Department, GrantStatus, Identity, Person, Role, RoleGrant
from core.places import Address, Building, Community, Compound, District, Grid, Street, bounding_box
from core.points import AlreadyCredited, NotEnoughPoints, PointsEntry
from core.ports import UnitOfWork, UnitOfWorkScope
from core.theme_day import ThemeDayTemplate
from core.volunteering.orders import Order
from core.volunteering.posts import Claim, Post, Standing
from core.voice import VoiceNote

T = TypeVar("T")
Place = District | Street | Community | Compound | Grid | Building


def _not_faked(what: str) -> NoReturn:
    raise NotImplementedError(f"{what} is not faked: run this test on the databases")


@dataclass
class FakeState:
    """Everything a FakeDatabase holds; a unit of work keeps a copy to go back to."""

    places: dict[type, dict[int, Any]] = field(default_factory=dict)
    persons: dict[int, Person] = field(default_factory=dict)
    identities: list[Identity] = field(default_factory=list)
    grants: list[RoleGrant] = field(default_factory=list)
    departments: dict[int, Department] = field(default_factory=dict)
    invites: dict[str, Invite] = field(default_factory=dict)
    bind_codes: dict[int, BindCode] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    cases: dict[int, Case] = field(default_factory=dict)
    half_time: dict[int, datetime | None] = field(default_factory=dict)
    next_check: dict[int, datetime | None] = field(default_factory=dict)
    case_numbers: dict[tuple[int, int], int] = field(default_factory=dict)
    points: list[PointsEntry] = field(default_factory=list)
    consents: list[Consent] = field(default_factory=list)
    done_keys: set[str] = field(default_factory=set)
    audit: list[AuditEntry] = field(default_factory=list)
    suspensions: dict[int, Suspension] = field(default_factory=dict)
    voice_notes: list[VoiceNote] = field(default_factory=list)
    last_id: int = 0

    def new_id(self) -> int:
        self.last_id += 1
        return self.last_id


class _Repo:
    def __init__(self, state: FakeState) -> None:
        self.s = state


class FakePlaces(_Repo):
    def _all(self, kind: type[T]) -> list[T]:
        return [copy.copy(p) for p in self.s.places.get(kind, {}).values()]

    def _get(self, kind: type[T], place_id: int) -> T | None:
        place = self.s.places.get(kind, {}).get(place_id)
        return copy.copy(place) if place is not None else None

    def _named(self, kind: type[T], **where: Any) -> T | None:
        return next((p for p in self._all(kind) if all(getattr(p, k) == v for k, v in where.items())), None)

    async def communities(self) -> Sequence[Community]:
        return self._all(Community)

    async def community(self, community_id: int) -> Community | None:
        return self._get(Community, community_id)

    async def compounds(self, community_id: int) -> Sequence[Compound]:
        return [c for c in self._all(Compound) if c.community_id == community_id]

    async def compound(self, compound_id: int) -> Compound | None:
        return self._get(Compound, compound_id)

    async def grids(self, community_id: int | None = None) -> Sequence[Grid]:
        return [g for g in self._all(Grid) if community_id is None or await self._community_of(g) == community_id]

    async def _community_of(self, grid: Grid) -> int | None:
        compound = self._get(Compound, grid.compound_id)
        return compound.community_id if compound else None

    async def grid(self, grid_id: int) -> Grid | None:
        return self._get(Grid, grid_id)

    async def buildings_of_compound(self, compound_id: int) -> Sequence[Building]:
        grids = {g.id for g in self._all(Grid) if g.compound_id == compound_id}
        return [b for b in self._all(Building) if b.grid_id in grids]

    async def buildings_with_position(self) -> Sequence[Building]:
        return [b for b in self._all(Building) if b.has_position]

    async def building(self, building_id: int) -> Building | None:
        return self._get(Building, building_id)

    async def address(self, building_id: int) -> Address | None:
        building = self._get(Building, building_id)
        grid = self._get(Grid, building.grid_id) if building else None
        compound = self._get(Compound, grid.compound_id) if grid else None
        community = self._get(Community, compound.community_id) if compound else None
        if building is None or grid is None or compound is None or community is None:
            return None
        return Address(community, compound, grid, building)

    async def grid_community_id(self, grid_id: int) -> int | None:
        grid = self._get(Grid, grid_id)
        return await self._community_of(grid) if grid else None

    async def district_named(self, name: str) -> District | None:
        return self._named(District, name=name)

    async def street_named(self, district_id: int, name: str) -> Street | None:
        return self._named(Street, district_id=district_id, name=name)

    async def community_named(self, street_id: int, name: str) -> Community | None:
        return self._named(Community, street_id=street_id, name=name)

    async def compound_named(self, community_id: int, name: str) -> Compound | None:
        return self._named(Compound, community_id=community_id, name=name)

    async def grid_named(self, compound_id: int, name: str) -> Grid | None:
        return self._named(Grid, compound_id=compound_id, name=name)

    async def building_named(self, compound_id: int, name: str) -> Building | None:
        return next((b for b in await self.buildings_of_compound(compound_id) if b.name == name), None)

    async def add(self, place: Place) -> None:
        place.id = self.s.new_id()
        self.s.places.setdefault(type(place), {})[place.id] = copy.copy(place)

    async def update(self, place: Place) -> None:
        assert place.id is not None
        self.s.places.setdefault(type(place), {})[place.id] = copy.copy(place)


class FakePeople(_Repo):
    async def get(self, person_id: int) -> Person | None:
        person = self.s.persons.get(person_id)
        return copy.copy(person) if person else None

    async def by_identity(self, channel: str, external_id: str) -> Person | None:
        identity = await self.identity(channel, external_id)
        return await self.get(identity.person_id) if identity else None

    async def account(self, channel: str, external_id: str) -> Account | None:
        identity = await self.identity(channel, external_id)
        person = await self.get(identity.person_id) if identity else None
        if identity is None or person is None:
            return None
        return Account(person, identity, list(await self.grants(identity.person_id)))

    async def display_names(self, person_ids: Sequence[int]) -> dict[int, str]:
        return {i: self.s.persons[i].display_name for i in person_ids if i in self.s.persons}

    async def by_phone(self, phone: str) -> Person | None:
        return next((copy.copy(p) for p in self.s.persons.values() if p.phone == phone), None)

    async def add(self, person: Person) -> None:
        person.id = self.s.new_id()
        self.s.persons[person.id] = copy.copy(person)

    async def update(self, person: Person) -> None:
        assert person.id is not None
        self.s.persons[person.id] = copy.copy(person)

    async def identities(self, person_id: int) -> Sequence[Identity]:
        return [copy.copy(i) for i in self.s.identities if i.person_id == person_id]

    async def identity(self, channel: str, external_id: str) -> Identity | None:
        return next((copy.copy(i) for i in self.s.identities
                     if (i.channel, i.external_id) == (channel, external_id)), None)

    async def add_identity(self, identity: Identity) -> None:
        identity.id = self.s.new_id()
        self.s.identities.append(copy.copy(identity))

    async def update_identity(self, identity: Identity) -> None:
        self.s.identities = [copy.copy(identity) if i.id == identity.id else i for i in self.s.identities]

    async def grants(self, person_id: int) -> Sequence[RoleGrant]:
        return [copy.copy(g) for g in self.s.grants if g.person_id == person_id]

    async def add_grant(self, grant: RoleGrant) -> None:
        grant.id = self.s.new_id()
        self.s.grants.append(copy.copy(grant))

    async def update_grant(self, grant: RoleGrant) -> None:
        self.s.grants = [copy.copy(grant) if g.id == grant.id else g for g in self.s.grants]

    def _holding(self, role: Role, **where: Any) -> list[Person]:
        ids = {g.person_id for g in self.s.grants if g.role == role and g.status == GrantStatus.ACTIVE
               and all(getattr(g, k) == v for k, v in where.items())}
        return [copy.copy(self.s.persons[i]) for i in sorted(ids)]

    async def grid_members(self, grid_id: int) -> Sequence[Person]:
        return self._holding(Role.GRID_MEMBER, grid_id=grid_id)

    async def with_role(self, role: Role, community_id: int | None = None) -> Sequence[Person]:
        return self._holding(role, **({"community_id": community_id} if community_id is not None else {}))

    async def department(self, department_id: int) -> Department | None:
        department = self.s.departments.get(department_id)
        return copy.copy(department) if department else None

    async def department_named(self, name: str) -> Department | None:
        return next((copy.copy(d) for d in self.s.departments.values() if d.name == name), None)

    async def add_department(self, department: Department) -> None:
        department.id = self.s.new_id()
        self.s.departments[department.id] = copy.copy(department)


class FakeInvites(_Repo):
    async def get(self, code: str) -> Invite | None:
        invite = self.s.invites.get(code)
        return copy.copy(invite) if invite else None

    async def add(self, invite: Invite) -> None:
        self.s.invites[invite.code] = copy.copy(invite)

    async def update(self, invite: Invite) -> None:
        self.s.invites[invite.code] = copy.copy(invite)


class FakeBindCodes(_Repo):
    async def get(self, code: str) -> BindCode | None:
        same = [c for c in self.s.bind_codes.values() if c.code == code]
        return copy.copy(max(same, key=lambda c: c.id or 0)) if same else None

    async def live_of_person(self, person_id: int, now: datetime) -> list[BindCode]:
        return [copy.copy(c) for c in self.s.bind_codes.values() if c.person_id == person_id and c.used_at is None
                and not c.revoked and c.expires_at > now]

    async def add(self, code: BindCode) -> None:
        code.id = self.s.new_id()
        self.s.bind_codes[code.id] = copy.copy(code)

    async def update(self, code: BindCode) -> None:
        assert code.id is not None
        self.s.bind_codes[code.id] = copy.copy(code)


class FakeEvents(_Repo):
    async def add(self, event: Event) -> None:
        self.s.events.append(event)

    async def of(self, subject_type: str, subject_id: str) -> Sequence[Event]:
        return [e for e in self.s.events if (e.subject_type, e.subject_id) == (subject_type, subject_id)]


class FakeOutbox(_Repo):
    async def add(self, notification: Notification) -> None:
        """The same dedupe key twice is one message, as in the outbox table."""
        key = notification.dedupe_key
        if key is None or all(n.dedupe_key != key for n in self.s.notifications):
            self.s.notifications.append(notification)


class FakeCases(_Repo):
    def __init__(self, state: FakeState, events: FakeEvents) -> None:
        super().__init__(state)
        self.events = events

    async def next_number(self, community_id: int, year: int) -> int:
        n = self.s.case_numbers.get((community_id, year), 0) + 1
        self.s.case_numbers[(community_id, year)] = n
        return n

    async def _write(self, case: Case) -> None:
        assert case.id is not None
        for event in case.pending_events:
            await self.events.add(event)
        case.pending_events.clear()
        self.s.cases[case.id] = copy.deepcopy(case)
        # as storage: a written case the clock still watches is looked at by the next sweep
        self.s.next_check[case.id] = case.updated_at if case.is_open or case.state == CaseState.RESOLVED else None

    async def add(self, case: Case, half_time_at: datetime | None = None) -> None:
        case.id = self.s.new_id()
        self.s.half_time[case.id] = half_time_at
        await self._write(case)

    async def save(self, case: Case, *, half_time_at: datetime | None = None) -> None:
        assert case.id in self.s.cases, "save of a case never added"
        if half_time_at is not None:
            self.s.half_time[case.id] = half_time_at
        await self._write(case)

    def _all(self) -> list[Case]:
        return [copy.deepcopy(c) for c in self.s.cases.values()]

    async def by_number(self, number: str, *, for_update: bool = False) -> Case | None:
        return next((c for c in self._all() if c.number == number), None)

    async def by_id(self, case_id: int, *, for_update: bool = False) -> Case | None:
        case = self.s.cases.get(case_id)
        return copy.deepcopy(case) if case else None

    async def of_reporter(self, person_id: int, limit: int = 20) -> Sequence[Case]:
        mine = [c for c in self._all() if c.reporter_id == person_id or person_id in c.me_too]
        return sorted(mine, key=lambda c: -(c.id or 0))[:limit]

    async def handled_by(self, person_id: int, limit: int = 20) -> Sequence[Case]:
        return sorted((c for c in self._all() if c.handler_id == person_id and c.is_open),
                      key=lambda c: c.deadline)[:limit]

    async def open_in_community(self, community_id: int, category: Category | None = None,
                                since: datetime | None = None) -> Sequence[Case]:
        return [c for c in self._all() if c.community_id == community_id and c.is_open
                and (category is None or c.category == category) and (since is None or c.created_at >= since)]

    async def near(self, community_id: int, category: Category, building_id: int | None, lat: float | None,
                   lon: float | None, within_m: float, since: datetime, limit: int = 20) -> Sequence[CaseSpot]:
        box = bounding_box(lat, lon, within_m) if lat is not None and lon is not None else None

        def at_place(c: Case) -> bool:
            if building_id is not None and c.building_id == building_id:
                return True
            if box is None or c.lat is None or c.lon is None:
                return False
            south, north, west, east = box
            return south <= c.lat <= north and west <= c.lon <= east

        found = [c for c in await self.open_in_community(community_id, category, since) if at_place(c)]
        return [CaseSpot(c.number, c.category, c.state, c.building_id, c.lat, c.lon, c.created_at)
                for c in sorted(found, key=lambda c: -(c.id or 0))[:limit]]

    async def before_photo_hashes(self, community_id: int, since: datetime) -> Sequence[tuple[str, int]]:
        return [(c.number, p.dhash) for c in await self.open_in_community(community_id, since=since)
                for p in c.photos_of(PhotoKind.BEFORE) if p.dhash is not None]

    async def desk(self, community_ids: set[int], now: datetime, limit: int = 30) -> Sequence[Case]:
        def waiting(c: Case) -> bool:
            claim_late = (c.state == CaseState.ESCALATED and c.escalation_deadline is not None
                          and c.escalation_deadline < now)
            return c.handler_kind == HandlerKind.STAFF or c.deadline < now or claim_late

        return sorted((c for c in self._all() if c.community_id in community_ids and c.is_open and waiting(c)),
                      key=lambda c: c.deadline)[:limit]

    async def due(self, now: datetime) -> Sequence[tuple[Case, datetime | None]]:
        ids = sorted((i for i, at in self.s.next_check.items() if at is not None and at <= now),
                     key=lambda i: self.s.next_check[i] or now)
        return [(copy.deepcopy(self.s.cases[i]), self.s.half_time.get(i)) for i in ids]

    async def check_again(self, case: Case, at: datetime | None) -> None:
        assert case.id is not None
        if self.s.cases[case.id].updated_at == case.updated_at:
            self.s.next_check[case.id] = at

    async def finished_with_photos(self, closed_before: datetime, limit: int = 500) -> Sequence[Case]:
        found = [c for c in self._all() if c.state in FINISHED_STATES and c.photos and c.closed_at is not None
                 and c.closed_at < closed_before]
        return sorted(found, key=lambda c: (c.closed_at, c.id))[:limit]

    async def forget_photos(self, case: Case) -> None:
        assert case.id is not None
        for event in case.pending_events:
            await self.events.add(event)
        case.pending_events.clear()
        self.s.cases[case.id].photos = []


class FakeAudit(_Repo):
    async def add(self, entries: Sequence[AuditEntry]) -> None:
        for entry in entries:
            self.s.audit.append(replace(entry, id=self.s.new_id()))

    async def entries(self, *, person_id: int | None = None, since: datetime | None = None,
                      until: datetime | None = None, limit: int = 1000) -> Sequence[AuditEntry]:
        return [e for e in self.s.audit if (person_id is None or e.person_id == person_id)
                and (since is None or e.at >= since) and (until is None or e.at < until)][:limit]


class FakeLimits(_Repo):
    async def reports_since(self, person_id: int, since: datetime) -> int:
        return sum(1 for c in self.s.cases.values() if c.reporter_id == person_id and c.created_at >= since)

    async def orders_since(self, person_id: int, since: datetime) -> int:
        _not_faked("orders")

    async def suspension(self, person_id: int) -> Suspension | None:
        return self.s.suspensions.get(person_id)

    async def suspend(self, suspension: Suspension) -> None:
        self.s.suspensions[suspension.person_id] = suspension

    async def lift(self, person_id: int) -> None:
        self.s.suspensions.pop(person_id, None)


class FakeVolunteering(_Repo):
    """The points ledger and the scheduler's done keys; the rest is for the databases' tests."""

    async def next_number(self, community_id: int, year: int, kind: str) -> int:
        _not_faked("volunteering.next_number")

    async def pending_registrations(self, community_id: int) -> Sequence[tuple[Person, RoleGrant]]:
        _not_faked("volunteering.pending_registrations")

    async def add_order(self, order: Order) -> None:
        _not_faked("orders")

    async def save_order(self, order: Order) -> None:
        _not_faked("orders")

    async def order(self, number: str, *, for_update: bool = False) -> Order | None:
        _not_faked("orders")

    async def orders_in_state(self, community_id: int, state: str) -> Sequence[Order]:
        _not_faked("orders")

    async def add_post(self, post: Post, theme_day: date | None = None) -> bool:
        _not_faked("posts")

    async def save_post(self, post: Post) -> None:
        _not_faked("posts")

    async def post(self, number: str) -> Post | None:
        _not_faked("posts")

    async def open_posts(self, community_id: int, now: datetime) -> Sequence[Post]:
        _not_faked("posts")

    async def unsettled_posts(self, community_id: int, now: datetime, limit: int = 20) -> Sequence[Post]:
        _not_faked("posts")

    async def posts_starting(self, after: datetime, until: datetime) -> Sequence[Post]:
        _not_faked("posts")

    async def ended_posts(self, now: datetime, limit: int = 200) -> Sequence[Post]:
        _not_faked("posts")

    async def theme_posts(self, community_id: int, day: date) -> Sequence[Post]:
        _not_faked("posts")

    async def claim(self, post_number: str, person_id: int) -> Claim | None:
        _not_faked("claims")

    async def add_claim(self, claim: Claim) -> None:
        _not_faked("claims")

    async def save_claim(self, claim: Claim) -> None:
        _not_faked("claims")

    async def claims_of_post(self, post_number: str) -> Sequence[Claim]:
        _not_faked("claims")

    async def claims_of_posts(self, post_numbers: Sequence[str]) -> Sequence[Claim]:
        _not_faked("claims")

    async def claims_of_person(self, person_id: int, states: Iterable[str]) -> Sequence[tuple[Claim, Post]]:
        _not_faked("claims")

    async def claims_in_community(self, community_id: int, start: datetime,
                                  end: datetime) -> Sequence[tuple[Claim, Post]]:
        _not_faked("claims")

    async def standing(self, person_id: int, community_id: int) -> Standing | None:
        _not_faked("standings")

    async def save_standing(self, standing: Standing) -> None:
        _not_faked("standings")

    async def add_template(self, template: ThemeDayTemplate) -> None:
        _not_faked("theme-day templates")

    async def save_template(self, template: ThemeDayTemplate) -> None:
        _not_faked("theme-day templates")

    async def template(self, template_id: int) -> ThemeDayTemplate | None:
        _not_faked("theme-day templates")

    async def templates(self, community_id: int, *, active_only: bool = True) -> Sequence[ThemeDayTemplate]:
        _not_faked("theme-day templates")

    async def points_entries(self, person_id: int, community_id: int) -> Sequence[PointsEntry]:
        return [e for e in self.s.points if (e.person_id, e.community_id) == (person_id, community_id)]

    async def points_between(self, community_id: int, start: datetime, end: datetime) -> Sequence[PointsEntry]:
        return sorted((e for e in self.s.points if e.community_id == community_id and start <= e.at < end),
                      key=lambda e: e.at)

    async def add_points(self, entry: PointsEntry) -> None:
        """Once per reason and ref (else AlreadyCredited); never below zero (else NotEnoughPoints)."""
        if any((e.person_id, e.community_id, e.reason, e.ref) == (entry.person_id, entry.community_id,
                                                                 entry.reason, entry.ref) for e in self.s.points):
            raise AlreadyCredited(reason=entry.reason.value, ref=entry.ref)
        balance = await self.balance(entry.person_id, entry.community_id)
        if entry.delta < 0 and balance + entry.delta < 0:
            raise NotEnoughPoints(balance=balance, needed=-entry.delta)
        self.s.points.append(replace(entry, id=self.s.new_id()))

    async def balance(self, person_id: int, community_id: int) -> int:
        return sum(e.delta for e in await self.points_entries(person_id, community_id))

    async def balances(self, community_id: int) -> dict[int, int]:
        totals: dict[int, int] = {}
        for e in self.s.points:
            if e.community_id == community_id:
                totals[e.person_id] = totals.get(e.person_id, 0) + e.delta
        return totals

    async def save_events(self, events: Iterable[Event]) -> None:
        self.s.events.extend(events)

    async def done_keys(self, prefix: str) -> set[str]:
        return {k for k in self.s.done_keys if k.startswith(prefix)}

    async def mark_done(self, key: str, now: datetime) -> bool:
        if key in self.s.done_keys:
            return False
        self.s.done_keys.add(key)
        return True


class FakeBroadcasts(_Repo):
    async def start(self, title: str, person_ids: Iterable[int], kind: str, payload: dict[str, Any],
                    created_by: int | None, *, now: datetime, not_before: datetime | None = None,
                    progress_chat_id: str | None = None, progress_message_id: int | None = None) -> int:
        _not_faked("broadcasts")


class FakeStatistics(_Repo):
    """The dashboard's figures are counted by the database: their tests run on both (tests/test_statistics.py)."""

    def __getattr__(self, name: str) -> NoReturn:
        _not_faked(f"statistics.{name}")


class FakeConsents(_Repo):
    async def add(self, consent: Consent) -> None:
        consent.id = self.s.new_id()
        self.s.consents.append(replace(consent))

    async def of(self, person_id: int) -> Sequence[Consent]:
        return [replace(c) for c in self.s.consents if c.person_id == person_id]

    async def move(self, from_person_id: int, to_person_id: int) -> None:
        for consent in self.s.consents:
            if consent.person_id == from_person_id:
                consent.person_id = to_person_id


class FakePersonalData(_Repo):
    """/mydata and /forget walk the schema: they run on the databases (tests/test_personal_data.py)."""

    async def held_about(self, person_id: int, external_ids: Sequence[tuple[str, str]]) -> dict[str, Any]:
        _not_faked("personal data")

    async def cases_reported(self, person_id: int) -> Sequence[Case]:
        _not_faked("personal data")

    async def erase_accounts(self, person_id: int, external_ids: Sequence[tuple[str, str]]) -> dict[str, int]:
        _not_faked("personal data")

    async def erase_photos(self, person_id: int) -> list[str]:
        _not_faked("personal data")

    async def photos_in_use(self, sha256s: Sequence[str]) -> set[str]:
        _not_faked("personal data")

    async def leave_joined_cases(self, person_id: int) -> list[str]:
        _not_faked("personal data")

    async def redact(self, needles: Sequence[str], replacement: str) -> dict[str, int]:
        _not_faked("personal data")


class FakeVoiceNotes(_Repo):
    async def add(self, note: VoiceNote) -> None:
        note.id = self.s.new_id()
        self.s.voice_notes.append(replace(note))

    async def of_cases(self, case_ids: Sequence[int]) -> dict[int, list[VoiceNote]]:
        found: dict[int, list[VoiceNote]] = {}
        for note in self.s.voice_notes:
            if note.case_id is not None and note.case_id in case_ids:
                found.setdefault(note.case_id, []).append(replace(note))
        return found

    async def of_person(self, person_id: int) -> list[VoiceNote]:
        return [replace(n) for n in self.s.voice_notes if n.person_id == person_id]

    async def _erase(self, gone: list[VoiceNote]) -> list[str]:
        self.s.voice_notes = [n for n in self.s.voice_notes if n not in gone]
        still = {n.clip.file for n in self.s.voice_notes}
        return sorted({n.clip.file for n in gone} - still)

    async def erase_of_person(self, person_id: int) -> list[str]:
        return await self._erase([n for n in self.s.voice_notes if n.person_id == person_id])

    async def erase_of_case(self, case_id: int) -> list[str]:
        return await self._erase([n for n in self.s.voice_notes if n.case_id == case_id])


class FakeUnitOfWork:
    """One transaction on a FakeState: `commit` keeps the changes, `rollback` puts the state back."""

    def __init__(self, state: FakeState) -> None:
        self._state = state
        self._before = copy.deepcopy(state)
        self.places = FakePlaces(state)
        self.people = FakePeople(state)
        self.invites = FakeInvites(state)
        self.bind_codes = FakeBindCodes(state)
        self.events = FakeEvents(state)
        self.outbox = FakeOutbox(state)
        self.cases = FakeCases(state, self.events)
        self.volunteering = FakeVolunteering(state)
        self.broadcasts = FakeBroadcasts(state)
        self.audit = FakeAudit(state)
        self.limits = FakeLimits(state)
        self.statistics: Any = FakeStatistics(state)
        self.sign_ins: Any = FakeStatistics(state)  # not faked either: tests/test_dashboard.py runs on both
        self.open311: Any = FakeStatistics(state)  # nor Open311: tests/test_open311.py runs on both
        self.consents = FakeConsents(state)
        self.personal_data = FakePersonalData(state)
        self.voice_notes = FakeVoiceNotes(state)
        self._after_commit: list[Callable[[], Awaitable[None]]] = []

    def after_commit(self, action: Callable[[], Awaitable[None]]) -> None:
        self._after_commit.append(action)

    async def commit(self) -> None:
        self._before = copy.deepcopy(self._state)
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            await action()

    async def rollback(self) -> None:
        self._after_commit = []
        for name, value in vars(copy.deepcopy(self._before)).items():
            setattr(self._state, name, value)


class _Scope:
    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.uow: FakeUnitOfWork | None = None

    async def __aenter__(self) -> FakeUnitOfWork:
        self.uow = FakeUnitOfWork(self.state)
        return self.uow

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self.uow is not None
        await self.uow.rollback()  # what was committed stays: rollback goes back to the last commit


class FakeDatabase:
    """What opens fake units of work; `notifications` is the outbox as committed."""

    def __init__(self) -> None:
        self.state = FakeState()

    def uow(self) -> UnitOfWorkScope:
        return _Scope(self.state)

    def notifications(self, kind: str | None = None) -> list[Notification]:
        return [n for n in self.state.notifications if kind is None or n.kind == kind]


def _fits_the_port(uow: FakeUnitOfWork) -> UnitOfWork:
    """mypy: a FakeUnitOfWork is a UnitOfWork."""
    return uow
