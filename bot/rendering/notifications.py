"""What the delivery worker says, in the person's language: the bot layer's side of the outbox.

`NotificationRenderer` is the `render` callable of `scheduler.delivery.DeliveryWorker`:
case notifications go through `bot.rendering.cases.CaseRenderer` (texts, buttons, the three-photo card);
volunteering kinds get their fields and buttons from `bot.rendering.volunteering`;
any other kind is a catalog key that its payload fills in (a theme-day broadcast,
"broadcast.finished"). A kind the catalog does not know is not sent (logged), so nobody gets
a half-made message.

Payloads carry moments as ISO timestamps (JSON has no datetimes); `local_times` words those
under keys ending in `_at` for the reader — "12月28日 09:00", "Dec 28, 09:00" — in the settings'
time zone. A value that is not an ISO timestamp (an older row's preformatted time) stays as it is.

`progress_text` words a broadcast's progress message for the staff member who started it.
Catalog keys it uses: "broadcast.progress" (title, sent, left, failed, eta) and
"broadcast.progress_done" (title, sent, failed, skipped, total, duration); until the catalog has
them, plain English from `scheduler.broadcasts.plain_progress` stands in.
"""

from __future__ import annotations

import logging
import math

from bot.rendering.cases import CaseRenderer
from bot.rendering.volunteering import notification_markup
from texts import CATALOGS, Translator, local_times, text
from texts.volunteering import notification_fields
from core.clock import Clock, SystemClock
from core.notifications import Notification
from core.people import Identity, Person
from core.ports import UnitOfWork
from media.photos import PhotoStore
from media.voice import BadVoiceName, VoiceStore
from core.voice import duration_text as duration_text_voice
from bot.config import Settings
from scheduler.broadcasts import BroadcastProgress, plain_progress
from scheduler.delivery import Outgoing

log = logging.getLogger(__name__)


def _known(lang: str, key: str) -> bool:
    return key in CATALOGS.get(lang, {}) or key in CATALOGS["zh"]


class NotificationRenderer:
    """`clock` says when a message is written (dates of another year carry their year); the wall clock
    unless given."""

    def __init__(self, settings: Settings, photos: PhotoStore | None = None, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.cases = CaseRenderer(settings, photos or PhotoStore(settings.data_dir), self.clock)
        self.voices = VoiceStore(settings.data_dir)

    def language(self, person: Person) -> str:
        return person.language or self.settings.default_language

    async def __call__(self, uow: UnitOfWork, notification: Notification, person: Person,
                       identity: Identity) -> Outgoing | None:
        lang = self.language(person)
        if notification.kind.startswith("case.") and "case" in notification.payload:
            rendered = await self.cases.render(uow, notification, person, lang)
            return None if rendered is None else Outgoing(rendered.text, rendered.photo, rendered.markup,
                                                              voice=rendered.voice, duration=rendered.duration)
        if notification.kind == "order.voice_note":  # played: a voice message, its caption the order
            return self._order_voice(notification, lang)
        if not _known(lang, notification.kind):
            log.error("no text for notification %s; it is not sent", notification.kind)
            return None
        tr = Translator(lang)  # volunteering kinds come with their buttons (claim, approve, stars …)
        payload = local_times(notification.payload, lang, self.settings.tz, self.clock.now())
        fields = notification_fields(notification.kind, payload, tr)
        said = text(lang, notification.kind, **fields)
        if notification.kind == "post.to_confirm" and isinstance(payload.get("far_m"), int):
            said = f"{said}\n{tr('post.checked_in_far', metres=payload['far_m'])}"  # core.proof: flagged
        return Outgoing(said, markup=notification_markup(notification.kind, payload, tr))

    def _order_voice(self, notification: Notification, lang: str) -> Outgoing:
        payload = notification.payload
        seconds = int(payload.get("seconds") or 0)
        caption = text(lang, "order.voice_note", order=payload.get("order", ""), duration=duration_text_voice(seconds))
        try:
            path = self.voices.path(str(payload.get("file") or ""))
        except BadVoiceName:
            return Outgoing(caption)
        return Outgoing(caption, voice=path if path.is_file() else None, duration=seconds)

    async def progress_text(self, uow: UnitOfWork, progress: BroadcastProgress, person: Person | None) -> str:
        lang = self.language(person) if person is not None else self.settings.default_language
        key = "broadcast.progress_done" if progress.finished else "broadcast.progress"
        if not _known(lang, key):
            return plain_progress(progress)
        minutes = "…" if progress.eta is None else str(max(1, math.ceil(progress.eta / 60)))
        return text(lang, key, title=progress.title, sent=progress.sent, left=progress.left, failed=progress.failed,
                    skipped=progress.skipped, total=progress.total, eta=minutes,
                    duration=duration_text(lang, progress.elapsed))


def duration_text(lang: str, seconds: float) -> str:
    """"9 秒", "1 分 5 秒", "12 分钟": how long a broadcast took, as the reader says it."""
    seconds = max(0, math.ceil(seconds))
    if seconds < 60:
        return text(lang, "duration.seconds", seconds=seconds)
    if seconds < 600:
        return text(lang, "duration.minutes_seconds", minutes=seconds // 60, seconds=seconds % 60)
    return text(lang, "duration.minutes", minutes=round(seconds / 60))
