"""Issue #16's scenario through the real callback URLs, on SQLite and PostgreSQL: WeChat's side is
played by wechatpy (signed, encrypted callbacks) and the outbound API by demo/wechat_standin.py.

A newcomer follows the Official Account, agrees to the privacy notice, registers, and reports a
broken light with a photo (sent as a MediaId that the channel downloads with media/get), a shared
location, a few words and a confirm. The grid member, who has no chat yet, binds on WeCom with a code
staff issued, accepts and resolves with a photo of his own. The resident confirms and rates on WeChat.
What each of them *actually received* is read back from the stand-in (customer-service messages,
WeCom app messages) plus the passive replies the endpoint answered; WeChat's retry of a message
(the same MsgId) has one effect."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from core.binding_services import issue_bind_code
from core.cases import Actor, CaseState
from core.cases_services import ReportPolicy
from core.onboarding import roles_of
from core.people import Role, RoleGrant
from core.volunteering.common_services import VolunteerPolicy
from core.workdays import WorkCalendar
from media.photos import PhotoStore
from storage import case_tables, tables
from tests.factories import add_person, seed_world, staff_of
from tests.wechat_kit import jpeg
from tests.wechat_wire_kit import (
    WeChatServer, api_for, app_configs, content_of, endpoint_client, fresh_clock, start_standin,
)
from wechat.conversation import Conversation
from wechat.delivery import WeChatDelivery
from wechat.endpoint import WeChatEndpoint
from wechat.geo import wgs84_to_gcj02
from wechat.rendering import WeChatRenderer


class ApiMedia:
    """The conversation's MediaSource over the real API client: media/get against the stand-in."""

    def __init__(self, api) -> None:
        self.api = api

    async def download(self, app: str, media_id: str) -> bytes:
        return await self.api.download_media(app, media_id)


class Phone:
    """One WeChat (app "mp") or WeCom (app "work") user: sends through the signed, encrypted callback
    URL and keeps everything that reached them — the passive reply, then what the delivery workers
    sent through the stand-in — in the order it arrived (`got`)."""

    def __init__(self, world, app: str, user: str) -> None:
        self.w, self.app, self.user = world, app, user
        self.got: list[dict] = []
        self._from_standin = 0
        self.last_xml = ""

    async def _post(self, xml: str) -> str:
        server = self.w.server
        query, body = server.mp_request(xml) if self.app == "mp" else server.work_request(xml)
        status, answer = await server.post(self.app, query, body)
        assert status == 200, answer
        passive = ""
        if answer not in ("success", ""):
            plain = server.read_mp_reply(answer, query) if self.app == "mp" else server.read_work_reply(answer)
            passive = content_of(plain)
            self.got.append({"via": "passive", "text": passive})
        await self.w.deliver()
        for phone in self.w.phones:
            phone.collect()
        return passive

    def collect(self) -> None:
        received = self.w.standin.received(self.app, self.user)
        self.got += received[self._from_standin:]
        self._from_standin = len(received)

    async def sends(self, inner: str, **kw) -> str:
        self.w.clock.advance(seconds=1)  # events are keyed by user + CreateTime: one a second
        self.last_xml = self.w.server.message_xml(self.user, inner, to=self._to, **kw)
        before = len(self.got)
        await self._post(self.last_xml)
        return self.since(before)

    @property
    def _to(self) -> str:
        return "gh_redgrid" if self.app == "mp" else self.w.standin.corpid

    async def text(self, words: str) -> str:
        return await self.sends(f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{words}]]></Content>")

    async def photo(self, data: bytes) -> str:
        media_id = self.w.standin.add_media(data)  # WeChat keeps what the user sent as temporary media
        return await self.sends(f"<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://mmbiz/x]]></PicUrl>"
                                f"<MediaId><![CDATA[{media_id}]]></MediaId>")

    async def location(self, lat: float, lon: float) -> str:
        glat, glon = wgs84_to_gcj02(lat, lon)  # WeChat sends GCJ-02
        return await self.sends(f"<MsgType><![CDATA[location]]></MsgType><Location_X>{glat}</Location_X>"
                                f"<Location_Y>{glon}</Location_Y><Scale>16</Scale><Label><![CDATA[]]></Label>")

    async def follows(self) -> str:
        return await self.sends("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>"
                                "<EventKey><![CDATA[]]></EventKey>", msg_id=None)

    async def again(self) -> str:
        """WeChat retries the last callback: the same MsgId, a new nonce and signature."""
        before = len(self.got)
        await self._post(self.last_xml)
        return self.since(before)

    def since(self, index: int) -> str:
        return "\n\n".join(m.get("text", "") for m in self.got[index:] if m.get("text"))

    @property
    def texts(self) -> str:
        return self.since(0)

    @property
    def images(self) -> list[bytes]:
        return [m["image"] for m in self.got if m.get("image")]


