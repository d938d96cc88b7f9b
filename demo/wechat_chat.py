"""The demo's "微信" page: play a resident who writes to the Official Account, in a WeChat-looking chat.

Everything the person does goes through redgrid's real callback URL (`/wechat/mp`) as WeChat would
send it — sealed in safe mode and signed (`demo/wechat_phone.py`) — and what they see is what WeChat
would show: the passive reply, and the customer-service messages the WeChat delivery worker sent to
the WeChat API stand-in. The page (demo/static/wechat.html) polls its chat once a second.

Mounted on the web chat's server (`WeChatChat(...).add_to(webchat.app)` before it starts): `/wechat`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

from demo.wechat_phone import WeChatPhones

STATIC_DIR = Path(__file__).parent / "static"
MAX_PHOTO = 10 * 1024 * 1024  # WeChat's limit for an image message

# newcomers on the Official Account: the privacy notice, registering, reporting (no Telegram account)
WECHAT_PERSONAS = [
    {"openid": "o-demo-liu-ayi", "name": "刘阿姨", "label": "微信居民 · 新关注"},
    {"openid": "o-demo-wu-shifu", "name": "吴师傅", "label": "微信居民 · 新关注"},
]
# the Official Account's custom menu: CLICK buttons with the keys wechat/conversation.py reads
MENU = [
    {"key": "REPORT", "label": "📷 随手拍"},
    {"key": "MY_REPORTS", "label": "📋 我的上报"},
    {"key": "ORDER", "label": "🙋 我要点单"},
    {"key": "POINTS", "label": "⭐ 我的积分"},
]


class WeChatChat:
    def __init__(self, phones: WeChatPhones, personas: list[dict[str, str]] | None = None,
                 map_center: tuple[float, float] | None = None) -> None:
        self.phones = phones
        self.personas = list(personas or WECHAT_PERSONAS)
        self.map_center = map_center
        self._followed: set[str] = set()

    def add_to(self, app: web.Application) -> None:
        routes = app.router
        routes.add_get("/wechat", self._page)
        routes.add_get("/api/wechat/config", self._config)
        routes.add_get("/api/wechat/chats/{openid}", self._chat)
        routes.add_get("/api/wechat/chats/{openid}/images/{index}", self._image)
        routes.add_post("/api/wechat/chats/{openid}/open", self._open)
        routes.add_post("/api/wechat/chats/{openid}/text", self._text)
        routes.add_post("/api/wechat/chats/{openid}/click", self._click)
        routes.add_post("/api/wechat/chats/{openid}/photo", self._photo)
        routes.add_post("/api/wechat/chats/{openid}/location", self._location)

    def _openid(self, request: web.Request) -> str:
        openid = request.match_info["openid"]
        if openid not in {p["openid"] for p in self.personas}:
            raise web.HTTPNotFound(text="no such person")
        return openid

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "wechat.html")

    async def _config(self, request: web.Request) -> web.Response:
        return _json({"personas": self.personas, "menu": MENU, "map_center": self.map_center})

    async def _chat(self, request: web.Request) -> web.Response:
        openid = self._openid(request)
        items = []
        for index, item in enumerate(self.phones.chat(openid)):
            items.append({"from": item["from"], "text": item["text"], "at": item["at"],
                          "image": f"api/wechat/chats/{openid}/images/{index}" if item["image"] else None,
                          "location": item["location"]})
        return _json({"openid": openid, "messages": items})

    async def _image(self, request: web.Request) -> web.Response:
        openid = self._openid(request)
        chat = self.phones.chat(openid)
        try:
            image = chat[int(request.match_info["index"])]["image"]
        except (ValueError, IndexError):
            image = None
        if not image:
            raise web.HTTPNotFound(text="no such image")
        return web.Response(body=image, content_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    async def _open(self, request: web.Request) -> web.Response:
        """The person opens the account for the first time: they follow it (the subscribe event)."""
        openid = self._openid(request)
        if openid not in self._followed and not self.phones.chat(openid):
            self._followed.add(openid)
            await self.phones.follow(openid)
        return _json({"ok": True})

    async def _text(self, request: web.Request) -> web.Response:
        openid = self._openid(request)
        text = str((await _body(request)).get("text", "")).strip()
        if not text:
            raise web.HTTPBadRequest(text="empty message")
        await self.phones.send_text(openid, text[:2000])
        return _json({"ok": True})

    async def _click(self, request: web.Request) -> web.Response:
        openid = self._openid(request)
        key = str((await _body(request)).get("key", ""))
        entry = next((m for m in MENU if m["key"] == key), None)
        if entry is None:
            raise web.HTTPBadRequest(text="no such menu key")
        await self.phones.click(openid, key, entry["label"])
        return _json({"ok": True})

    async def _photo(self, request: web.Request) -> web.Response:
        openid = self._openid(request)
        form = await request.post()
        photo = form.get("photo")
        if not isinstance(photo, web.FileField):
            raise web.HTTPBadRequest(text="no photo")
        data = photo.file.read(MAX_PHOTO + 1)
        if not data or len(data) > MAX_PHOTO:
            raise web.HTTPBadRequest(text="a photo of up to 10 MB")
        await self.phones.send_photo(openid, data, photo.content_type or "image/jpeg")
        return _json({"ok": True})

    async def _location(self, request: web.Request) -> web.Response:
        openid = self._openid(request)
        body = await _body(request)
        try:
            lat, lon = float(body["latitude"]), float(body["longitude"])
        except (KeyError, TypeError, ValueError):
            raise web.HTTPBadRequest(text="latitude and longitude") from None
        await self.phones.send_location(openid, lat, lon)
        return _json({"ok": True})


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="JSON expected") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="JSON object expected")
    return body


def _json(value: Any) -> web.Response:
    return web.Response(text=json.dumps(value, ensure_ascii=False), content_type="application/json")
