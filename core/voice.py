"""Voice notes ("语音留言") for residents who do not type: the rules, without any channel or storage.

A voice note stands for the words a resident would have typed: a report's few words, the reason a fix
is rejected, a service order's description. It is kept as it was sent (Telegram's OGG/Opus), named by
its content, with the case or order it belongs to; the grid member plays it in the chat. At most
`MAX_SECONDS` long (3 minutes: what one says about a problem) and `DEFAULT_MAX_BYTES` big (Opus at
Telegram's ~32 kbit/s is ~720 KB for 3 minutes), both checked before anything is downloaded.
It is personal data: /mydata lists it, /forget deletes it (rows and files), and it goes with the case's
photos when their retention ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from core.errors import DomainError

MAX_SECONDS = 180
DEFAULT_MAX_BYTES = 1024 * 1024


class VoicePurpose(str, Enum):
    REPORT = "report"        # a report's few words
    REJECTION = "rejection"  # why the fix is not accepted
    ORDER = "order"          # a service order's description


class VoiceTooLong(DomainError):
    """Over `MAX_SECONDS` (params: minutes)."""

    key = "voice.too_long"


class VoiceTooLarge(DomainError):
    """More bytes than the setting allows (params: max_kb)."""

    key = "voice.too_large"


class VoiceBroken(DomainError):
    """The channel could not fetch it."""

    key = "voice.broken"


@dataclass(frozen=True)
class VoiceClip:
    """A voice note a channel has stored, not yet kept with anything: its file's name (under the data
    folder), its length in seconds, its type and size."""

    file: str
    duration: int
    mime: str
    size: int

    def as_data(self) -> dict[str, Any]:
        """As dialog data (JSON, so Redis can keep an unfinished dialog)."""
        return {"file": self.file, "duration": self.duration, "mime": self.mime, "size": self.size}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> VoiceClip:
        return cls(str(data["file"]), int(data["duration"]), str(data["mime"]), int(data["size"]))


@dataclass
class VoiceNote:
    id: int | None
    person_id: int
    purpose: VoicePurpose
    clip: VoiceClip
    created_at: datetime
    case_id: int | None = None
    order_id: int | None = None


def check_clip(duration: int | None, size: int | None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse a voice note too long or too big, from what the channel says of it before downloading."""
    if duration is not None and duration > MAX_SECONDS:
        raise VoiceTooLong(minutes=MAX_SECONDS // 60)
    if size is not None and size > max_bytes:
        raise VoiceTooLarge(max_kb=max_bytes // 1024)


def duration_text(seconds: int) -> str:
    """"0:42", "2:05": how long a voice note is, as a phone shows it."""
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
