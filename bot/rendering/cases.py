"""Turning a core Notification into a Telegram message in the person's language.

The delivery worker calls `render` for each outbox row; texts come from the catalog, buttons
from the case handlers, pictures from the photo store (the three-photo card for a resolved case).
"""

from __future__ import annotations

import logging
from pathlib import Path
from dataclasses import dataclass
from datetime import datetime

from aiogram.types import InlineKeyboardMarkup

from bot.handlers.cases import act, desk_buttons, feedback_buttons, handler_buttons, outcome_buttons
from bot.keyboards import column
from texts import Translator
from texts.cases import SHOWS_REPORTER, card_words, case_history, kind_for_reader, notification_fields, reporter_text
from core.cases import Actor, Case, CaseState, PhotoKind, was_auto_closed
from core.disclosure_services import ReporterShown, show_reporter, viewer
from core.clock import Clock, SystemClock
from core.notifications import Notification
from core.people import Person
from core.ports import UnitOfWork
from media.photos import PhotoStore
from media.voice import BadVoiceName, VoiceStore
from core.voice import duration_text
from bot.config import Settings

log = logging.getLogger(__name__)


@dataclass
class Rendered:
    text: str
    markup: InlineKeyboardMarkup | None = None
    photo: bytes | None = None
    voice: Path | None = None  # a voice note to play (sent as a voice message, the text its caption)
    duration: int | None = None  # its length in seconds


class CaseRenderer:
    def __init__(self, settings: Settings, photos: PhotoStore, clock: Clock | None = None) -> None:
        self.settings = settings
        self.photos = photos
        self.clock = clock or SystemClock()
        self.voices = VoiceStore(settings.data_dir)

    async def render(self, uow: UnitOfWork, notification: Notification, person: Person, lang: str) -> Rendered | None:
        tr = Translator(lang)
        number = notification.payload.get("case")
        case = await uow.cases.by_number(number) if number else None
        if case is None:
            log.warning("notification %s names no case", notification.kind)
            return None
        now = self.clock.now()
        reader = await viewer(uow, person)  # whose eyes: which photos show faces (core.disclosure)
        kind = notification.kind
        if kind == "case.voice_note":
            return self.voice_note(notification, case, tr)
        fields = await notification_fields(uow, case, notification.payload, kind, tr, self.settings.tz, now)
        if kind_for_reader(kind, case, person.id) == "case.resolved_for_supporter":
            kind = "case.resolved_for_supporter"  # told the outcome; the first reporter answers "fixed?"
            return Rendered(tr(kind, **fields), feedback_buttons(case, tr), await self.card(case, tr, now, reader))
        if kind == "case.auto_closed_for_resident":  # rows written before reopening existed
            fields.setdefault("reopen_days", self.settings.reopen_within_days)
        text = tr(kind, **fields)
        if kind in SHOWS_REPORTER:  # as core decides (core.disclosure); staff's look was audited when queued
            shown = await show_reporter(uow, case, reader, now, audit=False)
            line = reporter_text(tr, shown)
            if line:
                text += "\n" + tr("case.reporter_line", who=line)
        if kind == "case.new_for_handler":
            if notification.payload.get("forwarded_by"):
                text += "\n" + tr("case.forwarded_by", who=fields["who"])
            if notification.payload.get("duplicate_of"):
                text += "\n" + tr("case.possible_duplicate", number=notification.payload["duplicate_of"])
            return Rendered(text, handler_buttons(case, tr, notification.payload.get("duplicate_of")),
                            await self._first(case, PhotoKind.BEFORE, reader))
        if kind == "case.on_desk":
            members = list(await uow.people.grid_members(case.grid_id))
            return Rendered(text, desk_buttons(case, tr, members), await self._first(case, PhotoKind.BEFORE, reader))
        if kind == "case.auto_closed_for_resident" and was_auto_closed(case) and person.id == case.reporter_id:
            return Rendered(text, column([(tr("case.btn.reopen"), act("reopen", case.number))]))
        if kind == "case.claim_overdue_for_department":
            claimable = case.state == CaseState.ESCALATED  # the claim button, while it still can be claimed
            return Rendered(text, handler_buttons(case, tr) if claimable else None)
        if kind == "case.escalated_to_you":
            return Rendered(text, handler_buttons(case, tr), await self._first(case, PhotoKind.BEFORE, reader))
        if kind == "case.reopened":
            return Rendered(text, handler_buttons(case, tr))
        if kind == "case.resolved":
            return Rendered(text, outcome_buttons(case, tr), await self.card(case, tr, now, reader))
        return Rendered(text)

    def voice_note(self, notification: Notification, case: Case, tr: Translator) -> Rendered:
        """A resident's voice note to play: sent as a voice message with the case's number as its
        caption. Its file gone (/forget, retention), only the caption is said."""
        payload = notification.payload
        key = "case.voice_note.rejection" if payload.get("purpose") == "rejection" else "case.voice_note"
        seconds = int(payload.get("seconds") or 0)
        text = tr(key, number=case.number, duration=duration_text(seconds))
        try:
            path = self.voices.path(str(payload.get("file") or ""))
        except BadVoiceName:
            return Rendered(text)
        return Rendered(text, voice=path if path.is_file() else None, duration=seconds)

    async def history(self, uow: UnitOfWork, case: Case, tr: Translator, now: datetime, *, by: Actor | None = None,
                      reporter: ReporterShown | None = None) -> str:
        return await case_history(uow, case, tr, self.settings.tz, now, by=by, reporter=reporter)

    async def _first(self, case: Case, kind: PhotoKind, reader: Actor) -> bytes | None:
        photos = case.photos_of(kind)
        return await self.photos.load_for(reader, case, photos[0]) if photos else None

    async def card(self, case: Case, tr: Translator, now: datetime, reader: Actor) -> bytes:
        """"事前、事中、事后三张图": the proof a resident sees before confirming, with the handler's note;
        faces blurred on the photos `reader` did not take, unless they handle the case or are staff."""
        from media.card import case_card

        return await case_card(self.photos, case, viewer=reader, **card_words(case, tr, self.settings.tz, now))
