"""A chat-like driver for the WeChat conversation: people send text, photos, locations and menu clicks
as `Incoming`s to the real `Conversation` on a test database, and read what it answers (`sees`), and
what the outbox would tell them on WeChat (`told`, through the real `WeChatRenderer`).

The protocol half (signature, XML, media/get) is not here: `FakeMedia` stands in for media/get."""

from __future__ import annotations

import io
import itertools
from datetime import datetime

from PIL import Image, ImageDraw
from sqlalchemy import select

from core.clock import ManualClock
from core.cases_services import ReportPolicy
from core.notifications import Notification
from core.volunteering.common_services import VolunteerPolicy
from core.workdays import WorkCalendar
from media.photos import PhotoStore
from storage import tables
from wechat.conversation import Conversation
from wechat.geo import wgs84_to_gcj02
from wechat.messages import Incoming, Reply
from wechat.rendering import WeChatRenderer


def jpeg(seed: int) -> bytes:
    """A small JPEG that differs (bytes and looks) for each seed."""
    image = Image.new("RGB", (160, 120), ((seed * 53) % 256, (seed * 97) % 256, (seed * 29) % 256))
    draw = ImageDraw.Draw(image)
    draw.rectangle([(seed * 13) % 120, (seed * 7) % 80, (seed * 13) % 120 + 30, (seed * 7) % 80 + 30], fill="white")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


class FakeMedia:
    """media/get: the bytes of what a user sent, by media id; a failing id raises like a network error."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.failing: set[str] = set()
        self.asked: list[tuple[str, str]] = []

    async def download(self, app: str, media_id: str) -> bytes:
        self.asked.append((app, media_id))
        if media_id in self.failing:
            raise OSError("media/get timed out")
        return self.files[media_id]


class WeChatUser:
    def __init__(self, kit: "WeChatKit", app: str, user: str, *, agreed: bool = True) -> None:
        """`agreed`: stands for someone who said yes to the privacy notice and to using their location
        before the story starts (tests/test_wechat_conversation.py shows the notice itself)."""
        self.kit, self.app, self.user = kit, app, user
        self.replies: list[Reply] = []
        self.last_incoming: Incoming | None = None
        self._agree_first = agreed

    async def _agreed_before(self) -> None:
        from core.consent import Purpose
        from core.consent_services import agree, record_agreement

        channel = "wechat" if self.app == "mp" else "wecom"
        async with self.kit.db.uow() as uow:
            name = f"微信用户{self.user[-4:]}" if self.app == "mp" else self.user
            account = await agree(uow, self.kit.conversation.privacy, channel, self.user, self.user, name,
                                  self.kit.clock.now())
            await record_agreement(uow, account.person, Purpose.LOCATION, 1, channel, self.kit.clock.now())
            await uow.commit()

    async def _send(self, **fields) -> list[Reply]:
        incoming = Incoming(app=self.app, user=self.user, create_time=next(self.kit.seconds), **fields)  # type: ignore[arg-type]
        return await self._handle(incoming)

    async def _handle(self, incoming: Incoming) -> list[Reply]:
        if self._agree_first:
            self._agree_first = False
            await self._agreed_before()
        self.last_incoming = incoming
        self.replies = await self.kit.conversation.handle(incoming)
        return self.replies

    async def sends_text(self, text: str) -> str:
        await self._send(kind="text", text=text, msg_id=str(next(self.kit.ids)))
        return self.text

    async def sends_photo(self, seed: int) -> str:
        media_id = f"media-{seed}-{next(self.kit.ids)}"
        self.kit.media.files[media_id] = jpeg(seed)
        await self._send(kind="image", media_id=media_id, msg_id=str(next(self.kit.ids)))
        return self.text

    async def sends_location(self, lat: float, lon: float) -> str:
        """A location at WGS84 (lat, lon), sent as WeChat sends it: in GCJ-02."""
        glat, glon = wgs84_to_gcj02(lat, lon)
        await self._send(kind="location", lat=glat, lon=glon, label="", msg_id=str(next(self.kit.ids)))
        return self.text

    async def clicks(self, key: str) -> str:
        await self._send(kind="event", event="click", event_key=key)
        return self.text

    async def subscribes(self) -> str:
        await self._send(kind="event", event="subscribe")
        return self.text

    async def sends_again(self) -> str:
        """WeChat retries the last message (the same MsgId)."""
        assert self.last_incoming is not None
        await self._handle(self.last_incoming)
        return self.text

    @property
    def text(self) -> str:
        return "\n\n".join(r.text for r in self.replies if r.text)

    @property
    def images(self) -> list[bytes]:
        return [r.image for r in self.replies if r.image]

    def sees(self, fragment: str) -> str:
        assert fragment in self.text, f"{fragment!r} not in {self.text!r}"
        return self.text


class WeChatKit:
    def __init__(self, db, tmp_path, now: datetime) -> None:
        self.db = db
        self.clock = ManualClock(now)
        self.photos = PhotoStore(tmp_path)
        self.media = FakeMedia()
        calendar = WorkCalendar()
        self.policy = ReportPolicy(calendar=calendar)
        self.conversation = Conversation(db, self.photos, self.media, self.policy, VolunteerPolicy(calendar=calendar),
                                         self.clock, tz=calendar.tz, nearest_building_max_m=300)
        self.renderer = WeChatRenderer(self.photos, calendar.tz, self.clock)
        self.ids = itertools.count(1000)
        self.seconds = itertools.count(1_800_000_000)

    def resident(self, openid: str, *, agreed: bool = True) -> WeChatUser:
        return WeChatUser(self, "mp", openid, agreed=agreed)

    def staff_member(self, userid: str) -> WeChatUser:
        return WeChatUser(self, "work", userid)

    async def person_of(self, user: WeChatUser):
        async with self.db.uow() as uow:
            return await uow.people.by_identity("wechat" if user.app == "mp" else "wecom", user.user)

    async def told(self, person_id: int, kind: str | None = None) -> list[Reply]:
        """What the newest outbox notification for `person_id` (of `kind`) says on WeChat."""
        async with self.db.uow() as uow:
            stmt = select(tables.outbox).where(tables.outbox.c.person_id == person_id)
            if kind:
                stmt = stmt.where(tables.outbox.c.kind == kind)
            row = (await uow.conn.execute(stmt.order_by(tables.outbox.c.id.desc()).limit(1))).first()
            assert row is not None, f"nothing for person {person_id} ({kind})"
            person = await uow.people.get(person_id)
            return await self.renderer.render(uow, Notification(person_id, row.kind, row.payload), person)
