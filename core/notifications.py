"""Notifications: what core asks to tell a person, said once, delivered later by the outbox.

Core never talks to a chat. A service adds a Notification through the unit of work, in the
same transaction as the change that caused it; a channel renders `kind` + `payload` in the
person's language and the delivery worker sends it within the channel's limits.

`KINDS` is every kind core asks a channel to say: a channel renders each of them in every language
it speaks (tests/test_volunteer_texts.py holds the Telegram renderer to that in zh and en). The
services name their kind through `declared`, which refuses one that is not in `KINDS`, so a new kind
is declared here before any test can send it.
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


KINDS: frozenset[str] = frozenset({
    # the report loop (core/cases_services.py); payloads carry "case" (its number)
    "case.new_for_handler", "case.on_desk", "case.accepted", "case.resolved", "case.confirmed",
    "case.reopened", "case.supporter_not_fixed", "case.forwarded", "case.escalated_to_you",
    "case.escalated", "case.claimed", "case.claimed_for_resident", "case.rejected", "case.merged",
    "case.auto_closed", "case.auto_closed_for_resident", "case.claim_overdue_for_department",
    "case.claim_overdue", "case.overdue", "case.due_soon", "case.half_time",
    "case.closed_reporter_left", "case.reporter_left", "case.reporter_left_closed",  # the reporter used /forget
    "case.voice_note",  # a resident's voice note to play (core/voice_services.py): payload "file", "seconds"
    # party members' registration "双报到" (core/volunteering/registration_services.py)
    "party.registration_requested", "party.registration_approved", "party.registration_declined",
    # residents' orders "群众点单" (core/volunteering/orders_services.py)
    "order.new", "order.dispatched", "order.declined",
    "order.voice_note",  # the resident's voice note describing it, to play (core/voice_services.py)
    # posts and claims, attendance (core/volunteering/posts_services.py, attendance_services.py)
    "post.new", "post.coming", "post.promoted", "post.reminder", "post.to_confirm",
    "post.member_suspended", "post.member_restored",
    # points (core/points_services.py, attendance_services.py)
    "points.earned", "points.redeemed", "points.report_earned",
    # the theme day on the 28th (core/theme_day_services.py)
    "theme.announce", "theme.summary_staff", "theme.summary_member",
    # broadcasts: a community notice (core/notices.py) and the summary to whoever started a
    # broadcast (storage/broadcasts.py)
    "notice.community", "broadcast.finished",
})


class UndeclaredKind(ValueError):
    """A service asked to send a kind that is not in `KINDS`: no channel is bound to render it."""


def declared(kind: str) -> str:
    """`kind` itself, once checked to be one of `KINDS` (the services' notifications go through here)."""
    if kind not in KINDS:
        raise UndeclaredKind(f"notification kind {kind!r} is not declared in core.notifications.KINDS")
    return kind


class Outbox(Protocol):
    async def add(self, notification: Notification) -> None: ...


# The report loop's kinds: their payload carries "case" (its number).
CASE_KINDS: frozenset[str] = frozenset(kind for kind in KINDS if kind.startswith("case."))
