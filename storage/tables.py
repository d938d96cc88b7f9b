"""The schema, as SQLAlchemy Core tables. Alembic migrations are written against this metadata."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON, BigInteger, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, MetaData,
    String, Table, UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class UtcDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware one")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _id() -> Column:
    return Column("id", Integer, primary_key=True, autoincrement=True)


districts = Table("districts", metadata, _id(), Column("name", String(100), nullable=False, unique=True))

streets = Table(
    "streets", metadata, _id(),
    Column("district_id", ForeignKey("districts.id"), nullable=False),
    Column("name", String(100), nullable=False),
    UniqueConstraint("district_id", "name", name="uq_streets_district_name"),
)

communities = Table(
    "communities", metadata, _id(),
    Column("street_id", ForeignKey("streets.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("code", String(16), nullable=False, unique=True),
    UniqueConstraint("street_id", "name", name="uq_communities_street_name"),
)

compounds = Table(
    "compounds", metadata, _id(),
    Column("community_id", ForeignKey("communities.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("property_company", String(100)),  # the org file's 物业公司 column; the dashboard grades it
    UniqueConstraint("community_id", "name", name="uq_compounds_community_name"),
)

grids = Table(
    "grids", metadata, _id(),
    Column("compound_id", ForeignKey("compounds.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("lat", Float), Column("lon", Float),
    UniqueConstraint("compound_id", "name", name="uq_grids_compound_name"),
)

buildings = Table(
    "buildings", metadata, _id(),
    Column("grid_id", ForeignKey("grids.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("lat", Float), Column("lon", Float),
    UniqueConstraint("grid_id", "name", name="uq_buildings_grid_name"),
)

departments = Table(
    "departments", metadata, _id(),
    Column("name", String(100), nullable=False, unique=True),
    Column("district_id", ForeignKey("districts.id")),
)

persons = Table(
    "persons", metadata, _id(),
    Column("display_name", String(64), nullable=False),
    Column("language", String(8)),
    Column("phone", String(32), index=True),
    Column("created_at", UtcDateTime()),
    Column("notice_version", Integer),            # the privacy notice agreed to (core.consent); NULL: never
    Column("location_agreed_at", UtcDateTime()),  # agreed to share a precise location (asked once)
    Column("forgotten_at", UtcDateTime()),        # /forget: anonymised, accounts removed (core.forget)
)

identities = Table(
    "identities", metadata, _id(),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("external_id", String(64), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("reachable", Boolean, nullable=False, default=True),
    UniqueConstraint("channel", "external_id", name="uq_identities_channel_external"),
)

# What a person agreed to, and when, on which channel (core.consent): the record behind
# persons.notice_version and persons.location_agreed_at.
consents = Table(
    "consents", metadata, _id(),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("purpose", String(16), nullable=False),   # notice | location
    Column("version", Integer, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("given_at", UtcDateTime(), nullable=False),
)

role_grants = Table(
    "role_grants", metadata, _id(),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("community_id", ForeignKey("communities.id")),
    Column("grid_id", ForeignKey("grids.id"), index=True),
    Column("building_id", ForeignKey("buildings.id")),
    Column("department_id", ForeignKey("departments.id")),
    Column("work_unit", String(100)),
    Column("granted_by", ForeignKey("persons.id")),
    Column("created_at", UtcDateTime()),
)

invites = Table(
    "invites", metadata,
    Column("code", String(32), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("max_uses", Integer, nullable=False),
    Column("uses", Integer, nullable=False, default=0),
    Column("community_id", ForeignKey("communities.id")),
    Column("grid_id", ForeignKey("grids.id")),
    Column("department_id", ForeignKey("departments.id")),
    Column("person_id", ForeignKey("persons.id")),
    Column("created_by", ForeignKey("persons.id")),
    Column("created_at", UtcDateTime()),
    Column("revoked", Boolean, nullable=False, default=False),
)

events = Table(
    "events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("subject_type", String(16), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("kind", String(48), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor_id", ForeignKey("persons.id")),
    Column("before", JSON),
    Column("after", JSON),
    Index("ix_events_subject", "subject_type", "subject_id"),
    Index("ix_events_at", "at"),
    Index("ix_events_kind_at", "subject_type", "kind", "at"),  # the dashboard's rework and escalations
)


# The dashboard's one-time sign-in links (core/sign_in.py): only the token's SHA-256 is kept.
sign_in_links = Table(
    "sign_in_links", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime()),
)


# Open311 clients (core/open311.py): the api_key's SHA-256, and the person that files their reports.
open311_clients = Table(
    "open311_clients", metadata, _id(),
    Column("name", String(100), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

# What a client filed: the token GeoReport's tokens/{token} answers, and which client may read its own fields.
open311_tokens = Table(
    "open311_tokens", metadata,
    Column("token", String(32), primary_key=True),
    Column("client_id", ForeignKey("open311_clients.id"), nullable=False),
    Column("case_number", String(32), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
)


# --------------------------------------------------------------------------- delivery (outbox, broadcasts, inbox)

# What the bot says on its own: one row per message, written in the transaction that caused it,
# sent later by the delivery worker (scheduler/delivery.py). States: pending → sending → sent |
# failed | skipped; a retry puts a row back to pending with a later not_before.
outbox = Table(
    "outbox", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("kind", String(48), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("dedupe_key", String(128), unique=True),
    Column("broadcast_id", ForeignKey("broadcasts.id")),
    Column("priority", Integer, nullable=False, default=0),  # 0 personal (first), 1 broadcast
    Column("state", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime()),
    Column("last_error", String(500)),
    Column("sent_message_id", BigInteger),
    Column("lease_until", UtcDateTime()),  # a `sending` row past its lease was left by a failed batch
    # which channel's worker sends it: the person's newest reachable identity's at add time (storage/outbox.py)
    Column("channel", String(16), nullable=False, default="telegram", server_default="telegram"),
    Index("ix_outbox_due", "channel", "state", "priority", "not_before", "id"),
    Index("ix_outbox_broadcast", "broadcast_id", "state"),
)

# A message to many (theme day, announcements) and the staff's progress message about it.
broadcasts = Table(
    "broadcasts", metadata, _id(),
    Column("title", String(200), nullable=False),
    Column("kind", String(48), nullable=False),
    Column("created_by", ForeignKey("persons.id")),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("total", Integer, nullable=False, default=0),
    Column("progress_chat_id", String(64)),
    Column("progress_message_id", BigInteger),
    Column("finished_at", UtcDateTime()),
)

# Every update from Telegram, recorded before it is handled (bot/inbox.py): a crash mid-handler
# leaves it `received` and it is handled again on start; a second delivery is dropped.
inbox = Table(
    "inbox", metadata,
    Column("update_id", BigInteger, primary_key=True, autoincrement=False),
    Column("bot_id", BigInteger, nullable=False),
    Column("digest", String(64), nullable=False),  # sha256 of `raw`: same id, other content = a new update
    Column("raw", JSON, nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("state", String(16), nullable=False, default="received"),
    Column("handled_at", UtcDateTime()),
    Column("error", String(500)),
    # a `received` row belongs to the process that took it while its lease runs (renewed while it lives);
    # past the lease any live process takes it; `attempts` bounds retries of transient failures
    Column("owner", String(64)),
    Column("lease_until", UtcDateTime()),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    Index("ix_inbox_state", "state", "update_id"),
)


# --------------------------------------------------------------------------- dialogs

# Where each unfinished dialog waits (storage/dialogs.py, aiogram's FSM storage): one row per
# bot, chat, user, forum thread, business connection and destiny (aiogram's scenes keep their
# history under a destiny of their own). A missing thread or business connection is 0 / "", as a
# primary key has no NULLs. `data` is what the dialog collected so far (photo hashes, category …).
dialog_state = Table(
    "dialog_state", metadata,
    Column("bot_id", BigInteger, primary_key=True, autoincrement=False),
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("thread_id", BigInteger, primary_key=True, autoincrement=False),
    Column("business_connection_id", String(128), primary_key=True),
    Column("destiny", String(64), primary_key=True),
    Column("state", String(200)),
    Column("data", JSON, nullable=False),
    # the last write, so the daily retention job forgets dialogs left unfinished (DIALOG_KEEP_DAYS)
    Column("updated_at", UtcDateTime(), index=True),
)

# One-time codes that bind a second chat account to a person (core/binding.py). The digits repeat
# over time, so a code is found by its digits, newest first; `person_id` finds a person's live one.
bind_codes = Table(
    "bind_codes", metadata, _id(),
    Column("code", String(16), nullable=False, index=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("created_by", ForeignKey("persons.id")),
    Column("created_at", UtcDateTime()),
    Column("used_at", UtcDateTime()),
    Column("used_by", String(200)),
    Column("revoked", Boolean, nullable=False, default=False),
)

# The WeChat channel's dialogs (wechat/conversation.py): one row per account (channel "wechat" or
# "wecom" + its OpenID / UserID), written in the unit of work of the message it answers.
wechat_dialogs = Table(
    "wechat_dialogs", metadata,
    Column("channel", String(16), primary_key=True),
    Column("user_id", String(128), primary_key=True),
    Column("state", String(64)),
    Column("data", JSON, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
