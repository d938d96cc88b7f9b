"""Door codes: the payload of the QR code on a building's door (门牌二维码) or at a compound's shared
space (its gate, its garage).

A payload rides in a Telegram deep link (`https://t.me/<bot>?start=<payload>`, at most 64 characters
of [A-Za-z0-9_-]) or a WeChat scene string, so it is short and made of those characters only:

    q b 1c _ <16 signature characters>          building 48
    q c 7 - gate _ <16 signature characters>    compound 7, its gate

`q` says "door code" (invites start with `inv_`), then the kind (`b` building, `c` compound), the id
in base 36, for a compound an optional spot (lowercase letters and digits), and after the last `_`
the first 12 bytes of HMAC-SHA256(secret, body), base64url: 16 characters. Without the secret nobody
can make a code for another building or change the one printed; a changed character fails the check.
The whole payload stays within 40 characters, so it also survives the trip through the privacy
notice's button (callback data holds 64 bytes).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
from dataclasses import dataclass

from core.errors import DomainError

PREFIX = "q"
SIGNATURE_BYTES = 12
SIGNATURE_CHARS = 16   # base64url of 12 bytes, no padding
MAX_SPOT = 10
MAX_PAYLOAD = 40
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_SPOT = re.compile(r"[a-z0-9]{1,%d}" % MAX_SPOT)
_BODY = re.compile(r"q([bc])([0-9a-z]{1,8})(?:-([a-z0-9]{1,%d}))?" % MAX_SPOT)
_PAYLOAD_CHARS = re.compile(r"[A-Za-z0-9_-]+")


class DoorKind(str, enum.Enum):
    BUILDING = "b"
    COMPOUND = "c"   # a compound's shared space: gate, garage, playground


class BadDoorCode(DomainError):
    """A payload that is not one we printed: forged, altered, or signed with another secret."""

    key = "door.bad_code"


@dataclass(frozen=True)
class DoorCode:
    kind: DoorKind
    place_id: int
    spot: str = ""   # compound codes only: which shared space ("gate", "garage"); "" the compound as a whole


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _ALPHABET[rest] + digits
        if number == 0:
            return digits


def _signature(secret: bytes, body: str) -> str:
    mac = hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def _body(code: DoorCode) -> str:
    if code.place_id <= 0:
        raise ValueError("a door code names a saved place (id > 0)")
    body = PREFIX + DoorKind(code.kind).value + _base36(code.place_id)
    if code.spot:
        if code.kind != DoorKind.COMPOUND:
            raise ValueError("only a compound's code names a spot")
        if not _SPOT.fullmatch(code.spot):
            raise ValueError(f"a spot is 1–{MAX_SPOT} lowercase letters or digits: {code.spot!r}")
        body += "-" + code.spot
    return body


def encode(code: DoorCode, secret: bytes) -> str:
    """The payload printed for `code`."""
    if not secret:
        raise ValueError("door codes need a secret")
    body = _body(code)
    return f"{body}_{_signature(secret, body)}"


def looks_like_door_code(payload: str) -> bool:
    """Whether a deep link's payload is meant as a door code (then it is checked, and refused if bad),
    rather than an invite or something else."""
    return len(payload) > 2 and payload[0] == PREFIX and payload[1] in "bc"


def verify(payload: str, secret: bytes) -> DoorCode:
    """The door code a payload stands for, or BadDoorCode. The signature is compared in constant time."""
    if not secret or not SIGNATURE_CHARS + 4 <= len(payload) <= MAX_PAYLOAD or not _PAYLOAD_CHARS.fullmatch(payload):
        raise BadDoorCode()
    body, sep, signature = payload[:-SIGNATURE_CHARS - 1], payload[-SIGNATURE_CHARS - 1], payload[-SIGNATURE_CHARS:]
    matched = _BODY.fullmatch(body)
    if sep != "_" or matched is None:
        raise BadDoorCode()
    if not hmac.compare_digest(signature, _signature(secret, body)):
        raise BadDoorCode()
    kind, number, spot = DoorKind(matched.group(1)), int(matched.group(2), 36), matched.group(3) or ""
    if number <= 0 or (spot and kind != DoorKind.COMPOUND):
        raise BadDoorCode()
    return DoorCode(kind, number, spot)


def deep_link(bot_username: str, payload: str) -> str:
    return f"https://t.me/{bot_username}?start={payload}"


def secret_from(setting: str, bot_token: str) -> bytes:
    """The signing key: DOOR_CODE_SECRET, or one derived from the bot's token when it is not set (then a new
    token makes new codes, and the printed ones are refused). b"" when neither is set."""
    if setting:
        return setting.encode("utf-8")
    if bot_token:
        return hashlib.sha256(b"redgrid door codes\0" + bot_token.encode("utf-8")).digest()
    return b""
