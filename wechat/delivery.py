"""The WeChat channel's delivery worker: the outbox rows of people reached on WeChat, within WeChat's budgets.

One worker per channel ("wechat": the Official Account, "wecom": the WeCom app), on the same
outbox as Telegram (storage/outbox.py's DeliveryQueue: the claim, the lease, the outcomes and the
recovery after a crash are the ones Telegram's worker uses; rows reach a channel by the person's
newest reachable account). What differs from Telegram is the budget (wechat/budget.py):

- Official Account: a batch's rows for one person are sent as customer-service messages while
  their 48-hour window has room (5 messages), merged when they can be. Outside it, the rows are
  *held* (pending, reason in `last_error`, looked at again every `hold_recheck`) until the user
  writes, which opens a new window and wakes them (storage/wechat.py `user_wrote`); once per
  absence the user is sent a notice ("您有 3 条新消息") as a one-time subscription message (if
  they granted one) or a template message (a service account's approved template), when
  WECHAT_MP_NOTICE_TEMPLATE_ID is set. A row held longer than `hold_max` is skipped with its reason.
- WeCom: per member at most 30 a minute and 1,000 an hour, counted in the database before each
  send (WeCom drops the excess silently, so an "ok" proves nothing); what does not fit waits for
  the first free slot.

Every message is counted before the API is asked (a crash never undercounts; a network error
counts as sent, which is the safe side). As with Telegram, a row whose send was interrupted may
arrive twice; a row is never sent twice otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Awaitable, Callable, Literal

import aiohttp

from core.clock import Clock, SystemClock
from core.notifications import Notification
from core.people import Person
from storage.engine import database_away
from storage.outbox import LEASE, Claimed, DeliveryQueue
from storage.uow import Database
from storage.wechat import Contact, SqlWeChat
from texts import text as tr
from wechat import budget
from wechat.api import (
    NOT_SUBSCRIBED, OUT_OF_WINDOW, UNFOLLOWED, USER_BLOCKED, WINDOW_USED_UP, WeChatApi, WeChatApiError,
)
from wechat.messages import App, Reply

log = logging.getLogger(__name__)

REPLY_KIND = "wechat.reply"  # a reply to the user's own message that missed the passive reply
GONE = {UNFOLLOWED, USER_BLOCKED, 81013}  # 81013: WeCom knows no such member (or the app may not see them)
NOTICE_FIELD_MAX = 20  # a subscription message's "thing" field holds 20 characters

# (notification, person) -> what to say on WeChat; [] for nothing (the conversation's renderer)
Render = Callable[[Notification, Person], Awaitable[list[Reply]]]


def reply_notification(person_id: int, reply: Reply, dedupe_key: str) -> Notification:
    """A reply the conversation gave that goes out through the outbox (not the passive reply)."""
    payload: dict[str, str] = {}
    if reply.text:
        payload["text"] = reply.text
    if reply.image:
        payload["image"] = base64.b64encode(reply.image).decode()
    return Notification(person_id, REPLY_KIND, payload, dedupe_key)


def _replies_of(notification: Notification) -> list[Reply]:
    image = notification.payload.get("image")
    return [Reply(text=notification.payload.get("text") or None,
                  image=base64.b64decode(image) if image else None)]


def _subject(notification: Notification) -> str | None:
    for key in ("case", "post", "order"):
        value = notification.payload.get(key)
        if value:
            return str(value)
    return None


@dataclass
class WeChatDeliveryStats:
    claimed: int = 0
    sent_rows: int = 0
    messages: int = 0       # API calls that carried a message
    merged: int = 0         # rows that went out inside another row's message
    held: int = 0
    notices: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    paced: int = 0          # WeCom rows put off to a later minute / hour


class _PersonDone(Exception):
    """Stop sending to this person in this batch (the rest is already taken care of)."""


class WeChatDelivery:
    def __init__(self, db: Database, api: WeChatApi, render: Render, channel: Literal["wechat", "wecom"], *,
                 clock: Clock | None = None, batch: int = 100, default_language: str = "zh",
                 notice_template: str = "", notice_kind: str = "subscribe", notice_field: str = "thing1",
                 hold_recheck: timedelta = timedelta(hours=6), hold_max: timedelta = timedelta(days=7),
                 max_attempts: int = 10, backoff_base: float = 5.0, backoff_max: float = 600.0,
                 idle_poll: float = 0.5) -> None:
        self.db = db
        self.api = api
        self.render = render
        self.channel = channel
        self.app: App = "mp" if channel == "wechat" else "work"
        self.clock = clock or SystemClock()
        self.queue = DeliveryQueue(db.engine, channel)
        self.store = SqlWeChat(db.engine)
        self.batch = batch
        self.default_language = default_language
        self.notice_template, self.notice_kind, self.notice_field = notice_template, notice_kind, notice_field
        self.hold_recheck, self.hold_max = hold_recheck, hold_max
        self.max_attempts, self.backoff_base, self.backoff_max = max_attempts, backoff_base, backoff_max
        self.idle_poll = idle_poll
        self.stats = WeChatDeliveryStats()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------ running (as Telegram's worker)

    async def run(self) -> None:
        self._stop.clear()
        try:
            recovered = await self.queue.recover()
            if recovered:
                log.warning("%d %s outbox rows were being sent when the last worker stopped; sending them again",
                            recovered, self.channel)
            while not self._stop.is_set():
                try:
                    claimed = await self.run_once()
                except Exception:
                    log.exception("%s delivery batch failed; trying again shortly", self.channel)
                    claimed = 0
                if not claimed:
                    await self._idle()
        finally:
            await asyncio.shield(self.queue.close())

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def drain(self, timeout: float = 30.0) -> None:
        """Send until nothing is due now (tests): held and paced rows stay for later."""
        deadline = time.monotonic() + timeout
        await self.queue.recover()
        try:
            while time.monotonic() < deadline:
                if not await self.run_once():
                    next_due = await self.queue.next_due()
                    if next_due is None or next_due > self.clock.now():
                        return
            raise TimeoutError(f"{self.channel} outbox not drained within {timeout} s")
        finally:
            await self.queue.close()

    async def _idle(self) -> None:
        self._wake.clear()
        while not self._stop.is_set():
            try:
                next_due = await self.queue.next_due()
            except Exception:
                log.exception("could not read the outbox")
                next_due = None
            delay = self.idle_poll
            if next_due is not None:
                delay = min(delay, (next_due - self.clock.now()).total_seconds())
                if delay <= 0:
                    return
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
                return
            except TimeoutError:
                pass

    # ------------------------------------------------------------------ one batch

    async def run_once(self) -> int:
        now = self.clock.now()
        claimed = await self.queue.claim(now, self.batch)
        if not claimed:
            return 0
        self.stats.claimed += len(claimed)
        no_account = [c.id for c in claimed if c.identity is None]
        gone = [c.id for c in claimed if c.identity is not None and not c.identity.reachable]
        await self.queue.skip(no_account, f"no {self.channel} account")
        await self.queue.skip(gone, "unreachable: unfollowed or left")
        self.stats.skipped += len(no_account) + len(gone)
        by_person: dict[str, list[Claimed]] = {}
        for row in claimed:
            if row.identity is not None and row.identity.reachable:
                by_person.setdefault(row.identity.chat_id, []).append(row)
        users = list(by_person)
        contacts = await self.store.contacts(self.channel, users) if self.app == "mp" else {}
        sends = (await self.store.recent_sends(self.channel, users, now - budget.HOUR)) if self.app == "work" else {}
        renewed = time.monotonic()
        pending = [row.id for rows in by_person.values() for row in rows]
        for user, rows in by_person.items():
            if self._stop.is_set():
                await self.queue.release({row.id: self.clock.now() for row in rows})
                continue
            if time.monotonic() - renewed > LEASE.total_seconds() / 3:
                renewed = time.monotonic()
                await self.queue.renew(pending, self.clock.now() + LEASE)
            try:
                await self._person(user, rows, contacts.get(user, Contact()), sends.get(user, []))
            finally:
                done = {row.id for row in rows}
                pending = [row_id for row_id in pending if row_id not in done]
        return len(claimed)

    async def _render(self, rows: list[Claimed]) -> list[budget.Item]:
        items = []
        nothing = []
        for n, row in enumerate(rows):
            try:
                if row.notification.kind == REPLY_KIND:
                    replies = _replies_of(row.notification)
                else:
                    replies = await self.render(row.notification, row.person)
            except Exception as exc:
                if database_away(exc):
                    later = self.clock.now() + timedelta(seconds=self.backoff_base)
                    await self.queue.release({r.id: later for r in rows[n:]})
                    raise _PersonDone from exc
                log.exception("could not render %s for person %s", row.notification.kind, row.person.id)
                await self.queue.failed(row.id, f"render: {exc!r}", attempted=False)
                self.stats.failed += 1
                continue
            replies = [r for r in replies if r.text or r.image]
            if not replies:
                nothing.append(row.id)
                continue
            items.append(budget.Item(row.id, replies, _subject(row.notification),
                                     merge=row.notification.kind != REPLY_KIND))
        await self.queue.skip(nothing, "nothing to say")
        self.stats.skipped += len(nothing)
        return items

    async def _person(self, user: str, rows: list[Claimed], contact: Contact, sent: list[datetime]) -> None:
        person = rows[0].person
        lang = person.language if person.language in ("zh", "en") else self.default_language
        by_id = {row.id: row for row in rows}
        try:
            items = await self._render(rows)
            if not items:
                return
            now = self.clock.now()
            if self.app == "mp":
                room, wait_until = budget.window_left(contact, now), None
            else:
                room, wait_until = budget.wecom_room(sent, now)
            messages, chosen, left = budget.fit(items, room, lang)
            await self._send(user, messages, by_id)
            if not left:
                return
            if self.app == "mp":
                # the window used up while they are around: they will write again; only an absent user
                # (never wrote, or 48 hours passed) is worth a one-time subscription's notice
                away = contact.last_message_at is None or now - contact.last_message_at >= budget.WINDOW
                await self._outside_window(user, [by_id[i.row_id] for i in left], contact, lang, notice=away)
            else:
                after = self.clock.now()
                _, wait_until = budget.wecom_room(sent + [after] * len(messages), after)
                until = wait_until or after + budget.MINUTE
                await self.queue.hold([i.row_id for i in left], until,
                                      "paced: WeCom allows 30 messages a minute and 1,000 an hour per member")
                self.stats.paced += len(left)
        except _PersonDone:
            return

    async def _send(self, user: str, messages: list[budget.Message], by_id: dict[int, Claimed]) -> None:
        """Send in order; a row is marked sent once every message carrying it went out."""
        remaining: dict[int, int] = {}
        for message in messages:
            for row_id in message.row_ids:
                remaining[row_id] = remaining.get(row_id, 0) + 1
        finished: set[int] = set()
        for message in messages:
            unsent = [row_id for row_id in remaining if row_id not in finished]
            send_id = await self.store.reserve(self.channel, user, "custom" if self.app == "mp" else "app",
                                               self.clock.now(), in_window=self.app == "mp")
            try:
                if message.reply.image:
                    answer = await self.api.send_image(self.app, user, message.reply.image)
                else:
                    answer = await self.api.send_text(self.app, user, message.reply.text or "")
            except WeChatApiError as exc:
                await self._refused(user, exc, unsent, by_id)
                raise _PersonDone from exc
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                log.warning("WeChat could not be reached for %s: %s", user, exc)
                for row_id in unsent:
                    await self._retry(by_id[row_id], exc)
                raise _PersonDone from exc
            assert send_id is not None
            await self.store.delivered_at(send_id, self.clock.now())
            if self.app == "work" and user in str(answer.get("invaliduser", "")).split("|"):
                await self._gone(user, unsent, by_id, "WeCom: invaliduser")
                raise _PersonDone
            self.stats.messages += 1
            if len(message.row_ids) > 1:
                self.stats.merged += len(message.row_ids) - 1
            for row_id in message.row_ids:
                remaining[row_id] -= 1
                if remaining[row_id] == 0 and row_id not in finished:
                    finished.add(row_id)
                    await self.queue.sent(row_id, self.clock.now(), None)
                    self.stats.sent_rows += 1

    async def _refused(self, user: str, exc: WeChatApiError, row_ids: list[int], by_id: dict[int, Claimed]) -> None:
        if exc.errcode in (OUT_OF_WINDOW, WINDOW_USED_UP):
            # WeChat knows better (e.g. a message we never saw counted): believe it until they write
            await self.store.window_closed(self.channel, user, budget.WINDOW_MESSAGES)
            contacts = await self.store.contacts(self.channel, [user])
            person = by_id[row_ids[0]].person
            lang = person.language if person.language in ("zh", "en") else self.default_language
            await self._outside_window(user, [by_id[i] for i in row_ids], contacts[user], lang,
                                       notice=exc.errcode == OUT_OF_WINDOW)
        elif exc.errcode in GONE:
            await self._gone(user, row_ids, by_id, str(exc))
        else:
            log.warning("WeChat refused a message to %s: %s", user, exc)
            for row_id in row_ids:
                await self.queue.failed(row_id, f"refused: {exc}")
            self.stats.failed += len(row_ids)

    async def _gone(self, user: str, row_ids: list[int], by_id: dict[int, Claimed], error: str) -> None:
        first = by_id[row_ids[0]]
        assert first.identity is not None and first.identity.id is not None
        await self.queue.unreachable(first.id, first.identity.id, first.person.id, self.clock.now(), error)
        await self.queue.skip(row_ids[1:], f"unreachable: {error}")
        self.stats.skipped += len(row_ids)

    async def _retry(self, row: Claimed, exc: BaseException) -> None:
        attempts = row.attempts + 1
        error = f"{type(exc).__name__}: {exc}"
        if attempts >= self.max_attempts:
            await self.queue.failed(row.id, error)
            self.stats.failed += 1
        else:
            delay = min(self.backoff_max, self.backoff_base * 2 ** (attempts - 1))
            await self.queue.retry(row.id, self.clock.now() + timedelta(seconds=delay), error)
            self.stats.retried += 1

    async def _outside_window(self, user: str, rows: list[Claimed], contact: Contact, lang: str, *,
                              notice: bool) -> None:
        """No customer-service message may go now: hold the rows until the user writes (a notice
        once per absence, if `notice` and they can get one), skip those held too long."""
        now = self.clock.now()
        expired = [r.id for r in rows if r.created_at is not None and now - r.created_at > self.hold_max]
        held = [r.id for r in rows if r.id not in expired]
        await self.queue.skip(expired, f"skipped: outside the 48-hour window for {self.hold_max.days} days "
                                       "(the user did not write again)")
        self.stats.skipped += len(expired)
        if not held:
            return
        if notice and self.notice_template and budget.needs_notice(contact):
            await self._notice(user, len(held), lang)
        await self.queue.hold(held, now + self.hold_recheck,
                              "held: outside the 48-hour window; sent when the user writes again")
        self.stats.held += len(held)

    async def _notice(self, user: str, count: int, lang: str) -> None:
        now = self.clock.now()
        notice = tr(lang, "wechat.notice", count=count)[:NOTICE_FIELD_MAX]
        subscribe = self.notice_kind == "subscribe"
        send_id = await self.store.reserve(self.channel, user, "subscribe" if subscribe else "template", now,
                                           credit=subscribe)
        if send_id is None:
            return  # no one-time subscription left: nothing may reach them; the rows wait
        try:
            if subscribe:
                await self.api.send_subscription(user, self.notice_template, {self.notice_field: notice})
            else:
                await self.api.send_template(user, self.notice_template, {self.notice_field: notice})
                await self.store.noticed(self.channel, user, now)
            self.stats.notices += 1
        except WeChatApiError as exc:
            log.warning("the %s notice to %s was refused: %s", self.notice_kind, user, exc)
            if subscribe and exc.errcode == NOT_SUBSCRIBED:
                await self.store.noticed(self.channel, user, now)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            log.warning("the %s notice to %s did not go out: %s", self.notice_kind, user, exc)


KEEP = timedelta(days=2)  # WeChat retries within 15 s and WeCom counts an hour: two days is plenty


async def prune_wechat(db: Database, clock: Clock, keep: timedelta = KEEP) -> int:
    """Forget callbacks seen and messages counted longer ago than `keep` (a scheduler job)."""
    return await SqlWeChat(db.engine).prune(clock.now() - keep)
