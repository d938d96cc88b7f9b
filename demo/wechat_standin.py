"""A stand-in for WeChat's outbound API (Official Account and WeCom), for the tests and the demo.

It keeps WeChat's rules as WeChat keeps them, so the tests can prove we keep within them:

- tokens: `/cgi-bin/token` and `/cgi-bin/stable_token` (mp), `/cgi-bin/gettoken` (WeCom) hand out
  tokens that expire (the stable one and WeCom's: the same while it is valid);
  a call with an unknown or expired token answers 40001 / 42001. `expire_tokens()` ages them all.
- customer-service messages (`message/custom/send`): only within 48 hours of the user's last message
  (`user_wrote`), else 45015; at most 5 in that window, else 45047.
- one-time subscriptions (`message/subscribe/bizsend`): one send per subscription the user granted
  (`grant_subscription`), else 43101; template messages (`message/template/send`) are accepted.
- `unfollow(openid)`: customer-service messages to them answer 43004.
- QR codes with a scene (`qrcode/create`, QR_LIMIT_STR_SCENE): a ticket per scene string (the same
  scene, the same ticket); `showqrcode?ticket=` (no token, as WeChat's) draws it; `scene_of(ticket)`.
- media: `media/upload` keeps the bytes, `media/get` returns them (`add_media` puts a user's photo there).
- WeCom app messages (`message/send`): per member 30 a minute and 1,000 an hour; the excess is
  DROPPED and still answered `{"errcode": 0}` — as WeCom does. `received(app, user)` is what each
  user actually got; `dropped` what was lost that way.

Both APIs are served by one server: the Official Account's under `/mp`, WeCom's under `/work`
(`mp_url`, `work_url`: what WECHAT_API_URL and WECOM_API_URL point at).
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

WINDOW_S = 48 * 3600
WINDOW_MESSAGES = 5
WECOM_PER_MINUTE = 30
WECOM_PER_HOUR = 1000


@dataclass
class _Window:
    opened_at: float
    used: int = 0


@dataclass
class WeChatStandIn:
    appid: str = "wx-demo-appid"
    secret: str = "demo-secret"
    corpid: str = "ww-demo-corp"
    corpsecret: str = "demo-corp-secret"
    agent_id: int = 1000002
    token_ttl: int = 7200
    clock: Callable[[], float] = time.time
    token_requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    calls: list[tuple[str, str]] = field(default_factory=list)          # (app, method path) in order
    dropped: list[dict[str, Any]] = field(default_factory=list)         # WeCom messages silently lost

    def __post_init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}                  # token -> (app, expires at)
        self._windows: dict[str, _Window] = {}
        self._subscriptions: dict[tuple[str, str], int] = defaultdict(int)
        self._received: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self._media: dict[str, tuple[bytes, str]] = {}
        self._wecom_sent: dict[str, deque[float]] = defaultdict(deque)
        self._unfollowed: set[str] = set()
        self._ids = itertools.count(1)
        self._scenes: dict[str, str] = {}                                # ticket -> scene string
        self.app = web.Application()
        for app in ("mp", "work"):
            self.app.router.add_route("*", f"/{app}/cgi-bin/{{method:.+}}", self._handle)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # ------------------------------------------------------------------ what tests and the demo do

    @property
    def mp_url(self) -> str:
        return self.base_url + "/mp"

    @property
    def work_url(self) -> str:
        return self.base_url + "/work"

    def user_wrote(self, openid: str, at: float | None = None) -> None:
        """The user sent the account a message: a new 48-hour window of 5 messages opens."""
        self._windows[openid] = _Window(self.clock() if at is None else at)

    def unfollow(self, openid: str) -> None:
        """The user unfollowed the Official Account: nothing reaches them any more (43004)."""
        self._unfollowed.add(openid)

    def grant_subscription(self, openid: str, template_id: str, times: int = 1) -> None:
        self._subscriptions[(openid, template_id)] += times

    def add_media(self, data: bytes, content_type: str = "image/jpeg") -> str:
        """A photo a user sent: WeChat keeps it as temporary media; returns its media_id."""
        media_id = f"media-{next(self._ids)}-{secrets.token_hex(4)}"
        self._media[media_id] = (data, content_type)
        return media_id

    def received(self, app: str, user: str) -> list[dict[str, Any]]:
        """What `user` actually got, in order: {"via": custom|subscribe|template|app, "text"|"image"|"data"}."""
        return list(self._received[(app, user)])

    def texts(self, app: str, user: str) -> list[str]:
        return [m.get("text", "") for m in self.received(app, user)]

    def scene_of(self, ticket: str) -> str | None:
        return self._scenes.get(ticket)

    def qr_url(self, ticket: str) -> str:
        """What the account's QR code holds (WeChat's http://weixin.qq.com/q/… link)."""
        return f"http://weixin.qq.com/q/{ticket}"

    def expire_tokens(self) -> None:
        self._tokens = {token: (app, 0.0) for token, (app, _) in self._tokens.items()}

    # ------------------------------------------------------------------ server lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.base_url = f"http://{host}:{self._runner.addresses[0][1]}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ the API

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        app = request.path.split("/")[1]
        method = request.match_info["method"]
        self.calls.append((app, method))
        if app == "mp" and method == "showqrcode":  # by ticket, no token (mp.weixin.qq.com in WeChat)
            return self._show_qr(request.query.get("ticket", ""))
        if method in (("token", "stable_token") if app == "mp" else ("gettoken",)):
            return await self._issue_token(app, method, request)
        token = request.query.get("access_token", "")
        known = self._tokens.get(token)
        if known is None or known[0] != app:
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        if known[1] <= self.clock():
            return _error(42001, "access_token expired")
        if method == "media/upload":
            return await self._upload(request)
        if method == "media/get":
            found = self._media.get(request.query.get("media_id", ""))
            if found is None:
                return _error(40007, "invalid media_id")
            return web.Response(body=found[0], content_type=found[1])
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            return _error(47001, "data format error")
        if app == "mp" and method == "message/custom/send":
            return self._custom_send(body)
        if app == "mp" and method == "message/subscribe/bizsend":
            return self._subscribe_send(body)
        if app == "mp" and method == "message/template/send":
            self._deliver("mp", body.get("touser", ""), "template", data=body.get("data", {}))
            return _ok(msgid=next(self._ids))
        if app == "work" and method == "message/send":
            return self._app_send(body)
        if app == "mp" and method == "qrcode/create":
            return self._create_qr(body)
        return _error(43002, f"unknown method {method}")

    async def _issue_token(self, app: str, method: str, request: web.Request) -> web.Response:
        """`token` (mp): a new token each time. `stable_token` (mp, POST JSON) and `gettoken` (WeCom):
        the token still valid, if any, with the seconds it has left; a new one after it expired."""
        q: Any = json.loads(await request.read() or b"{}") if method == "stable_token" else request.query
        ok = (q.get("appid") == self.appid and q.get("secret") == self.secret) if app == "mp" else \
             (q.get("corpid") == self.corpid and q.get("corpsecret") == self.corpsecret)
        if not ok:
            return _error(40125 if app == "mp" else 40001, "invalid appsecret")
        self.token_requests[app] += 1
        now = self.clock()
        if method != "token" and not q.get("force_refresh"):
            valid = [(token, until) for token, (owner, until) in self._tokens.items() if owner == app and until > now]
            if valid:
                token, until = max(valid, key=lambda pair: pair[1])
                return _ok(access_token=token, expires_in=int(until - now))
        token = f"{app}-token-{secrets.token_hex(8)}"
        self._tokens[token] = (app, now + self.token_ttl)
        return _ok(access_token=token, expires_in=self.token_ttl)

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        media = form.get("media")
        if not isinstance(media, web.FileField):
            return _error(41005, "media data missing")
        media_id = self.add_media(media.file.read(), media.content_type or "image/jpeg")
        return _ok(type=request.query.get("type", "image"), media_id=media_id, created_at=int(self.clock()))

    def _message(self, body: dict[str, Any]) -> dict[str, Any]:
        kind = body.get("msgtype")
        if kind == "text":
            return {"text": body.get("text", {}).get("content", "")}
        if kind == "image":
            media_id = body.get("image", {}).get("media_id", "")
            return {"image": self._media.get(media_id, (b"", ""))[0], "media_id": media_id}
        return {"unknown": kind}

    def _custom_send(self, body: dict[str, Any]) -> web.Response:
        user = body.get("touser", "")
        if user in self._unfollowed:
            return _error(43004, "require subscribe")
        window = self._windows.get(user)
        if window is None or self.clock() - window.opened_at > WINDOW_S:
            return _error(45015, "response out of time limit or subscription is canceled")
        if window.used >= WINDOW_MESSAGES:
            return _error(45047, "out of response count limit")
        window.used += 1
        self._deliver("mp", user, "custom", **self._message(body))
        return _ok()

    def _subscribe_send(self, body: dict[str, Any]) -> web.Response:
        key = (body.get("touser", ""), body.get("template_id", ""))
        if self._subscriptions[key] <= 0:
            return _error(43101, "user refuse to accept the msg")
        self._subscriptions[key] -= 1
        data = {k: v.get("value", "") for k, v in (body.get("data") or {}).items()}
        self._deliver("mp", key[0], "subscribe", data=data, text=" ".join(data.values()))
        return _ok(msgid=next(self._ids))

    def _app_send(self, body: dict[str, Any]) -> web.Response:
        if int(body.get("agentid") or 0) != self.agent_id:
            return _error(40056, "invalid agentid")
        now = self.clock()
        for user in filter(None, str(body.get("touser", "")).split("|")):
            sent = self._wecom_sent[user]
            while sent and now - sent[0] >= 3600:
                sent.popleft()
            in_minute = sum(1 for at in sent if now - at < 60)
            message = self._message(body)
            if in_minute >= WECOM_PER_MINUTE or len(sent) >= WECOM_PER_HOUR:
                self.dropped.append({"user": user, "at": now, **message})  # and WeCom says nothing
                continue
            sent.append(now)
            self._deliver("work", user, "app", **message)
        return _ok(invaliduser="", msgid=f"msg-{next(self._ids)}")

    def _create_qr(self, body: dict[str, Any]) -> web.Response:
        scene = str(((body.get("action_info") or {}).get("scene") or {}).get("scene_str", ""))
        if body.get("action_name") != "QR_LIMIT_STR_SCENE" or not 1 <= len(scene) <= 64:
            return _error(40053, "invalid action info")
        ticket = next((t for t, s in self._scenes.items() if s == scene), None) or f"gQ{secrets.token_urlsafe(24)}"
        self._scenes[ticket] = scene
        return _ok(ticket=ticket, url=self.qr_url(ticket))

    def _show_qr(self, ticket: str) -> web.Response:
        if ticket not in self._scenes:
            return web.Response(status=404, text="no such ticket")
        import io

        import segno

        out = io.BytesIO()
        segno.make(self.qr_url(ticket), error="m").save(out, kind="png", scale=8, border=2)
        return web.Response(body=out.getvalue(), content_type="image/png")

    def _deliver(self, app: str, user: str, via: str, **message: Any) -> None:
        self._received[(app, user)].append({"via": via, "at": self.clock(), **message})


def _ok(**fields: Any) -> web.Response:
    return web.json_response({"errcode": 0, "errmsg": "ok", **fields})


def _error(code: int, message: str) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": message})
