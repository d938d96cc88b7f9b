"""Minimum disclosure (PIPL: "show others the least"): who may see a reporter, and how much of a phone.

One rule, asked by every renderer of every channel: `reporter_disclosure` says how a case's
reporter is shown to a viewer; `shown_phone` how a phone number is shown. Renderers never decide
themselves, so the Telegram and the WeChat channel show the same people the same things.

    the reporter themselves              their own name and phone
    the case's handler (must call them)  name and the full phone — unless the report is anonymous
    the community's staff (or an admin)  name and the phone masked (138****1234), and the look is audited
    anyone else (a neighbour who joined, the handler of an anonymous report)  "匿名居民" / "居民", no phone

Photos (`photo_disclosure`): a stairwell photo shows neighbours' faces. The case's handler and the
community's staff see the original, and so does whoever took the photo (the reporter their own
before-photos); everyone else — a neighbour who joined, the reporter looking at the handler's after-photo,
anyone not signed in — sees the copy with the faces blurred (media/faces.py, kept by media.photos.PhotoStore).

Every time staff are shown a person's data, an `AuditEntry` is written (core/disclosure_services.py);
the log is append-only and read by the administrator (`redgrid audit`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from core.cases import Actor, Case, PhotoKind, PhotoRef


class Shown(str, enum.Enum):
    FULL = "full"              # name and full phone
    MASKED = "masked"          # name and masked phone (staff)
    ANONYMOUS = "anonymous"    # "匿名居民": the reporter asked not to be shown
    HIDDEN = "hidden"          # "居民": another resident sees no neighbour's name


def mask_phone(phone: str | None) -> str | None:
    """"13812341234" → "138****1234"; a short number keeps only its last two digits."""
    if not phone:
        return None
    digits = phone.strip()
    if len(digits) >= 8:
        return f"{digits[:3]}****{digits[-4:]}"
    return "*" * max(len(digits) - 2, 1) + digits[-2:]


def reporter_disclosure(case: Case, viewer: Actor) -> Shown:
    """How `case`'s reporter is shown to `viewer` (see the module's table)."""
    if viewer.person_id == case.reporter_id:
        return Shown.FULL
    if case.is_handled_by(viewer.person_id) and not case.anonymous:
        return Shown.FULL
    if viewer.roles.is_staff_of(case.community_id):
        return Shown.MASKED
    return Shown.ANONYMOUS if case.anonymous else Shown.HIDDEN


def shown_phone(phone: str | None, shown: Shown) -> str | None:
    """The phone as `shown` allows: all of it, masked, or none."""
    if shown == Shown.FULL:
        return phone or None
    if shown == Shown.MASKED:
        return mask_phone(phone)
    return None


class PhotoShown(str, enum.Enum):
    ORIGINAL = "original"      # as it was taken
    BLURRED = "blurred"        # faces blurred (media/faces.py)


def photo_disclosure(viewer: Actor | None, case: Case, photo: PhotoRef) -> PhotoShown:
    """How `photo` of `case` is shown to `viewer` (None: someone not signed in): the original to the
    case's handler, the community's staff and the photo's author; faces blurred to everyone else.

    The author of a before-photo is the reporter; during- and after-photos are the handler's (a
    joiner adds no photo: core.cases.join_me_too), so a former handler sees their own after-photo
    blurred once the case went to someone else — they no longer need it.
    """
    if viewer is None:
        return PhotoShown.BLURRED
    if case.is_handled_by(viewer.person_id) or viewer.roles.is_staff_of(case.community_id):
        return PhotoShown.ORIGINAL
    if photo.kind == PhotoKind.BEFORE and viewer.person_id == case.reporter_id:
        return PhotoShown.ORIGINAL
    return PhotoShown.BLURRED


def is_audited(shown: Shown, viewer: Actor, person_id: int) -> bool:
    """A look by staff at someone else's data is written to the audit log."""
    return shown == Shown.MASKED and viewer.person_id != person_id


@dataclass(frozen=True)
class AuditEntry:
    """Staff member `viewer_id` was shown personal data of `person_id` (`what`, about `subject`) at `at`."""

    at: datetime
    viewer_id: int
    person_id: int
    what: str                 # "case.reporter", "desk", "members", "notification" …
    subject: str = ""         # the case number, the community …
    id: int | None = None
