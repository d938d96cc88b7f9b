"""Whose desk is whose: the communities a person keeps as staff (every one for an administrator).

Commands and queries of the community desk (cases, orders, posts, members, themes, the points
shop) ask this one question before they list anything, so every channel refuses the same people.
"""

from __future__ import annotations

from core.cases import Actor
from core.errors import NotAllowed
from core.ports import UnitOfWork


async def desk_communities(uow: UnitOfWork, by: Actor, action: str = "desk") -> list[int]:
    """The communities whose desk `by` keeps: their staff grants, or every community for an admin.
    Nobody's desk: NotAllowed(action)."""
    ids = by.roles.staff_communities()
    if not ids and by.roles.is_admin:
        ids = {c.id for c in await uow.places.communities() if c.id is not None}
    if not ids:
        raise NotAllowed(action=action)
    return sorted(ids)


def require_staff_of(by: Actor, community_id: int, action: str) -> None:
    """Staff of the community (or an admin), else NotAllowed(action)."""
    if not by.roles.is_staff_of(community_id):
        raise NotAllowed(action=action)
