"""Open311 GeoReport v2: cities' 12345 hotlines and map portals read and file reports through it.

What leaves: the report's kind, its state as open/closed with notes, the place (the building's address
and position: a public place), who is responsible (a kind of handler, never a name), and the moments
(reported, changed, expected = the deadline). What never leaves: names, phones, residents' words
and photos — except a client's own report, whose description and photo go back to the client that
filed it. A client is registered with `redgrid open311-key CLIENT` and files with its api_key; a
report it files is a case like any other (the same core command, the same routing), its reporter
the client's own person (no chat account: nobody is messaged).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from core.cases import OPEN_STATES, CaseState, Category, HandlerKind
from core.errors import DomainError

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
DEFAULT_DAYS = 90          # the spec's default window for GET requests without dates


class ApiKeyInvalid(DomainError):
    key = "open311.api_key_invalid"


class NoPlace(DomainError):
    """Neither a known address_id nor a position near one of our buildings."""

    key = "open311.no_place"


@dataclass
class Open311Client:
    id: int | None
    name: str
    key_hash: str
    person_id: int
    created_at: datetime
    revoked: bool = False


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def status_of(state: CaseState | str) -> str:
    """GeoReport's two states: resolved but not confirmed is still open (the resident may send it back)."""
    return "open" if CaseState(state) in OPEN_STATES | {CaseState.RESOLVED} else "closed"


def states_of(status: str) -> tuple[str, ...]:
    if status == "open":
        return tuple(s.value for s in OPEN_STATES | {CaseState.RESOLVED})
    return tuple(s.value for s in (CaseState.CLOSED, CaseState.REJECTED, CaseState.MERGED))


@dataclass(frozen=True)
class RequestFilter:
    """GET requests: every field narrows; `numbers` are service_request_ids."""

    community_ids: tuple[int, ...] | None = None   # None: every community
    numbers: tuple[str, ...] = ()
    categories: tuple[Category, ...] = ()
    statuses: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None   # south, north, west, east
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE


@dataclass(frozen=True)
class PublicRequest:
    """A case as Open311 shows it. `description` and `photo` are set only for the client that filed it."""

    number: str
    category: Category
    state: CaseState
    closure_reason: str | None
    resolution_note: str | None
    handler_kind: HandlerKind | None
    requested: datetime
    updated: datetime
    expected: datetime
    address: str
    lat: float | None
    lon: float | None
    filed_by: int | None = None          # the client that filed it (None: a resident in chat)
    description: str | None = None
    photo: str | None = None             # SHA-256 of its first before-photo

    @property
    def status(self) -> str:
        return status_of(self.state)