@pytest.fixture
async def world(db, tmp_path):
    clock = fresh_clock()
    standin = await start_standin(clock)
    api = api_for(standin)
    calendar = WorkCalendar()
    photos = PhotoStore(tmp_path / "photos")
    conversation = Conversation(db, photos, ApiMedia(api), ReportPolicy(calendar=calendar),
                                VolunteerPolicy(calendar=calendar), clock, tz=calendar.tz)
    endpoint = WeChatEndpoint(db, conversation, app_configs(standin), clock=clock)
    client = await endpoint_client(endpoint)
    renderer = WeChatRenderer(photos, calendar.tz, clock)

    async def render(notification, person):
        async with db.uow() as uow:
            return await renderer.render(uow, notification, person)

    workers = [WeChatDelivery(db, api, render, channel, clock=clock) for channel in ("wechat", "wecom")]
    async with db.uow() as uow:
        places = await seed_world(uow)
        dc = places.communities["东城社区"]
        await add_person(uow, places, "li", "李网格", RoleGrant(None, 0, Role.GRID_MEMBER,
                                                              grid_id=places.grids["粮食局第一网格"].id))
        await add_person(uow, places, "chen", "陈书记", staff_of(dc))

    class World:
        pass

    w = World()
    w.db, w.clock, w.standin, w.endpoint, w.places = db, clock, standin, endpoint, places
    w.server = WeChatServer(client, standin.appid, standin.corpid, clock, standin)
    w.phones = []

    async def deliver() -> None:
        await endpoint.close()  # a conversation still running has put its replies in the outbox
        clock.advance(seconds=2)  # the rest of an answer follows its passive reply a second later
        for worker in workers:
            await worker.drain(timeout=20)

    w.deliver = deliver

    def phone(app: str, user: str) -> Phone:
        p = Phone(w, app, user)
        w.phones.append(p)
        return p

    w.phone = phone
    yield w
    await endpoint.close()
    await client.close()
    await api.close()
    await standin.stop()


async def bind_code(w, staff: str, whom: str) -> str:
    async with w.db.uow() as uow:
        by = w.places.people[staff]
        code = await issue_bind_code(uow, Actor(by.id, await roles_of(uow, by)), w.clock.now(),
                                     w.places.people[whom].id)
        await uow.commit()
    return code.code


