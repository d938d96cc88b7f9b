"""Urgent notices: a community's staff tell every resident of the community at once.

A notice is a broadcast (the outbox paces it within the channel's limits). Who may send one is
decided here: staff of the community, by a staff grant — an administrator without one sends none
(the chat's /notice has always asked for one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.cases import Actor
from core.errors import DomainError, NotAllowed, NotFound
from core.notifications import declared
from core.people import Role
from core.places import Community
from core.ports import UnitOfWork

NOTICE_KIND = declared("notice.community")
MAX_NOTICE = 1000


class NoticeTooLong(DomainError):
    key = "report.words_too_long"


class NoticeEmpty(DomainError):
    key = "notice.usage"


@dataclass(frozen=True)
class Audience:
    """Who a notice from `community` reaches."""

    community: Community
    resident_ids: list[int]


def may_send_notice(by: Actor, community_id: int | None = None) -> None:
    """A staff grant is needed; with one, a notice goes to a community `by` is staff of (an
    administrator's staff grant lets them send to any)."""
    if not by.roles.staff_communities() or (community_id is not None and not by.roles.is_staff_of(community_id)):
        raise NotAllowed(action="notice")


async def notice_audience(uow: UnitOfWork, by: Actor, community_id: int | None = None) -> Audience:
    """The residents a notice from `by` would reach: their community's (the first they staff when
    `community_id` is None), after checking they may send one there."""
    may_send_notice(by, community_id)
    chosen = community_id if community_id is not None else min(by.roles.staff_communities())
    community = await uow.places.community(chosen)
    if community is None:
        raise NotFound(what="community")
    residents = [p.id for p in await uow.people.with_role(Role.RESIDENT, community.id) if p.id is not None]
    return Audience(community, residents)


def check_notice_text(text: str) -> str:
    words = (text or "").strip()
    if not words:
        raise NoticeEmpty()
    if len(words) > MAX_NOTICE:
        raise NoticeTooLong(max=MAX_NOTICE)
    return words


async def start_notice(uow: UnitOfWork, by: Actor, community_id: int, text: str, now: datetime, *,
                       progress_chat_id: str | None = None, progress_message_id: int | None = None) -> Audience:
    """Queue the notice for every resident of the community, in the caller's transaction (it goes
    out with the caller's commit, or not at all); returns who it reaches."""
    audience = await notice_audience(uow, by, community_id)
    words = check_notice_text(text)
    community = audience.community
    await uow.broadcasts.start(f"{community.name}: {words[:40]}", audience.resident_ids, NOTICE_KIND,
                               {"community": community.name, "text": words}, by.person_id, now=now,
                               progress_chat_id=progress_chat_id, progress_message_id=progress_message_id)
    return audience
