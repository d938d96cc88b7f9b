"""A person's rights over what is held about them (PIPL arts. 44–47): to see and copy it (/mydata) and
to have it deleted (/forget). The rules: who may ask, how ids are shown, what counts as naming the
person in free text, and what the export document holds. The services are in
`core/personal_data_services.py`.

What /forget keeps, and why: the cases a person reported stay for the community's statistics
(numbers, places, categories, times, the handler's work and after-photo), without the reporter's
name, accounts or photos; the hours and points a party member earned stay as totals of an anonymous
person. Everything that names or shows them goes: name, phone, chat accounts, their before-photos and
check-in photos (with the check-in location), unfinished dialogs, the updates they sent and every
message to them; their name or phone written anywhere else (a neighbour's words, a notice to staff)
is rewritten to `FORGOTTEN_NAME`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

from core.cases import Actor
from core.consent import Consent
from core.errors import DomainError, NotAllowed
from core.people import Person

# What a forgotten person is called from then on, wherever their name was shown or written.
FORGOTTEN_NAME = "—"
# A name this short (one Chinese character, "A") would match too much text: only their own rows lose it.
MIN_NEEDLE = 2
_WORDY = re.compile(r"^[\w .'-]+$", re.ASCII)


class StillHandling(DomainError):
    """A grid member (or contact) with open cases: the desk must take them over before they go."""

    key = "forget.still_handling"


class StillVolunteering(DomainError):
    """A party member holding places on posts not yet done: they withdraw (or finish) first."""

    key = "forget.still_volunteering"


class AlreadyForgotten(DomainError):
    key = "forget.already"


def may_act_on(by: Actor | None, person_id: int, action: str) -> None:
    """Only the person themselves; an administrator on the person's request (a letter to the office), in
    the chat or as the operator at the command line (`by` None: `redgrid forget`)."""
    if by is not None and by.person_id != person_id and not by.roles.is_admin:
        raise NotAllowed(action=action)


def mask(value: str | None) -> str | None:
    """An id shown in an export or to staff: enough to recognise it, not to use it ("90****21")."""
    if value is None:
        return None
    if len(value) <= 4:
        return "*" * len(value)
    keep = 2 if len(value) < 11 else 3
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:] if len(value) > 2 * keep else value[:1] + "***"


def needles_of(person: Person, photo_hashes: Iterable[str] = ()) -> list[str]:
    """What names or shows the person in free text: their name (if long enough to be theirs), their
    phone, the names of their photos."""
    found = [person.display_name.strip() if person.display_name else "", (person.phone or "").strip(),
             *photo_hashes]
    return list(dict.fromkeys(n for n in found if len(n) >= MIN_NEEDLE and n != FORGOTTEN_NAME))


def _pattern(needle: str) -> re.Pattern[str]:
    if _WORDY.match(needle):  # Latin names and numbers: whole words only ("Li" is not in "Lights")
        return re.compile(r"(?<![A-Za-z0-9])" + re.escape(needle) + r"(?![A-Za-z0-9])")
    return re.compile(re.escape(needle))  # Chinese is written without spaces


def redact_text(text: str, needles: Sequence[str], replacement: str = FORGOTTEN_NAME) -> str:
    for needle in needles:
        text = _pattern(needle).sub(replacement, text)
    return text


def redact_value(value: Any, needles: Sequence[str], replacement: str = FORGOTTEN_NAME) -> Any:
    """`value` (text, or JSON: dicts, lists, scalars) with every needle rewritten; keys stay."""
    if isinstance(value, str):
        return redact_text(value, needles, replacement)
    if isinstance(value, dict):
        return {k: redact_value(v, needles, replacement) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v, needles, replacement) for v in value]
    return value


@dataclass(frozen=True)
class Export:
    """/mydata's document: a file name and its bytes (UTF-8 JSON, readable in any text viewer)."""

    file_name: str
    content: bytes
    sections: dict[str, int]   # how many records each section holds


def export_document(person: Person, held: dict[str, Any], consents: Sequence[Consent], now: datetime) -> Export:
    """The document: a summary first (reports, hours, points), then every section as stored, with
    chat account ids masked; sections the export leaves out are named with the reason."""
    sections: dict[str, list[dict[str, Any]]] = {k: list(v) for k, v in held["sections"].items()}
    for row in sections.get("identities.person_id", []):
        row["external_id"], row["chat_id"] = mask(row.get("external_id")), mask(row.get("chat_id"))
    for row in sections.get("dialog_state", []):
        row["user_id"], row["chat_id"] = mask(str(row.get("user_id"))), mask(str(row.get("chat_id")))
    claims = sections.get("volunteer_claims.person_id", [])
    points = sections.get("points_entries.person_id", [])
    summary = {
        "reports": len(sections.get("cases.reporter_id", [])),
        "joined_reports": len(sections.get("case_me_too.person_id", [])),
        "service_hours": round(sum(c.get("served_seconds") or 0 for c in claims) / 3600, 1),
        "points": sum(p.get("delta") or 0 for p in points),
        "consents": [{"purpose": c.purpose.value, "version": c.version, "channel": c.channel,
                      "given_at": c.given_at.isoformat()} for c in consents],
    }
    document = {"exported_at": now.isoformat(), "person_id": person.id, "summary": summary,
                "sections": sections, "not_included": held.get("not_included", {})}
    content = json.dumps(document, ensure_ascii=False, indent=2, default=str).encode("utf-8")
    return Export(f"redgrid-mydata-{now:%Y%m%d}.json", content, {k: len(v) for k, v in sections.items()})
