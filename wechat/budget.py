"""WeChat's message budgets, as rules over what storage recorded (no I/O here).

Official Account: a user's message opens a 48-hour window in which at most 5 customer-service
messages may be sent to them; outside it only a subscription / template message reaches them
(a one-time subscription allows one send). WeCom app messages: at most 30 a minute and 1,000 an
hour per member, and WeCom drops the excess without a word, so we count (from when each send
finished, plus a second of margin, as WeCom counts somewhere between the request and the answer)
and never go past.

Several notifications for one person in one batch are merged when they can be: those about the
same case/post/order become one message ("3 条关于 DC-… 的更新"); when the budget has room for
fewer messages than that, all texts become one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Sequence

from storage.wechat import Contact
from texts import text as tr
from wechat.messages import Reply

WINDOW = timedelta(hours=48)
WINDOW_MESSAGES = 5
WECOM_PER_MINUTE = 30
WECOM_PER_HOUR = 1000
MARGIN = timedelta(seconds=1)
MINUTE = timedelta(minutes=1) + MARGIN
HOUR = timedelta(hours=1) + MARGIN


def window_left(contact: Contact, now: datetime) -> int:
    """Customer-service messages that may still go to this user now (0: outside the window)."""
    if contact.last_message_at is None or now - contact.last_message_at >= WINDOW:
        return 0
    return max(0, WINDOW_MESSAGES - contact.window_used)


def needs_notice(contact: Contact) -> bool:
    """No "you have new messages" notice since their last message yet (one per absence is enough)."""
    return contact.noticed_at is None or (contact.last_message_at is not None
                                         and contact.noticed_at < contact.last_message_at)


def wecom_room(sent: Sequence[datetime], now: datetime) -> tuple[int, datetime | None]:
    """(messages that may go to this member now, when the next may go if none may now)."""
    in_minute = sorted(at for at in sent if now - at < MINUTE)
    in_hour = sorted(at for at in sent if now - at < HOUR)
    room = min(WECOM_PER_MINUTE - len(in_minute), WECOM_PER_HOUR - len(in_hour))
    if room > 0:
        return room, None
    wait_until = now
    if len(in_minute) >= WECOM_PER_MINUTE:
        wait_until = max(wait_until, in_minute[len(in_minute) - WECOM_PER_MINUTE] + MINUTE)
    if len(in_hour) >= WECOM_PER_HOUR:
        wait_until = max(wait_until, in_hour[len(in_hour) - WECOM_PER_HOUR] + HOUR)
    return 0, wait_until


@dataclass
class Item:
    """One outbox row rendered: its replies, and what it is about (a case/post/order number)."""
    row_id: int
    replies: list[Reply]
    subject: str | None = None
    merge: bool = True  # a late reply to the user's own message is not announced as an "update"


@dataclass
class Message:
    """One API call: a text or an image, and the rows it (partly) carries."""
    reply: Reply
    row_ids: list[int] = field(default_factory=list)


def _joined(lang: str, items: list[Item], subject: str | None) -> Reply:
    texts = [r.text for item in items for r in item.replies if r.text]
    if len(items) == 1 or not all(item.merge for item in items):
        return Reply(text="\n\n".join(texts))
    head = tr(lang, "wechat.merged", count=len(items), subject=subject) if subject else \
        tr(lang, "wechat.merged_any", count=len(items))
    return Reply(text=head + "\n\n" + "\n\n".join(texts))


def plan(items: list[Item], lang: str, *, squash: bool) -> list[Message]:
    """The messages for these rows: texts grouped by subject (squash: all texts in one), images apart."""
    groups: dict[object, list[Item]] = {}
    for item in items:
        if any(r.text for r in item.replies):
            key: object = "all" if squash else (item.subject if item.subject and item.merge else ("row", item.row_id))
            groups.setdefault(key, []).append(item)
    messages = []
    for key, group in groups.items():
        subject = key if isinstance(key, str) and key != "all" else None
        if squash and len({i.subject for i in group}) == 1:
            subject = group[0].subject
        messages.append(Message(_joined(lang, group, subject), [i.row_id for i in group]))
    for item in items:
        messages.extend(Message(Reply(image=r.image), [item.row_id]) for r in item.replies if r.image)
    return messages


def fit(items: list[Item], room: int, lang: str) -> tuple[list[Message], list[Item], list[Item]]:
    """The messages for as many rows (in order) as `room` allows: (messages, rows sent, rows left).
    Rows by subject when that fits, else squashed; a row is never split over two rounds."""
    if room <= 0:
        return [], [], list(items)
    for k in range(len(items), 0, -1):
        chosen = items[:k]
        for squash in (False, True):
            messages = plan(chosen, lang, squash=squash)
            if len(messages) <= room:
                return messages, chosen, items[k:]
    return [], [], list(items)
