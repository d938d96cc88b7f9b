"""Services of orders ("群众点单"): order, the staff desk, dispatch as a post, decline."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence
from zoneinfo import ZoneInfo

from core.access import desk_communities, require_staff_of
from core.cases import Actor
from core.errors import NotFound
from core.limits import LimitPolicy
from core.limits_services import check_order_limit
from core.ports import UnitOfWork
from core.volunteering import orders as rules
from core.volunteering.common import NotResident, OrderState, ServiceKind, WrongState, is_resident_of
from core.volunteering.common_services import VolunteerPolicy, community_code, iso, save_events, staff_of, tell
from core.volunteering.orders import Order
from core.volunteering.posts import Post
from core.volunteering.posts_services import announce_post, new_post_number
from core.workdays import CHINA_TZ


# ---- orders ("群众点单") -------------------------------------------------------------------

async def order_service(uow: UnitOfWork, resident: Actor, community_id: int, kind: ServiceKind, description: str,
                        preferred_time: str, place: str, now: datetime, *, tz: ZoneInfo = CHINA_TZ,
                        limits: LimitPolicy | None = None) -> Order:
    """A resident's order gets the community's running number; the desk is told.

    A refusal rolls the caller's transaction back, so it uses up no number. Refused while the
    person's orders of the last 24 hours are used up (`limits`) or their reporting is suspended.
    """
    if not is_resident_of(resident.roles, community_id):
        raise NotResident()
    await check_order_limit(uow, limits, resident, now)
    code = await community_code(uow, community_id)
    year = now.astimezone(tz).year
    seq = await uow.volunteering.next_number(community_id, year, "order")
    order = rules.order_service(resident, community_id, kind, description, preferred_time, place, now,
                                number=rules.order_number(code, year, seq))
    await uow.volunteering.add_order(order)
    await save_events(uow, order)
    await tell(uow, await staff_of(uow, community_id), "order.new",
               {"order": order.number, "kind": order.kind.value, "description": order.description,
                "preferred_time": order.preferred_time}, dedupe=f"order:{order.number}:new")
    return order


async def new_orders(uow: UnitOfWork, community_id: int) -> list[Order]:
    """Orders waiting for the desk's decision, oldest first."""
    return list(await uow.volunteering.orders_in_state(community_id, OrderState.NEW.value))


async def order_by_number(uow: UnitOfWork, number: str) -> Order:
    order = await uow.volunteering.order(number)
    if order is None:
        raise NotFound(what="order")
    return order


async def order_desk(uow: UnitOfWork, by: Actor) -> list[Order]:
    """New orders in the communities whose desk `by` keeps."""
    return [o for c in await desk_communities(uow, by, "order.desk") for o in await new_orders(uow, c)]


async def order_to_decide(uow: UnitOfWork, by: Actor, number: str) -> Order:
    """A new order its community's staff may dispatch or decline; checked at the press, before the
    dialog asks for a title or a reason."""
    order = await order_by_number(uow, number)
    require_staff_of(by, order.community_id, "order.dispatch")
    if order.state != OrderState.NEW:
        raise WrongState("order", order.number, order.state.value, "dispatch")
    return order


async def dispatch_order(uow: UnitOfWork, policy: VolunteerPolicy, by: Actor, order_number: str, now: datetime, *,
                         title: str, starts_at: datetime, ends_at: datetime, place: str, capacity: int,
                         points_per_person: int, skills: Sequence[str] = ()) -> Post:
    """"社区派单": the order becomes a post; the resident and the members are told."""
    order = await uow.volunteering.order(order_number, for_update=True)
    if order is None:
        raise NotFound(what="order")
    require_staff_of(by, order.community_id, "order.dispatch")  # before a running number is taken
    # a refusal below rolls the caller's transaction back, the running number with it
    number = await new_post_number(uow, policy, order.community_id, now)
    post = rules.dispatch_order(order, by, now, number=number, title=title, starts_at=starts_at, ends_at=ends_at,
                                place=place, capacity=capacity, points_per_person=points_per_person, skills=skills)
    await uow.volunteering.add_post(post)
    await save_events(uow, post)
    await uow.volunteering.save_order(order)
    await save_events(uow, order)
    await tell(uow, [order.resident_id], "order.dispatched",
               {"order": order.number, "post": post.number, "title": post.title,
                "starts_at": iso(post.starts_at)}, dedupe=f"order:{order.number}:dispatched")
    await announce_post(uow, policy, post, now)
    return post


async def decline_order(uow: UnitOfWork, by: Actor, order_number: str, reason: str, now: datetime) -> Order:
    order = await uow.volunteering.order(order_number, for_update=True)
    if order is None:
        raise NotFound(what="order")
    rules.decline_order(order, by, reason, now)
    await uow.volunteering.save_order(order)
    await save_events(uow, order)
    await tell(uow, [order.resident_id], "order.declined", {"order": order.number, "reason": order.decline_reason},
               dedupe=f"order:{order.number}:declined")
    return order
