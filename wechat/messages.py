"""What crosses the channel boundary: a message from WeChat, and what we answer.

The protocol layer (signature, decryption, XML) turns a POST into an `Incoming`; the conversation
turns an `Incoming` into `Reply`s; the protocol layer sends the first as the passive reply when it is
ready within WeChat's 5 seconds, and the rest (or all, when late) as customer-service / WeCom
messages through the outbox's channel delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

App = Literal["mp", "work"]  # Official Account (residents, party members) / WeCom app (grid staff)
CHANNEL_OF_APP: dict[str, str] = {"mp": "wechat", "work": "wecom"}  # Identity.channel per app


@dataclass(frozen=True)
class Incoming:
    """One message or event from a WeChat user, already verified and decrypted."""

    app: App
    user: str                     # FromUserName: OpenID (mp) or WeCom UserID (work)
    kind: str                     # MsgType: "text", "image", "location", "voice", "event", ... as WeChat names it
    create_time: int              # CreateTime, seconds since the epoch
    msg_id: str | None = None     # MsgId (messages); events have none: de-duplicate by user + create_time
    text: str = ""                # Content (text)
    media_id: str = ""            # MediaId (image, voice): download at once, temporary media expire in 3 days
    pic_url: str = ""             # PicUrl (image)
    lat: float | None = None      # Location_X, as WeChat sends it (GCJ-02); convert with wechat.geo
    lon: float | None = None      # Location_Y (GCJ-02)
    label: str = ""               # Label (location)
    event: str = ""               # Event, lower-cased: "subscribe", "unsubscribe", "click", "location", ...
    event_key: str = ""           # EventKey (menu CLICK key, or the qrscene_ payload)

    @property
    def channel(self) -> str:
        return CHANNEL_OF_APP[self.app]

    @property
    def dedupe_key(self) -> str:
        return f"{self.app}:{self.msg_id}" if self.msg_id else f"{self.app}:{self.user}:{self.create_time}:{self.event}"


@dataclass(frozen=True)
class Reply:
    """One thing we say back: text, or a picture (bytes of a JPEG/PNG, uploaded as temporary media)."""

    text: str | None = None
    image: bytes | None = None
