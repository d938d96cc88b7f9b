"""The dashboard's sign-in: issue a one-time link (in chat), take it (on the web), and who the viewer is."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from core.access import desk_communities
from core.cases import Actor
from core.errors import NotAllowed
from core.events import Event
from core.ids import saved_id
from core.onboarding import roles_of
from core.ports import UnitOfWork
from core.sign_in import SIGN_IN_TTL, SignInLink, SignInLinkInvalid, token_hash


async def issue_link(uow: UnitOfWork, by: Actor, now: datetime, ttl: timedelta = SIGN_IN_TTL) -> str:
    """A new one-time token for `by`, who must keep a desk (staff, or an administrator)."""
    await desk_communities(uow, by, action="dashboard")
    token = secrets.token_urlsafe(24)
    await uow.sign_ins.add(SignInLink(token_hash(token), by.person_id, now, now + ttl))
    await uow.events.add(Event("person", str(by.person_id), "dashboard_link_issued", now, by.person_id))
    return token


async def take_link(uow: UnitOfWork, token: str, now: datetime) -> Actor:
    """The person a token was issued to, once, within its time; SignInLinkInvalid otherwise."""
    person_id = await uow.sign_ins.use(token_hash(token), now)
    if person_id is None:
        raise SignInLinkInvalid()
    viewer = await viewer_of(uow, person_id)
    await uow.events.add(Event("person", str(person_id), "dashboard_signed_in", now, person_id))
    return viewer


async def viewer_of(uow: UnitOfWork, person_id: int) -> Actor:
    """The dashboard's viewer as of now: NotAllowed when they keep no desk any more."""
    person = await uow.people.get(person_id)
    if person is None:
        raise NotAllowed(action="dashboard")
    viewer = Actor(saved_id(person), await roles_of(uow, person))
    await desk_communities(uow, viewer, action="dashboard")
    return viewer
