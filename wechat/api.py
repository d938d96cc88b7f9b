"""The outbound WeChat API: the Official Account's and the WeCom app's, over aiohttp.

One `WeChatApi` per process holds an access token per app, fetched when first needed and again
`refresh_margin` seconds before it expires. The Official Account's comes from `stable_token` and
WeCom's from `gettoken`, both of which give every caller the same token while it is valid, so several
processes (each serving callbacks) do not invalidate each other's; one refresh at a time (a lock per app: a hundred
senders finding the token stale make one token request, not a hundred). An answer with errcode
40001 / 40014 / 42001 (the token is invalid or expired: another process fetched a new one, or the
clock was wrong) drops that token and makes the call once more with a fresh one.

What it sends: customer-service messages (mp, inside the 48-hour window), one-time subscription
and template messages (mp, outside it), app messages (WeCom), and images (uploaded as temporary
media first); `download_media` fetches what a user sent (temporary media live 3 days).
Errors carry WeChat's errcode (`WeChatApiError`); network trouble raises aiohttp's errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

import aiohttp

from wechat.messages import App

log = logging.getLogger(__name__)

WECHAT_API_URL = "https://api.weixin.qq.com"
WECOM_API_URL = "https://qyapi.weixin.qq.com"
SHOWQRCODE_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode"   # another host than the API's
TOKEN_INVALID = {40001, 40014, 42001}  # invalid credential, invalid access_token, access_token expired
OUT_OF_WINDOW = 45015                  # mp: no message from the user in 48 hours (or they unfollowed)
WINDOW_USED_UP = 45047                 # mp: the window's customer-service messages are used up
NOT_SUBSCRIBED = 43101                 # mp: no (more) one-time subscription for this template
UNFOLLOWED = 43004                     # mp: the user no longer follows the account
USER_BLOCKED = 40003                   # invalid openid / user: not ours, or gone


class WeChatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str, call: str = "") -> None:
        super().__init__(f"{call}: errcode {errcode}: {errmsg}" if call else f"errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class Credentials:
    """An Official Account (appid + AppSecret) or a WeCom self-built app (corpid + its Secret + AgentId)."""

    app: App
    id: str          # appid (mp) / corpid (WeCom)
    secret: str
    agent_id: int = 0  # WeCom only


@dataclass
class _Token:
    value: str
    fresh_until: float  # monotonic: refresh from here on


class WeChatApi:
    def __init__(self, accounts: list[Credentials], *, wechat_url: str = WECHAT_API_URL,
                 wecom_url: str = WECOM_API_URL, session: aiohttp.ClientSession | None = None,
                 refresh_margin: float = 300.0, timeout: float = 10.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.accounts = {a.app: a for a in accounts}
        self.base = {"mp": wechat_url.rstrip("/"), "work": wecom_url.rstrip("/")}
        self._session = session
        self._own_session = session is None
        self.refresh_margin = refresh_margin
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._monotonic = monotonic
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.token_requests = 0  # for tests and the log
        # the QR code's picture comes from mp.weixin.qq.com; a stand-in serves it beside its API
        self.showqrcode_url = SHOWQRCODE_URL if wechat_url.rstrip("/") == WECHAT_API_URL \
            else self.base["mp"] + "/cgi-bin/showqrcode"

    def has(self, app: App) -> bool:
        return app in self.accounts

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()

    # ------------------------------------------------------------------ the access token

    async def token(self, app: App) -> str:
        cached = self._tokens.get(app)
        if cached is not None and self._monotonic() < cached.fresh_until:
            return cached.value
        async with self._locks.setdefault(app, asyncio.Lock()):
            cached = self._tokens.get(app)  # another sender may have refreshed it while we waited
            if cached is not None and self._monotonic() < cached.fresh_until:
                return cached.value
            account = self._account(app)
            self.token_requests += 1
            if app == "mp":  # the stable token: every process asking gets the same one, none invalidates another's
                data = await self._json("POST", app, "/cgi-bin/stable_token", call="stable_token", body={
                    "grant_type": "client_credential", "appid": account.id, "secret": account.secret,
                    "force_refresh": False})
            else:  # WeCom hands out the same token until it expires anyway
                data = await self._json("GET", app, "/cgi-bin/gettoken", call="gettoken",
                                        params={"corpid": account.id, "corpsecret": account.secret})
            expires_in = float(data.get("expires_in") or 7200)
            self._tokens[app] = _Token(str(data["access_token"]),
                                       self._monotonic() + max(expires_in - self.refresh_margin, expires_in / 2))
            return self._tokens[app].value

    def _drop_token(self, app: App, value: str) -> None:
        cached = self._tokens.get(app)
        if cached is not None and cached.value == value:  # not one a concurrent refresh already replaced
            del self._tokens[app]

    def _account(self, app: App) -> Credentials:
        try:
            return self.accounts[app]
        except KeyError:
            raise WeChatApiError(-1, f"no credentials for the {app} app") from None

    # ------------------------------------------------------------------ calls

    async def _json(self, method: str, app: App, path: str, *, params: dict[str, Any] | None = None,
                    body: Any = None, data: aiohttp.FormData | None = None, call: str = "") -> dict[str, Any]:
        http = await self._http()
        kwargs: dict[str, Any] = {"params": params or {}}
        if body is not None:  # WeChat wants UTF-8 as is: \\uXXXX escapes are counted against length limits
            kwargs["data"] = json.dumps(body, ensure_ascii=False).encode()
            kwargs["headers"] = {"Content-Type": "application/json; charset=utf-8"}
        elif data is not None:
            kwargs["data"] = data
        async with http.request(method, self.base[app] + path, **kwargs) as response:
            response.raise_for_status()
            answer = json.loads(await response.read())
        errcode = int(answer.get("errcode") or 0)
        if errcode:
            raise WeChatApiError(errcode, str(answer.get("errmsg", "")), call or path)
        return answer

    async def _call(self, method: str, app: App, path: str, *, params: dict[str, Any] | None = None,
                    body: Any = None, data: Callable[[], aiohttp.FormData] | None = None,
                    call: str = "") -> dict[str, Any]:
        """An authenticated call: the token added, refreshed once if WeChat says it is stale."""
        for attempt in (1, 2):
            token = await self.token(app)
            try:
                return await self._json(method, app, path, params={**(params or {}), "access_token": token},
                                        body=body, data=data() if data else None, call=call)
            except WeChatApiError as exc:
                if exc.errcode in TOKEN_INVALID and attempt == 1:
                    log.info("WeChat says the %s access token is stale (%s); fetching a new one", app, exc.errcode)
                    self._drop_token(app, token)
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def send_text(self, app: App, user: str, text: str) -> dict[str, Any]:
        """A customer-service message (mp) or an app message (WeCom) to one user."""
        if app == "mp":
            return await self._call("POST", app, "/cgi-bin/message/custom/send", call="custom/send",
                                    body={"touser": user, "msgtype": "text", "text": {"content": text}})
        return await self._call("POST", app, "/cgi-bin/message/send", call="message/send", body={
            "touser": user, "msgtype": "text", "agentid": self._account(app).agent_id, "text": {"content": text}})

    async def upload_image(self, app: App, image: bytes, filename: str = "photo.jpg") -> str:
        """Temporary media (3 days); returns its media_id."""
        def form() -> aiohttp.FormData:
            data = aiohttp.FormData()
            content_type = "image/png" if image[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
            data.add_field("media", image, filename=filename, content_type=content_type)
            return data
        answer = await self._call("POST", app, "/cgi-bin/media/upload", params={"type": "image"}, data=form,
                                  call="media/upload")
        return str(answer["media_id"])

    async def send_image(self, app: App, user: str, image: bytes) -> dict[str, Any]:
        media_id = await self.upload_image(app, image)
        if app == "mp":
            return await self._call("POST", app, "/cgi-bin/message/custom/send", call="custom/send",
                                    body={"touser": user, "msgtype": "image", "image": {"media_id": media_id}})
        return await self._call("POST", app, "/cgi-bin/message/send", call="message/send", body={
            "touser": user, "msgtype": "image", "agentid": self._account(app).agent_id,
            "image": {"media_id": media_id}})

    async def send_subscription(self, user: str, template_id: str, data: dict[str, str],
                                page: str = "") -> dict[str, Any]:
        """A one-time subscription message (订阅通知, mp): each subscription the user granted allows one."""
        body: dict[str, Any] = {"touser": user, "template_id": template_id,
                                "data": {key: {"value": value} for key, value in data.items()}}
        if page:
            body["page"] = page
        return await self._call("POST", "mp", "/cgi-bin/message/subscribe/bizsend", body=body, call="subscribe/bizsend")

    async def send_template(self, user: str, template_id: str, data: dict[str, str], url: str = "") -> dict[str, Any]:
        """A template message (模板消息, a service account's approved template)."""
        body: dict[str, Any] = {"touser": user, "template_id": template_id,
                                "data": {key: {"value": value} for key, value in data.items()}}
        if url:
            body["url"] = url
        return await self._call("POST", "mp", "/cgi-bin/message/template/send", body=body, call="template/send")

    async def download_media(self, app: App, media_id: str) -> bytes:
        """The bytes of a photo or voice a user sent (media/get); WeChat keeps them 3 days."""
        for attempt in (1, 2):
            token = await self.token(app)
            http = await self._http()
            async with http.get(self.base[app] + "/cgi-bin/media/get",
                                params={"access_token": token, "media_id": media_id}) as response:
                response.raise_for_status()
                payload = await response.read()
                kind = response.content_type
            if kind in ("application/json", "text/plain") or payload[:1] == b"{":
                answer = json.loads(payload)
                errcode = int(answer.get("errcode") or 0)
                if errcode in TOKEN_INVALID and attempt == 1:
                    self._drop_token(app, token)
                    continue
                raise WeChatApiError(errcode or -1, str(answer.get("errmsg", "not a file")), "media/get")
            return payload
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ QR codes with a scene (带参数二维码)

    async def create_scene_qr(self, scene: str) -> tuple[str, str]:
        """A permanent QR code of the Official Account that carries `scene` (1–64 characters): whoever scans
        it is sent a subscribe event (not following yet) or a SCAN event with EventKey `qrscene_<scene>` /
        `<scene>`. Returns (ticket, the URL the code holds). Permanent codes are limited (100,000 per account),
        so the same scene should be asked for once and its ticket kept."""
        if not 1 <= len(scene) <= 64:
            raise ValueError("a scene string has 1–64 characters")
        answer = await self._call("POST", "mp", "/cgi-bin/qrcode/create", call="qrcode/create", body={
            "action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}})
        return str(answer["ticket"]), str(answer.get("url", ""))

    async def show_qr(self, ticket: str) -> bytes:
        """The picture of a QR code by its ticket (showqrcode: no access token; the ticket is the secret)."""
        http = await self._http()
        async with http.get(self.showqrcode_url, params={"ticket": ticket}) as response:
            response.raise_for_status()
            payload = await response.read()
        if payload[:1] == b"{":
            answer = json.loads(payload)
            raise WeChatApiError(int(answer.get("errcode") or -1), str(answer.get("errmsg", "not a picture")),
                                 "showqrcode")
        return payload

    async def scene_qr_png(self, scene: str) -> bytes:
        """create_scene_qr, then its picture."""
        ticket, _ = await self.create_scene_qr(scene)
        return await self.show_qr(ticket)
