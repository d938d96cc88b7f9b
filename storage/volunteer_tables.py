"""Tables for party-member volunteering: orders, posts and claims, standings, theme-day templates,
points, running numbers, and the scheduler's done jobs."""

from __future__ import annotations

from sqlalchemy import (
    JSON, Boolean, Column, Date, Float, ForeignKey, Index, Integer, String, Table, Text, Time, UniqueConstraint,
)

from storage.tables import UtcDateTime, metadata

# "DC-FW-2026-000012" (orders) and "DC-GW-2026-000007" (posts): one counter per community, year and kind.
volunteer_numbers = Table(
    "volunteer_numbers", metadata,
    Column("community_id", ForeignKey("communities.id"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("kind", String(8), primary_key=True),      # "order" | "post"
    Column("last", Integer, nullable=False),
)

volunteer_orders = Table(
    "volunteer_orders", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("resident_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("community_id", ForeignKey("communities.id"), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("preferred_time", String(100), nullable=False, default=""),
    Column("place", String(200), nullable=False, default=""),
    Column("state", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("decline_reason", Text),
    Column("post_number", String(32)),
    Index("ix_volunteer_orders_desk", "community_id", "state", "id"),
)

theme_templates = Table(
    "theme_templates", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("community_id", ForeignKey("communities.id"), nullable=False, index=True),
    Column("title", String(100), nullable=False),
    Column("activity", String(24), nullable=False),
    Column("place", String(200), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("points_per_person", Integer, nullable=False),
    Column("duration_min", Integer, nullable=False),
    Column("rest_day_starts", Time, nullable=False),
    Column("workday_starts", Time),                  # None: not held when the 28th is a working day
    Column("skills", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

volunteer_posts = Table(
    "volunteer_posts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("community_id", ForeignKey("communities.id"), nullable=False),
    Column("title", String(100), nullable=False),
    Column("starts_at", UtcDateTime(), nullable=False),
    Column("ends_at", UtcDateTime(), nullable=False),
    Column("place", String(200), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("points_per_person", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("skills", JSON, nullable=False),
    Column("order_number", String(32)),
    Column("template_id", ForeignKey("theme_templates.id")),
    Column("theme_day", Date),                       # set with template_id: one post per template and day
    Column("created_by", ForeignKey("persons.id")),
    Column("places_taken", Integer, nullable=False, default=0),
    Column("cancel_reason", Text),
    Column("version", Integer, nullable=False, default=0),   # optimistic lock: saved WHERE version = loaded
    UniqueConstraint("template_id", "theme_day", name="uq_volunteer_posts_template_day"),
    Index("ix_volunteer_posts_open", "community_id", "state", "starts_at"),
    Index("ix_volunteer_posts_starts", "starts_at"),
    Index("ix_volunteer_posts_theme", "community_id", "theme_day"),
)

volunteer_claims = Table(
    "volunteer_claims", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("post_id", ForeignKey("volunteer_posts.id"), nullable=False),
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("queued_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("claimed_at", UtcDateTime()),
    Column("checked_in_at", UtcDateTime()),
    Column("check_in_photo", String(64)),
    Column("check_in_lat", Float), Column("check_in_lon", Float),
    # proof on the spot at check-in (core.proof): the verdict and the metres to the nearest building
    Column("check_in_on_site", Boolean), Column("check_in_distance_m", Float),
    Column("checked_out_at", UtcDateTime()),
    Column("check_out_photo", String(64)),
    Column("served_seconds", Integer),
    Column("rating", Integer),
    Column("confirmed_by", ForeignKey("persons.id")),
    UniqueConstraint("post_id", "person_id", name="uq_volunteer_claims_post_person"),
    Index("ix_volunteer_claims_person", "person_id", "state"),
)

volunteer_standings = Table(
    "volunteer_standings", metadata,
    Column("person_id", ForeignKey("persons.id"), primary_key=True),
    Column("community_id", ForeignKey("communities.id"), primary_key=True),
    Column("no_shows", Integer, nullable=False, default=0),
    Column("suspended", Boolean, nullable=False, default=False),
    Column("suspended_at", UtcDateTime()),
    Column("no_shows_at_lift", Integer, nullable=False, default=0, server_default="0"),
)

# The append-only ledger (core.points); the balance row makes "never below zero" one conditional UPDATE.
points_entries = Table(
    "points_entries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("community_id", ForeignKey("communities.id"), nullable=False),
    Column("delta", Integer, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("ref", String(100), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("by", ForeignKey("persons.id")),
    Column("note", String(200), nullable=False, default=""),
    UniqueConstraint("person_id", "community_id", "reason", "ref", name="uq_points_entries_once"),
    Index("ix_points_entries_community_at", "community_id", "at"),
)

points_balances = Table(
    "points_balances", metadata,
    Column("person_id", ForeignKey("persons.id"), primary_key=True),
    Column("community_id", ForeignKey("communities.id"), primary_key=True),
    Column("balance", Integer, nullable=False),
)

# The scheduler's jobs that must run once ("theme:2026-12:announce:c3", "post:DC-GW-…:hour_before"):
# inserted in the transaction of the work, so the work and its key commit together or not at all.
done_jobs = Table(
    "done_jobs", metadata,
    Column("key", String(128), primary_key=True),
    Column("done_at", UtcDateTime(), nullable=False),
)
