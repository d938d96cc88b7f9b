"""Tables of the WeChat channel (wechat/): callbacks already seen, each user's message budget, and
the app messages sent to each member (WeCom's per-member limits)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from storage.tables import UtcDateTime, metadata

# Every callback WeChat delivered, by `Incoming.dedupe_key` (MsgId, or user + CreateTime + event for
# events), written before the conversation runs: WeChat retries a slow answer 3 times, and a retry
# (even one arriving while the first is still being handled) finds the row and changes nothing.
# `reply` is the passive reply given, so a retry whose first answer was lost gets it again.
wechat_inbox = Table(
    "wechat_inbox", metadata,
    Column("dedupe_key", String(128), primary_key=True),
    Column("app", String(8), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("state", String(16), nullable=False),          # received | handled | failed
    Column("handled_at", UtcDateTime()),
    Column("reply", Text),
    Index("ix_wechat_inbox_received", "received_at"),
)

# One row per WeChat user we may write to: the 48-hour customer-service window their last message
# opened and how much of it is used (at most 5), and the one-time subscriptions they granted.
wechat_contacts = Table(
    "wechat_contacts", metadata,
    Column("channel", String(16), primary_key=True),     # "wechat" (Official Account) | "wecom"
    Column("user_id", String(64), primary_key=True),     # OpenID / WeCom UserID
    Column("last_message_at", UtcDateTime()),
    Column("window_used", Integer, nullable=False, default=0, server_default="0"),
    Column("subscribe_credits", Integer, nullable=False, default=0, server_default="0"),
    Column("noticed_at", UtcDateTime()),                 # last "you have new messages" notice outside the window
)

# Each message the API was asked to deliver (counted before the call, so a crash never undercounts):
# WeCom drops a member's 31st message in a minute or 1,001st in an hour silently, so we count.
wechat_sends = Table(
    "wechat_sends", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("via", String(16), nullable=False),            # custom | subscribe | app
    Index("ix_wechat_sends_user", "channel", "user_id", "at"),
)
