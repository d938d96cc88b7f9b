"""Every state change is an event: who, when, what, and the state before and after.

History, audit and statistics are all read from events, so a transition that changes
state without recording one is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Event:
    subject_type: str          # "person", "invite", "case", "post" …
    subject_id: str
    kind: str                  # "resident_registered", "invite_redeemed" …
    at: datetime
    actor_id: int | None       # the person who made the change; None = the system (clock, import)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    id: int | None = field(default=None, compare=False)
