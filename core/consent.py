"""Notice and consent (PIPL 个人信息保护法, arts. 14, 17, 29): nothing about a person is kept before they agree.

A newcomer is shown the privacy notice (what is collected, why, who sees it, how long it is kept)
and agrees or not; only an agreement creates the person. The agreement names the notice's version:
when the notice changes (`PrivacyPolicy.notice_version`, a setting), everyone is asked again at their
next interaction, before anything else. A precise location is sensitive information: sharing one
asks once more, for that use alone.

The consents table is the record (who, which notice, when, on which channel); the person carries the
newest version they agreed to and when they agreed to location, so the check every update makes needs
no query of its own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from core.events import Event
from core.people import Person

# The notice's version in this code (texts' "privacy.notice"); a setting may raise it to ask everyone again.
NOTICE_VERSION = 1


class Purpose(str, enum.Enum):
    NOTICE = "notice"        # the privacy notice as a whole: name, building, phone if shared, photos
    LOCATION = "location"    # a precise location, sensitive information: asked separately, once


@dataclass(frozen=True)
class PrivacyPolicy:
    """The figures the notice names and the version a person must have agreed to."""

    notice_version: int = NOTICE_VERSION
    photo_retention_days: int = 365       # photos of closed cases are deleted after this (issue #17)


@dataclass
class Consent:
    id: int | None
    person_id: int
    purpose: Purpose
    version: int
    channel: str
    given_at: datetime

    def __post_init__(self) -> None:
        self.purpose = Purpose(self.purpose)


def needs_notice(person: Person | None, policy: PrivacyPolicy) -> bool:
    """Nobody yet, or someone who agreed to an older notice (or never: people from before notices)."""
    return person is None or person.notice_version is None or person.notice_version < policy.notice_version


def needs_location_consent(person: Person) -> bool:
    return person.location_agreed_at is None


def give(person: Person, purpose: Purpose, version: int, channel: str, now: datetime) -> tuple[Consent, Event]:
    """The person agrees: the record, and the event (no personal data in it: purpose, version, channel)."""
    if person.id is None:
        raise ValueError("a consent is given by a saved person")
    purpose = Purpose(purpose)
    before = {"notice_version": person.notice_version} if purpose == Purpose.NOTICE else {
        "location_agreed": person.location_agreed_at is not None}
    if purpose == Purpose.NOTICE:
        person.notice_version = version
    else:
        person.location_agreed_at = now
    consent = Consent(None, person.id, purpose, version, channel, now)
    event = Event("person", str(person.id), "consent_given", now, person.id, before,
                  {"purpose": purpose.value, "version": version, "channel": channel})
    return consent, event
