"""The callback URLs WeChat calls: `/wechat/mp` (Official Account) and `/wechat/work` (WeCom app).

GET is the URL check the consoles make when the URL is saved: the Official Account's signature
over (token, timestamp, nonce), answered with `echostr`; WeCom's `msg_signature` over (token,
timestamp, nonce, echostr), answered with the *decrypted* echostr.

POST is a message or an event. Before anything else it is refused with 403 when the signature is
wrong (compared in constant time), the timestamp is more than 5 minutes off, or the ciphertext is
for another appid/corpid; with 400 when the XML is not WeChat's (no DTDs, no entities). An
Official Account with an EncodingAESKey set takes safe mode only (a plaintext POST is refused);
WeCom is always encrypted.

WeChat waits 5 seconds for the answer and then retries, 3 times. So:
- each callback is recorded by its `dedupe_key` (MsgId; user + CreateTime + event for events) in
  `wechat_inbox` before the conversation runs, committed: a retry — even one that arrives while the
  first attempt is still running — finds it and has no effect (it gets the passive reply again if
  one was given, since the first answer may be what got lost; else "success").
- the conversation runs in a task of its own; if it answers within `reply_within` (4.5 s), its
  first text is the passive reply and the rest go through the outbox (customer-service / WeCom
  messages, within the budgets); if not, WeChat gets "success" at once and everything goes
  through the outbox when the conversation is done.
- one user's callbacks are handled one at a time, in the order they came (a dialog is a sequence).

Why a table of our own rather than storage/inbox.py: that inbox is keyed by Telegram's integer
update_id per bot and replays what a crash left half-handled; a WeChat callback has a string key
(events have no MsgId) and must never be replayed by us — WeChat already retries within 15 s, and
the conversation commits its own unit of work, so a replay after a crash could repeat an effect.
A crash while the conversation runs loses that one message (the user sees no answer and writes again).

The budget bookkeeping happens here too, because only the callback shows it: a user's message (or
a menu click, a follow, a scan) opens their 48-hour window and wakes their held rows; accepting our
notice template in a subscription pop-up grants one-time subscriptions.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Awaitable, Callable, Protocol

from aiohttp import web

from core.clock import Clock, SystemClock
from storage.uow import Database
from storage.wechat import SqlWeChat
from texts import text as tr
from wechat.crypto import CryptoError, MessageCrypto, check_signature
from wechat.delivery import reply_notification
from wechat.messages import App, Incoming, Reply
from wechat.wire import BadXml, Callback, encrypted_reply, parse_callback, parse_envelope, text_reply

log = logging.getLogger(__name__)

REPLY_WITHIN = 4.5         # seconds; WeChat gives up at 5 and retries
MAX_SKEW = 300             # seconds a callback's timestamp may be off
AFTER_PASSIVE = timedelta(seconds=1)  # the rest of an answer follows its passive reply, not before it
# what opens the Official Account's 48-hour window besides a message (WeChat's list)
WINDOW_EVENTS = {"subscribe", "scan", "click", "scancode_push", "scancode_waitmsg"}


class Conversation(Protocol):
    async def handle(self, incoming: Incoming) -> list[Reply]: ...


@dataclass(frozen=True)
class AppConfig:
    """One callback URL's secrets, as set on its console."""

    app: App
    token: str          # Token (令牌)
    receiver_id: str    # AppID (mp) / CorpID (WeCom): what every ciphertext must end with
    aes_key: str = ""   # EncodingAESKey (43 characters): safe mode; WeCom requires it

    def crypto(self) -> MessageCrypto | None:
        return MessageCrypto(self.token, self.aes_key, self.receiver_id) if self.aes_key else None


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class WeChatEndpoint:
    def __init__(self, db: Database, conversation: Conversation, apps: list[AppConfig], *,
                 clock: Clock | None = None, reply_within: float = REPLY_WITHIN, max_skew: int = MAX_SKEW,
                 notice_template: str = "", on_outbox: Callable[[str], None] | None = None,
                 default_language: str = "zh") -> None:
        self.db = db
        self.store = SqlWeChat(db.engine)
        self.conversation = conversation
        self.apps = {a.app: a for a in apps}
        self._crypto = {a.app: a.crypto() for a in apps}
        if "work" in self.apps and self._crypto["work"] is None:
            raise ValueError("WeCom callbacks are always encrypted: WECOM_AES_KEY is needed")
        self.clock = clock or SystemClock()
        self.reply_within = reply_within
        self.max_skew = max_skew
        self.notice_template = notice_template
        self.on_outbox = on_outbox  # e.g. wake the channel's delivery worker
        self.default_language = default_language
        self._tasks: set[asyncio.Task] = set()
        self._turns: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = defaultdict(int)

    def routes(self) -> list[web.RouteDef]:
        routes = []
        for app in self.apps:
            routes += [web.get(f"/wechat/{app}", self._verify_handler(app)),
                       web.post(f"/wechat/{app}", self._receive_handler(app))]
        return routes

    def add_to(self, application: web.Application) -> None:
        application.add_routes(self.routes())

    async def close(self) -> None:
        """Let conversations still running finish (their replies go to the outbox)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------------ checks

    def _check_time(self, timestamp: str) -> None:
        try:
            sent = int(timestamp)
        except ValueError:
            raise Refused(403, "timestamp is not a number") from None
        if abs(self.clock.now().timestamp() - sent) > self.max_skew:
            raise Refused(403, "timestamp more than 5 minutes off (a replay?)")

    def _open(self, app: App, query, body: bytes) -> Callback:
        """Check and decrypt a POST; raises Refused."""
        config, crypto = self.apps[app], self._crypto[app]
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        self._check_time(timestamp)
        try:
            if app == "mp" and crypto is None:
                if query.get("encrypt_type", "raw") != "raw":
                    raise Refused(403, "encrypted callback but no WECHAT_MP_AES_KEY")
                check_signature(query.get("signature", ""), config.token, timestamp, nonce)
                return parse_callback(app, body)
            assert crypto is not None
            if app == "mp":
                if query.get("encrypt_type") != "aes":
                    raise Refused(403, "plaintext callback to an account in safe mode")
                check_signature(query.get("signature", ""), config.token, timestamp, nonce)
            envelope = parse_envelope(body)
            plain = crypto.open(query.get("msg_signature", ""), timestamp, nonce, envelope.encrypt)
            callback = parse_callback(app, plain)
        except CryptoError as exc:
            raise Refused(403, str(exc)) from None
        except BadXml as exc:
            raise Refused(400, str(exc)) from None
        if app == "work" and envelope.to_user and envelope.to_user != config.receiver_id:
            raise Refused(403, "for another corp")
        return callback

    def _verify_handler(self, app: App) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def verify(request: web.Request) -> web.Response:
            q = request.query
            config, crypto = self.apps[app], self._crypto[app]
            try:
                self._check_time(q.get("timestamp", ""))
                echostr = q.get("echostr", "")
                if app == "mp":
                    check_signature(q.get("signature", ""), config.token, q.get("timestamp", ""), q.get("nonce", ""))
                    return web.Response(text=echostr)
                assert crypto is not None
                return web.Response(text=crypto.open(q.get("msg_signature", ""), q.get("timestamp", ""),
                                                     q.get("nonce", ""), echostr))
            except CryptoError as exc:
                log.warning("refused a %s URL check: %s", app, exc)
                return web.Response(status=403, text="forbidden")
            except Refused as exc:
                log.warning("refused a %s URL check: %s", app, exc)
                return web.Response(status=exc.status, text="forbidden")
        return verify

    def _receive_handler(self, app: App) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def receive(request: web.Request) -> web.Response:
            started = asyncio.get_running_loop().time()
            try:
                callback = self._open(app, request.query, await request.read())
            except Refused as exc:
                log.warning("refused a %s callback from %s: %s", app, request.remote, exc)
                return web.Response(status=exc.status, text="forbidden" if exc.status == 403 else "bad request")
            left = self.reply_within - (asyncio.get_running_loop().time() - started)
            return await self.receive(callback, left)
        return receive

    # ------------------------------------------------------------------ a verified callback

    async def receive(self, callback: Callback, within: float) -> web.Response:
        incoming = callback.incoming
        key = incoming.dedupe_key
        now = self.clock.now()
        if not await self.store.admit(key, incoming.app, incoming.user, now):
            seen = await self.store.seen(key)
            log.info("WeChat delivered %s again (%s); not handled twice", key, seen.state if seen else "?")
            return self._passive(callback, seen.reply if seen else None)
        await self._bookkeeping(callback, now)
        task = asyncio.create_task(self._in_turn(incoming))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            replies = await asyncio.wait_for(asyncio.shield(task), max(0.0, within))
        except TimeoutError:
            later = asyncio.create_task(self._late(incoming, task))
            self._tasks.add(later)
            later.add_done_callback(self._tasks.discard)
            return self._passive(callback, None)
        except Exception:
            log.exception("the conversation failed on %s", key)
            await self.store.finish(key, self.clock.now(), failed=True)
            return self._passive(callback, tr(self.default_language, "error.generic"))
        first, rest = _split(replies)
        await self._to_outbox(incoming, rest, offset=1 if first else 0, delay=AFTER_PASSIVE if first else None)
        await self.store.finish(key, self.clock.now(), reply=first)
        return self._passive(callback, first)

    async def _bookkeeping(self, callback: Callback, now) -> None:
        incoming = callback.incoming
        if incoming.app != "mp":
            return
        if incoming.kind != "event" or incoming.event in WINDOW_EVENTS:
            woke = await self.store.user_wrote(incoming.channel, incoming.user, now)
            if woke and self.on_outbox is not None:
                self.on_outbox(incoming.channel)
        granted = sum(1 for t in callback.granted_templates if t == self.notice_template and t)
        if granted:
            await self.store.grant(incoming.channel, incoming.user, granted)

    async def _in_turn(self, incoming: Incoming) -> list[Reply]:
        """One user's callbacks one at a time, in the order they came."""
        who = f"{incoming.app}:{incoming.user}"
        self._users[who] += 1
        lock = self._turns.setdefault(who, asyncio.Lock())
        try:
            async with lock:
                return await self.conversation.handle(incoming)
        finally:
            self._users[who] -= 1
            if not self._users[who]:
                del self._users[who]
                self._turns.pop(who, None)

    async def _late(self, incoming: Incoming, task: asyncio.Task) -> None:
        """The conversation missed the passive reply: all it says goes through the outbox."""
        try:
            replies = await task
        except Exception:
            log.exception("the conversation failed on %s", incoming.dedupe_key)
            await self.store.finish(incoming.dedupe_key, self.clock.now(), failed=True)
            return
        try:
            await self._to_outbox(incoming, replies, offset=0, delay=None)
            await self.store.finish(incoming.dedupe_key, self.clock.now())
        except Exception:  # e.g. the database went away: the user sees no answer and writes again
            log.exception("%d late replies to %s were lost", len(replies), incoming.dedupe_key)

    async def _to_outbox(self, incoming: Incoming, replies: list[Reply], *, offset: int,
                         delay: timedelta | None) -> None:
        if not replies:
            return
        now = self.clock.now()
        async with self.db.uow() as uow:
            person = await uow.people.by_identity(incoming.channel, incoming.user)
            if person is None or person.id is None:
                log.warning("%d replies to %s dropped: the conversation made no person for them",
                            len(replies), incoming.user)
                return
            notes = [reply_notification(person.id, reply, f"wx:{incoming.dedupe_key}:{offset + n}")
                     for n, reply in enumerate(replies)]
            await uow.outbox.add_many(notes, now=now, not_before=now + delay if delay else now,
                                      channel=incoming.channel)
            await uow.commit()
        if self.on_outbox is not None:
            self.on_outbox(incoming.channel)

    def _passive(self, callback: Callback, text: str | None) -> web.Response:
        if not text:
            return web.Response(text="success" if callback.incoming.app == "mp" else "")
        now = str(int(self.clock.now().timestamp()))
        xml = text_reply(callback.incoming.user, callback.account, text, int(now))
        crypto = self._crypto[callback.incoming.app]
        if crypto is not None:
            nonce = str(secrets.randbelow(10**10))
            encrypted, msg_signature = crypto.seal(xml, now, nonce)
            xml = encrypted_reply(encrypted, msg_signature, now, nonce)
        return web.Response(text=xml, content_type="application/xml")


def _split(replies: list[Reply]) -> tuple[str | None, list[Reply]]:
    """The passive reply (the first reply, when it is a plain text) and the rest."""
    if replies and replies[0].text and not replies[0].image:
        return replies[0].text, list(replies[1:])
    return None, list(replies)
