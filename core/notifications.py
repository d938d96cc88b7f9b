"""Notifications: what core asks to tell a person, said once, delivered later by the outbox.

Core never talks to a chat. A service adds a Notification through the unit of work, in the
same transaction as the change that caused it; a channel renders `kind` + `payload` in the
person's language and the delivery worker sends it within the channel's limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Notification:
    person_id: int
    kind: str                                   # what happened, e.g. "case.assigned"
    payload: dict[str, Any] = field(default_factory=dict)  # ids and values the renderer needs (JSON)
    dedupe_key: str | None = None               # the same key twice is one message ("case:DC-1:half_time")
    broadcast_id: int | None = None             # part of a broadcast whose progress staff watch
    not_before: datetime | None = None          # not sent earlier (quiet hours); None: as soon as possible


class Outbox(Protocol):
    async def add(self, notification: Notification) -> None: ...
