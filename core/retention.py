"""Retention (PIPL: keep personal information no longer than needed): how long what is kept.

Photos of a finished case (closed, rejected or merged) are forgotten `photo_days` after it was
closed; the case itself stays for the community's statistics, and its history says that its photos
were deleted as the retention period asks. Its voice notes (core.voice) go with its photos. Technical rows that carry what people wrote or sent —
unfinished dialogs, the inbox's raw updates, sent or failed notifications — go after a few days.
A photo file goes when no case or attendance names it any more (scheduler/retention.py): photos are
stored once per content, so one shared with a case still kept must stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.cases import FINISHED_STATES, Case, WrongState


@dataclass(frozen=True)
class RetentionPolicy:
    photo_days: int = 365      # photos of finished cases, counted from closing
    dialog_days: int = 3       # an unfinished dialog (and the photos sent into it and never reported)
    inbox_days: int = 7        # the raw updates the inbox keeps (handled or failed)
    outbox_days: int = 7       # notifications sent, failed or skipped

    def photos_closed_before(self, now: datetime) -> datetime:
        return now - timedelta(days=self.photo_days)


def forget_photos(case: Case, now: datetime, closed_before: datetime) -> Case:
    """The case's photos are past their retention: they are dropped from the case, and its history
    records how many and why. Only a finished case closed before `closed_before`."""
    if case.state not in FINISHED_STATES:
        raise WrongState(case.number, case.state, "forget_photos")
    if case.closed_at is None or case.closed_at >= closed_before:
        raise ValueError(f"case {case.number} is not past its photos' retention")
    count = len(case.photos)
    case.photos = []
    case.record("photos_expired", now, None, {"photos": count}, {"photos": 0})
    return case