async def test_a_resident_reports_on_the_official_account_and_the_grid_member_resolves_on_wecom(world):
    w = world
    wang = w.phone("mp", "o-wang-ayi")
    li = w.phone("work", "LiWangGe")

    # following the account: the privacy notice first, nothing kept before she agrees
    assert "个人信息说明" in await wang.follows()
    assert "欢迎使用" in await wang.text("1")
    assert "1. 东城社区" in wang.texts
    await wang.text("1")
    assert "请选择您所在的小区" in wang.since(-1)
    await wang.text("1")  # 粮食局小区
    assert "3. 3号楼" in wang.since(-1)
    assert "登记成功：东城社区 粮食局小区 3号楼" in await wang.text("3")

    # the report: a photo (MediaId → media/get), a location for the place, words, confirm
    light = jpeg(1)
    assert "已收到 1 张照片" in await wang.photo(light)
    assert ("mp", "media/get") in w.standin.calls
    assert "5. 💡 路灯/楼道灯" in await wang.text("1")
    assert "也可以发送位置" in await wang.text("5")
    # a precise location is asked about once before it is used
    assert "同意位置" in await wang.location(32.7056, 116.7108)
    await wang.text("同意位置")
    shown = await wang.location(32.7056, 116.7108)  # at 3号楼
    assert "1. 粮食局小区 3号楼（" in shown
    assert "不描述请回复 1 跳过" in await wang.text("1")
    summary = await wang.text("三楼楼道灯坏了，晚上很黑")
    assert "📝 三楼楼道灯坏了，晚上很黑" in summary and "1. ✅ 确认提交" in summary
    submitted = await wang.text("1")
    number = re.search(r"编号 (DC-\d{4}-\d{6})", submitted).group(1)
    async with w.db.uow() as uow:
        case = await uow.cases.by_number(number)
    assert case.state == CaseState.ASSIGNED and len(case.photos) == 1
    assert case.description == "三楼楼道灯坏了，晚上很黑"

    # WeChat retries the confirm (the same MsgId): the same answer, still one case
    assert f"编号 {number}" in await wang.again()
    async with w.db.uow() as uow:
        count = await uow.conn.execute(select(func.count()).select_from(case_tables.cases))
    assert count.scalar_one() == 1

    # the grid member, imported with no chat: agrees, binds with a code staff issued
    assert "个人信息说明" in await li.text("你好")
    await li.text("1")
    assert "绑定成功。您好，李网格" in await li.text(f"绑定 {await bind_code(w, 'chen', 'li')}")
    async with w.db.uow() as uow:
        assert (await uow.people.by_identity("wecom", "LiWangGe")).id == w.places.people["li"].id

    # a case reported before he bound waits for him: "1" is his answer to it
    accepted = await li.text("1")
    assert f"已受理 {number}" in accepted
    await li.text("2")  # ✅ 已处理，上传完成照片
    assert "请发送处理后的照片" in li.since(-1)
    assert "请用一句话说明怎么处理的" in await li.photo(jpeg(3))
    assert ("work", "media/get") in w.standin.calls
    assert "等待居民确认" in await li.text("换了新灯泡")

    # the resident was told on WeChat, as customer-service messages: accepted, then resolved with
    # the three-photo card and the question
    accepted_at = next(i for i, m in enumerate(wang.got) if "已由网格员受理" in m.get("text", ""))
    told = wang.got[accepted_at:]
    assert {m["via"] for m in told} == {"custom"}
    question = next(m["text"] for m in told if number in m.get("text", "") and "请看事前、事中、事后照片" in m["text"])
    assert "📝 处理说明：换了新灯泡" in question and "1. 👍 已解决" in question and "2. 👎 没解决" in question
    assert [m["image"][:2] for m in told if m.get("image")] == [b"\xff\xd8"]  # the card, a JPEG

    assert "请为这次处理打分" in await wang.text("1")
    assert "谢谢您的评价（5 星）" in await wang.text("5")
    assert "谢谢您的评价（5 星）" in await wang.again()  # retried: the same answer, rated once

    async with w.db.uow() as uow:
        case = await uow.cases.by_number(number)
        events = [e.kind for e in await uow.events.of("case", number)]
    assert case.state == CaseState.CLOSED and case.rating == 5
    assert [p.kind.value for p in case.photos] == ["before", "after"]
    assert events == ["submitted", "assigned", "accepted", "resolved", "confirmed"]  # each once, in order
    # what each one actually received (nothing else reached them)
    assert all(m["via"] in ("passive", "custom") for m in wang.got)
    assert all(m["via"] in ("passive", "app") for m in li.got)
    assert "已受理" not in wang.texts and "谢谢您的评价" not in li.texts
    assert li.got[-1] == {**li.got[-1], "via": "app", "text": f"居民确认 {number} 已解决，评分 5 星。"}
    assert w.standin.dropped == []
    async with w.db.engine.connect() as conn:
        unsent = (await conn.execute(select(tables.outbox.c.channel, tables.outbox.c.kind).where(
            tables.outbox.c.state != "sent"))).all()
    # every WeChat and WeCom row went out; only the new case that came while the grid member had no chat
    # at all waits for Telegram's worker (which skips it: no account); his "1" on WeCom answered it all the same
    assert [tuple(r) for r in unsent] == [("telegram", "case.new_for_handler")]
