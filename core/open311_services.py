"""Open311's commands and queries (definitions and what may leave: core/open311.py)."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Sequence

from core import cases_services
from core.cases import Actor, Case, Category, PhotoRef
from core.cases_services import ReportPolicy
from core.errors import NoBuildingNearby, NotFound
from core.events import Event
from core.ids import saved_id
from core.onboarding import roles_of
from core.open311 import (
    DEFAULT_DAYS, ApiKeyInvalid, NoPlace, Open311Client, PublicRequest, RequestFilter, key_hash,
)
from core.people import Person, Role, RoleGrant
from core.places import nearest_buildings
from core.ports import UnitOfWork


async def issue_key(uow: UnitOfWork, name: str, now: datetime) -> str:
    """A new api_key for the client `name` (registered now, or its old key replaced); shown once."""
    api_key = secrets.token_urlsafe(24)
    client = await uow.open311.client_named(name)
    if client is None:
        person = Person(None, f"Open311 · {name}"[:64], created_at=now)
        await uow.people.add(person)
        # the reporter of what the client files: a resident of no building, with no chat account
        await uow.people.add_grant(RoleGrant(None, saved_id(person), Role.RESIDENT, created_at=now))
        client = Open311Client(None, name, key_hash(api_key), saved_id(person), now)
        await uow.open311.add_client(client)
        kind = "open311_client_registered"
    else:
        client.key_hash, client.revoked = key_hash(api_key), False
        await uow.open311.save_client(client)
        kind = "open311_key_replaced"
    await uow.events.add(Event("open311", name, kind, now, None))
    return api_key


async def client_of(uow: UnitOfWork, api_key: str) -> Open311Client:
    client = await uow.open311.client_by_key(key_hash(api_key)) if api_key else None
    if client is None or client.revoked:
        raise ApiKeyInvalid()
    return client


async def file_request(uow: UnitOfWork, policy: ReportPolicy, client: Open311Client, category: Category, *,
                       photos: Sequence[PhotoRef], description: str, now: datetime, building_id: int | None = None,
                       lat: float | None = None, lon: float | None = None, max_m: float = 1000) -> tuple[Case, str]:
    """A report filed by a client: placed at the building it names or the nearest to its position, then
    the same command as a chat report (numbered, routed, the grid member told). Gives the case and a token."""
    if building_id is None:
        if lat is None or lon is None:
            raise NoPlace()
        try:
            building_id = saved_id(nearest_buildings(await uow.places.buildings_with_position(), lat, lon,
                                                     max_m=max_m, limit=1)[0][0])
        except NoBuildingNearby:
            raise NoPlace() from None
    elif await uow.places.building(building_id) is None:
        raise NoPlace()
    person = await uow.people.get(client.person_id)
    if person is None:
        raise ApiKeyInvalid()
    reporter = Actor(client.person_id, await roles_of(uow, person))
    case = await cases_services.report_problem(uow, policy, reporter, building_id, category, photos, description, now)
    token = secrets.token_urlsafe(12)
    await uow.open311.add_token(token, saved_id_of(client), case.number, now)
    return case, token


def saved_id_of(client: Open311Client) -> int:
    if client.id is None:
        raise ValueError("the client is not saved")
    return client.id


async def requests(uow: UnitOfWork, wanted: RequestFilter, now: datetime,
                   client: Open311Client | None = None) -> list[PublicRequest]:
    """Requests as GET requests lists them (the spec's 90 days when no dates are given)."""
    if wanted.start is None and wanted.end is None and not wanted.numbers:
        wanted = replace(wanted, start=now - timedelta(days=DEFAULT_DAYS))
    found = await uow.open311.requests(wanted)
    return [_for(client, r) for r in found]


async def request(uow: UnitOfWork, number: str, client: Open311Client | None = None) -> PublicRequest:
    found = await uow.open311.requests(RequestFilter(numbers=(number,), page_size=1))
    if not found:
        raise NotFound(what="request")
    return _for(client, found[0])


async def request_of_token(uow: UnitOfWork, token: str) -> str:
    number = await uow.open311.token(token)
    if number is None:
        raise NotFound(what="token")
    return number


def _for(client: Open311Client | None, found: PublicRequest) -> PublicRequest:
    """The reporter's own fields only for the client that filed it."""
    if client is not None and found.filed_by is not None and found.filed_by == client.id:
        return found
    return replace(found, description=None, photo=None)
