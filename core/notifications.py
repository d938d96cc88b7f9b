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


# Every kind of notification core (and the broadcasts it starts) puts in the outbox: what each channel's
# renderer must word. One list, so a channel that misses a kind fails its test instead of a person's
# message being dropped (tests/test_notification_kinds.py checks core's sources against it).
CASE_KINDS = (
    "case.new_for_handler", "case.on_desk", "case.accepted", "case.resolved", "case.confirmed", "case.reopened",
    "case.supporter_not_fixed", "case.forwarded", "case.escalated", "case.escalated_to_you", "case.claimed",
    "case.claimed_for_resident", "case.rejected", "case.merged", "case.half_time", "case.due_soon", "case.overdue",
    "case.claim_overdue", "case.claim_overdue_for_department", "case.auto_closed", "case.auto_closed_for_resident",
)
VOLUNTEERING_KINDS = (
    "party.registration_requested", "party.registration_approved", "party.registration_declined",
    "order.new", "order.dispatched", "order.declined",
    "post.new", "post.coming", "post.promoted", "post.reminder", "post.to_confirm", "post.member_suspended",
    "post.member_restored", "points.earned", "points.redeemed", "points.report_earned",
    "theme.announce", "theme.summary_staff", "theme.summary_member",
)
BROADCAST_KINDS = ("notice.community", "broadcast.finished")  # a staff notice; a broadcast's summary to its author
KINDS = CASE_KINDS + VOLUNTEERING_KINDS + BROADCAST_KINDS
