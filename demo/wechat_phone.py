"""WeChat's side of the demo: what the WeChat app and Tencent's servers would do for a person who
writes to the Official Account — build the callback (XML), seal it in safe mode, sign it, POST it
to redgrid's real callback URL (`/wechat/mp`), and read the passive reply. The rest of what redgrid
says arrives through the outbound API, i.e. in the WeChat stand-in's record (`WeChatStandIn.received`).

`WeChatPhones.chat(openid)` is one person's conversation as the WeChat app would show it: what they
sent, the passive replies and the customer-service messages, in order. The demo's "微信" page
(demo/wechat_chat.py) and the side-by-side test (tests/test_two_channels.py) use it.

The tests of the endpoint itself build their callbacks with wechatpy (an independent implementation);
this one uses redgrid's own `wechat.crypto`, which those tests hold to wechatpy and Tencent's vectors.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from demo.wechat_standin import WeChatStandIn
from wechat.crypto import MessageCrypto, signature
from wechat.geo import wgs84_to_gcj02
from wechat.wire import parse_xml

# the demo account's secrets, as they would be set on the consoles (any 43 letters/digits do for a key)
DEMO_MP_TOKEN = "redgriddemo"
DEMO_MP_AES_KEY = "RedGridDemoOfficialAccountSafeModeKey012345"
DEMO_WORK_TOKEN = "redgriddemowork"
DEMO_WORK_AES_KEY = "RedGridDemoWeComAppSafeModeKey0123456789abc"
DEMO_ACCOUNT = "gh_redgrid_demo"  # the Official Account's original id (ToUserName)


def demo_wechat_settings(standin: WeChatStandIn) -> dict[str, Any]:
    """The WECHAT_* / WECOM_* settings that point redgrid at the stand-in (as `redgrid run` reads them)."""
    return {"wechat_mp_appid": standin.appid, "wechat_mp_secret": standin.secret,
            "wechat_mp_token": DEMO_MP_TOKEN, "wechat_mp_aes_key": DEMO_MP_AES_KEY,
            "wecom_corp_id": standin.corpid, "wecom_agent_id": standin.agent_id, "wecom_secret": standin.corpsecret,
            "wecom_token": DEMO_WORK_TOKEN, "wecom_aes_key": DEMO_WORK_AES_KEY,
            "wechat_api_url": standin.mp_url, "wecom_api_url": standin.work_url}


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass
class Sent:
    """Something the person sent (or, from_account, a passive reply), at a time (seconds)."""

    at: float
    from_account: bool
    text: str = ""
    image: bytes | None = None
    location: tuple[float, float] | None = None


@dataclass
class WeChatPhones:
    """The Official Account's users as WeChat would carry their messages to `callback_url`."""

    callback_url: str           # where /wechat/mp is served
    standin: WeChatStandIn
    token: str = DEMO_MP_TOKEN
    aes_key: str = DEMO_MP_AES_KEY
    account: str = DEMO_ACCOUNT
    _log: dict[str, list[Sent]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(int(time.time() * 1000)))
    _last_create: dict[str, int] = field(default_factory=dict)

    @property
    def crypto(self) -> MessageCrypto:
        return MessageCrypto(self.token, self.aes_key, self.standin.appid)

    # ------------------------------------------------------------------ what a person does

    async def send_text(self, openid: str, text: str) -> str:
        self._note(openid, Sent(time.time(), False, text=text))
        return await self._deliver(openid, f"<MsgType>{_cdata('text')}</MsgType><Content>{_cdata(text)}</Content>")

    async def send_photo(self, openid: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """WeChat keeps the photo as temporary media (the stand-in's media/get serves it) and calls with its MediaId."""
        self._note(openid, Sent(time.time(), False, image=data))
        media_id = self.standin.add_media(data, content_type)
        return await self._deliver(openid, f"<MsgType>{_cdata('image')}</MsgType>"
                                           f"<PicUrl>{_cdata('http://mmbiz.qpic.cn/demo')}</PicUrl>"
                                           f"<MediaId>{_cdata(media_id)}</MediaId>")

    async def send_location(self, openid: str, lat: float, lon: float, label: str = "") -> str:
        """A location at WGS84 (lat, lon), sent as WeChat sends it: in GCJ-02."""
        self._note(openid, Sent(time.time(), False, text=label or "📍 位置", location=(lat, lon)))
        glat, glon = wgs84_to_gcj02(lat, lon)
        return await self._deliver(openid, f"<MsgType>{_cdata('location')}</MsgType><Location_X>{glat:.6f}</Location_X>"
                                           f"<Location_Y>{glon:.6f}</Location_Y><Scale>16</Scale>"
                                           f"<Label>{_cdata(label)}</Label>")

    async def click(self, openid: str, key: str, label: str = "") -> str:
        """A press on the account's menu (a CLICK button with this EventKey)."""
        self._note(openid, Sent(time.time(), False, text=f"☰ {label or key}"))
        return await self._deliver(openid, f"<MsgType>{_cdata('event')}</MsgType><Event>{_cdata('CLICK')}</Event>"
                                           f"<EventKey>{_cdata(key)}</EventKey>", event=True)

    async def follow(self, openid: str) -> str:
        return await self._deliver(openid, f"<MsgType>{_cdata('event')}</MsgType><Event>{_cdata('subscribe')}</Event>"
                                           f"<EventKey>{_cdata('')}</EventKey>", event=True)

    # ------------------------------------------------------------------ what the person sees

    def chat(self, openid: str) -> list[dict[str, Any]]:
        """Their conversation in order: {"at", "from": "me" | "account", "text", "image" (bytes) | None}."""
        items = [{"at": s.at, "from": "account" if s.from_account else "me", "text": s.text, "image": s.image,
                  "location": s.location} for s in self._log.get(openid, [])]
        for got in self.standin.received("mp", openid):
            items.append({"at": got.get("at", 0.0), "from": "account", "text": got.get("text", ""),
                          "image": got.get("image") or None, "location": None})
        return sorted(items, key=lambda item: item["at"])  # stable: a passive reply before what follows it

    def texts(self, openid: str) -> list[str]:
        return [item["text"] for item in self.chat(openid) if item["from"] == "account" and item["text"]]

    # ------------------------------------------------------------------ the wire

    def _note(self, openid: str, sent: Sent) -> None:
        self._log.setdefault(openid, []).append(sent)

    def _create_time(self, openid: str) -> int:
        """Seconds; an event is keyed by user + CreateTime, so one person's events get distinct seconds."""
        now = max(int(time.time()), self._last_create.get(openid, 0) + 1)
        self._last_create[openid] = now
        return now

    async def _deliver(self, openid: str, inner: str, *, event: bool = False) -> str:
        self.standin.user_wrote(openid)  # a message (a click, a follow) opens the 48-hour window
        msg_id = "" if event else f"<MsgId>{next(self._ids)}</MsgId>"
        xml = (f"<xml><ToUserName>{_cdata(self.account)}</ToUserName><FromUserName>{_cdata(openid)}</FromUserName>"
               f"<CreateTime>{self._create_time(openid)}</CreateTime>{inner}{msg_id}</xml>")
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
        encrypt, msg_signature = self.crypto.seal(xml, timestamp, nonce)
        body = f"<xml><ToUserName>{_cdata(self.account)}</ToUserName><Encrypt>{_cdata(encrypt)}</Encrypt></xml>"
        query = {"signature": signature(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
                 "openid": openid, "encrypt_type": "aes", "msg_signature": msg_signature}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{self.callback_url}/wechat/mp", params=query, data=body.encode()) as response:
                answer = await response.text()
                if response.status != 200:
                    raise RuntimeError(f"the callback URL answered {response.status}: {answer}")
        reply = self._passive(answer)
        if reply:
            self._note(openid, Sent(time.time(), True, text=reply))
        return reply

    def _passive(self, answer: str) -> str:
        """The text of an encrypted passive reply, checked as WeChat checks it ("success": none)."""
        if answer in ("", "success"):
            return ""
        outer = parse_xml(answer)
        plain = self.crypto.open(outer.findtext("MsgSignature") or "", outer.findtext("TimeStamp") or "",
                                 outer.findtext("Nonce") or "", outer.findtext("Encrypt") or "")
        return parse_xml(plain).findtext("Content") or ""
