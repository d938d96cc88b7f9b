"""How a notification reads on WeChat: the outbox's WeChat delivery (the protocol half) asks
`WeChatRenderer.render(uow, notification, person)` for the `Reply`s to send.

The words are Telegram's (texts/, through texts.cases and texts.volunteering), so a case says the same
on both channels. Where Telegram attaches buttons, WeChat adds the numbered answers the person can
reply ("1. 👍 已解决 / 2. 👎 没解决", wechat/menus.py) — only the answers core would accept from this
reader now (`cases_services.question_on`); the conversation matches a bare number to the same question
(wechat/conversation.py). A resolved case comes with its three-photo card; a new case for a handler with
the resident's photo. What WeChat cannot do yet (the desk's assignment from a notification, approving a
party member, dispatching an order, rating a volunteer) is named with where to do it. Telegram's
"/tasks"-style words in a shared text become the words WeChat understands ("「志愿任务」").

Every kind in `core.notifications.KINDS` has a rendering here (tests/test_wechat_rendering.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta, tzinfo
from typing import Any

from core.cases import Actor, PhotoKind
from core.cases_services import question_on
from core.disclosure_services import show_reporter, viewer
from core.clock import Clock, SystemClock
from core.ids import saved_id
from core.notifications import Notification
from core.people import Person, Roles
from core.ports import UnitOfWork
from media.card import case_card
from media.photos import PhotoStore
from texts import CATALOGS, Translator, local_times
from texts.cases import SHOWS_REPORTER, card_words, kind_for_reader, notification_fields as case_notification_fields, reporter_text
from texts.volunteering import notification_fields
from wechat.menus import QUESTION_OPTIONS, for_wechat, numbered
from wechat.messages import Reply

log = logging.getLogger(__name__)

# What a notification asks that WeChat answers elsewhere: a hint where to do it.
HINTS = {
    "case.on_desk": "wechat.hint.desk", "case.overdue": "wechat.hint.desk", "case.claim_overdue": "wechat.hint.desk",
    "case.supporter_not_fixed": "wechat.hint.desk",
    "post.new": "wechat.hint.posts", "theme.announce": "wechat.hint.posts",
    "party.registration_requested": "wechat.hint.telegram", "order.new": "wechat.hint.telegram",
    "post.to_confirm": "wechat.hint.telegram",
}
# The resident's own photo comes along, as on Telegram, when a case is handed to someone.
WITH_BEFORE_PHOTO = ("case.new_for_handler", "case.escalated_to_you", "case.on_desk")


class WeChatRenderer:
    def __init__(self, photos: PhotoStore, tz: tzinfo, clock: Clock | None = None, *, default_language: str = "zh",
                 reopen_within_days: int = 7) -> None:
        self.photos, self.tz, self.clock = photos, tz, clock or SystemClock()
        self.default_language, self.reopen_within_days = default_language, reopen_within_days

    def language(self, person: Person) -> str:
        return person.language or self.default_language

    async def render(self, uow: UnitOfWork, notification: Notification, person: Person) -> list[Reply]:
        tr = Translator(self.language(person))
        if notification.kind.startswith("case.") and "case" in notification.payload:
            return await self._case(uow, notification, person, tr)
        if notification.kind not in CATALOGS.get(tr.lang, {}) and notification.kind not in CATALOGS["zh"]:
            log.error("no text for notification %s; it is not sent", notification.kind)
            return []
        payload = local_times(notification.payload, tr.lang, self.tz, self.clock.now())
        text = tr(notification.kind, **notification_fields(notification.kind, payload, tr))
        return [Reply(text=self._for_wechat(self._with_hint(text, notification.kind, tr), tr))]

    __call__ = render

    async def _case(self, uow: UnitOfWork, notification: Notification, person: Person,
                    tr: Translator) -> list[Reply]:
        case = await uow.cases.by_number(notification.payload["case"])
        if case is None:
            log.warning("notification %s names no case", notification.kind)
            return []
        now = self.clock.now()
        kind = kind_for_reader(notification.kind, case, person.id)
        fields: dict[str, Any] = await case_notification_fields(uow, case, notification.payload, notification.kind,
                                                                tr, self.tz, now)
        fields.setdefault("reopen_days", self.reopen_within_days)
        text = tr(kind, **fields)
        if kind in SHOWS_REPORTER:  # as core decides (core.disclosure); staff's look was audited when queued
            shown = await show_reporter(uow, case, await viewer(uow, person), now, audit=False)
            if line := reporter_text(tr, shown):
                text += "\n" + tr("case.reporter_line", who=line)
        if kind == "case.new_for_handler" and notification.payload.get("forwarded_by"):
            text += "\n" + tr("case.forwarded_by", who=fields["who"])
        if kind == "case.new_for_handler" and notification.payload.get("duplicate_of"):
            text += "\n" + tr("case.possible_duplicate", number=notification.payload["duplicate_of"])
        # the answers this reader may give now, numbered as the conversation takes them
        reader = Actor(saved_id(person), Roles(list(await uow.people.grants(saved_id(person)))))
        question = question_on(case, reader, now, timedelta(days=self.reopen_within_days))
        if question is not None:
            text += "\n" + numbered(tr, [tr(label) for _, label in QUESTION_OPTIONS[question]])
        else:
            text = self._with_hint(text, kind, tr)
        replies = []
        if kind in ("case.resolved", "case.resolved_for_supporter") and case.photos_of(PhotoKind.AFTER):
            replies.append(Reply(image=await case_card(self.photos, case, viewer=reader,
                                                       **card_words(case, tr, self.tz, now))))
        elif kind in WITH_BEFORE_PHOTO and case.photos_of(PhotoKind.BEFORE):  # faces as core.disclosure says
            replies.append(Reply(image=await self.photos.load_for(reader, case, case.photos_of(PhotoKind.BEFORE)[0])))
        return [*replies, Reply(text=self._for_wechat(text, tr))]

    @staticmethod
    def _with_hint(text: str, kind: str, tr: Translator) -> str:
        return f"{text}\n{tr(HINTS[kind])}" if kind in HINTS else text

    @staticmethod
    def _for_wechat(text: str, tr: Translator) -> str:
        return for_wechat(text, tr)
