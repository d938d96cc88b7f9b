"""The resident's order ("群众点单"): a resident orders a service; staff dispatch it as a post or
decline it with a reason. The rules; `orders_services` loads, saves and tells."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from core.cases import Actor
from core.errors import NotAllowed
from core.events import Event
from core.volunteering.common import (
    DescriptionRequired, MAX_DESCRIPTION, MAX_PLACE, MAX_SHORT_TEXT, NotResident, OrderState, ReasonRequired,
    ServiceKind, is_resident_of, require_state, running_number, short_text,
)
from core.volunteering.posts import Post, new_post


# --- the resident's order ("群众点单") --------------------------------------------------


@dataclass
class Order:
    id: int | None
    number: str                    # "DC-FW-2026-000012", the confirmation the resident keeps
    resident_id: int
    community_id: int
    kind: ServiceKind
    description: str
    preferred_time: str            # in the resident's words ("周六上午"); staff set the real time
    place: str                     # shown only to staff and to members who hold a place (PIPL)
    state: OrderState
    created_at: datetime
    updated_at: datetime
    decline_reason: str | None = None
    post_number: str | None = None
    pending_events: list[Event] = field(default_factory=list, compare=False, repr=False)

    def record(self, kind: str, at: datetime, actor_id: int | None,
               before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> Event:
        event = Event("order", self.number, kind, at, actor_id, before, after)
        self.pending_events.append(event)
        return event


def order_number(community_code: str, year: int, seq: int) -> str:
    """"DC-FW-2026-000012": community code, 服务, year, the community's running number."""
    return running_number(community_code, "FW", year, seq)


def order_service(resident: Actor, community_id: int, kind: ServiceKind, description: str,
                  preferred_time: str, place: str, now: datetime, *, number: str) -> Order:
    """A resident asks for a service in a few words, with a preferred time and place.

    `number` comes from `order_number` (storage hands out the running number).
    A few words are required only for "other": the kind says enough otherwise.
    """
    if not is_resident_of(resident.roles, community_id):
        raise NotResident()
    kind = ServiceKind(kind)
    description = short_text(description, MAX_DESCRIPTION)
    if kind == ServiceKind.OTHER and not description:
        raise DescriptionRequired()
    order = Order(None, number, resident.person_id, community_id, kind, description,
                  short_text(preferred_time, MAX_SHORT_TEXT), short_text(place, MAX_PLACE), OrderState.NEW, now, now)
    order.record("order_placed", now, resident.person_id, None,
                 {"state": order.state.value, "kind": kind.value, "community_id": community_id})
    return order


def dispatch_order(order: Order, by: Actor, now: datetime, *, number: str, title: str, starts_at: datetime,
                   ends_at: datetime, place: str, capacity: int, points_per_person: int,
                   skills: Sequence[str] = ()) -> Post:
    """"社区派单": staff turn the order into a post for the community's party members."""
    if not by.roles.is_staff_of(order.community_id):
        raise NotAllowed(action="order.dispatch")
    require_state(order.state, {OrderState.NEW}, "order", order.number, "dispatch")
    post = new_post(order.community_id, by.person_id, now, number=number, title=title, starts_at=starts_at,
                    ends_at=ends_at, place=place, capacity=capacity, points_per_person=points_per_person,
                    skills=skills, order_number=order.number, template_id=None)
    old = order.state
    order.state, order.post_number, order.updated_at = OrderState.DISPATCHED, post.number, now
    order.record("order_dispatched", now, by.person_id, {"state": old.value},
                 {"state": order.state.value, "post": post.number})
    return post


def decline_order(order: Order, by: Actor, reason: str, now: datetime) -> Order:
    """Staff cannot take the order on (a property fault, not a volunteer's job …) and say why."""
    if not by.roles.is_staff_of(order.community_id):
        raise NotAllowed(action="order.decline")
    require_state(order.state, {OrderState.NEW}, "order", order.number, "decline")
    reason = short_text(reason, MAX_DESCRIPTION)
    if not reason:
        raise ReasonRequired()
    old = order.state
    order.state, order.decline_reason, order.updated_at = OrderState.DECLINED, reason, now
    order.record("order_declined", now, by.person_id, {"state": old.value},
                 {"state": order.state.value, "reason": reason})
    return order
