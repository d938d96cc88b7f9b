"""What the WeChat tests share: the API stand-in on a clock the test moves, WeChat's side of a
callback built with wechatpy (the independent implementation), and small conversations."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from wechatpy.crypto import WeChatCrypto as WechatpyMpCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WechatpyWorkCrypto
from wechatpy.utils import WeChatSigner

from core.clock import ManualClock
from core.notifications import Notification
from core.onboarding import meet
from core.people import Person
from demo.wechat_standin import WeChatStandIn
from storage.uow import Database
from wechat.api import Credentials, WeChatApi
from wechat.endpoint import AppConfig, WeChatEndpoint
from wechat.messages import Incoming, Reply

MP_TOKEN, MP_AES = "redgrid-mp-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WORK_TOKEN, WORK_AES = "redgrid-work-token", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
GH = "gh_redgrid"  # the Official Account's original id (ToUserName)


def fresh_clock() -> ManualClock:
    # the outbox stamps rows with the system clock; this one starts just after it and moves by hand
    return ManualClock(datetime.now(timezone.utc) + timedelta(seconds=1))


async def start_standin(clock: ManualClock) -> WeChatStandIn:
    standin = WeChatStandIn(clock=lambda: clock.now().timestamp())
    await standin.start()
    return standin


def api_for(standin: WeChatStandIn) -> WeChatApi:
    return WeChatApi([Credentials("mp", standin.appid, standin.secret),
                      Credentials("work", standin.corpid, standin.corpsecret, standin.agent_id)],
                     wechat_url=standin.mp_url, wecom_url=standin.work_url)


def app_configs(standin: WeChatStandIn, *, mp_aes: str = MP_AES) -> list[AppConfig]:
    return [AppConfig("mp", MP_TOKEN, standin.appid, mp_aes), AppConfig("work", WORK_TOKEN, standin.corpid, WORK_AES)]


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


@dataclass
class WeChatServer:
    """WeChat's side of the callbacks: builds signed (and encrypted) POSTs with wechatpy."""

    client: TestClient
    appid: str
    corpid: str
    clock: ManualClock
    standin: WeChatStandIn | None = None  # told when a user writes: WeChat's own side of the 48-hour window
    ids: int = 1000

    def next_id(self) -> str:
        self.ids += 1
        return str(self.ids)

    def message_xml(self, user: str, inner: str, *, to: str = GH, msg_id: str | None = "auto") -> str:
        msg_id = self.next_id() if msg_id == "auto" else msg_id
        tail = f"<MsgId>{msg_id}</MsgId>" if msg_id else ""
        passive = any(f"[{e}]]" in inner.lower() for e in ("unsubscribe", "location", "subscribe_msg_popup_event"))
        if self.standin is not None and to == GH and not passive:
            self.standin.user_wrote(user)
        return (f"<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
                f"<CreateTime>{int(self.clock.now().timestamp())}</CreateTime>{inner}{tail}</xml>")

    def text_xml(self, user: str, text: str, **kw) -> str:
        return self.message_xml(user, f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>", **kw)

    def mp_request(self, xml: str, *, appid: str | None = None, timestamp: int | None = None,
                   token: str = MP_TOKEN, aes: str = MP_AES) -> tuple[dict, str]:
        """(query, body) as the Official Account platform posts them in safe mode."""
        ts = str(timestamp if timestamp is not None else int(self.clock.now().timestamp()))
        nonce = self.next_id()
        sealed = WechatpyMpCrypto(token, aes, appid or self.appid).encrypt_message(xml, nonce, ts)
        encrypt = sealed.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
        msg_signature = sealed.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        body = f"<xml><ToUserName><![CDATA[{GH}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        query = {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": "x",
                 "encrypt_type": "aes", "msg_signature": msg_signature}
        return query, body

    def work_request(self, xml: str, *, corpid: str | None = None, timestamp: int | None = None) -> tuple[dict, str]:
        ts = str(timestamp if timestamp is not None else int(self.clock.now().timestamp()))
        nonce = self.next_id()
        sealed = WechatpyWorkCrypto(WORK_TOKEN, WORK_AES, corpid or self.corpid).encrypt_message(xml, nonce, ts)
        encrypt = sealed.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
        msg_signature = sealed.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        body = (f"<xml><ToUserName><![CDATA[{corpid or self.corpid}]]></ToUserName>"
                f"<AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
        return {"msg_signature": msg_signature, "timestamp": ts, "nonce": nonce}, body

    async def post(self, app: str, query: dict, body: str):
        response = await self.client.post(f"/wechat/{app}", params=query, data=body.encode())
        return response.status, await response.text()

    def read_mp_reply(self, body: str, query: dict) -> str:
        """The plaintext of an encrypted passive reply, as WeChat would read it (wechatpy)."""
        ts = body.split("<TimeStamp>")[1].split("</TimeStamp>")[0]
        nonce = body.split("<Nonce><![CDATA[")[1].split("]]>")[0]
        signature = body.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        return WechatpyMpCrypto(MP_TOKEN, MP_AES, self.appid).decrypt_message(body, signature, ts, nonce)

    def read_work_reply(self, body: str) -> str:
        ts = body.split("<TimeStamp>")[1].split("</TimeStamp>")[0]
        nonce = body.split("<Nonce><![CDATA[")[1].split("]]>")[0]
        signature = body.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        return WechatpyWorkCrypto(WORK_TOKEN, WORK_AES, self.corpid).decrypt_message(body, signature, ts, nonce)


def content_of(reply_xml: str) -> str:
    return reply_xml.split("<Content><![CDATA[")[1].split("]]></Content>")[0]


@dataclass
class EchoConversation:
    """Stands in for wechat/conversation.py: meets the user (so they are a person with a WeChat
    identity), counts what it handled, and answers `收到：<text>` plus `extra` more replies.
    `gate`: when set, each call waits for it (a slow conversation)."""

    db: Database
    clock: ManualClock
    extra: list[Reply] = field(default_factory=list)
    gate: asyncio.Event | None = None
    handled: list[Incoming] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, incoming: Incoming) -> list[Reply]:
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        async with self.db.uow() as uow:
            await meet(uow, incoming.channel, incoming.user, incoming.user, incoming.user, self.clock.now())
            await uow.commit()
        self.handled.append(incoming)
        return [Reply(text=f"收到：{incoming.text or incoming.event or incoming.kind}"), *self.extra]


async def plain_render(notification: Notification, person: Person) -> list[Reply]:
    """What the conversation's renderer would say, in plain words."""
    if notification.kind == "nothing":
        return []
    words = " ".join(f"{k}={v}" for k, v in sorted(notification.payload.items()))
    return [Reply(text=f"{notification.kind} {words}".strip())]


async def endpoint_client(endpoint: WeChatEndpoint) -> TestClient:
    app = web.Application()
    endpoint.add_to(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client
