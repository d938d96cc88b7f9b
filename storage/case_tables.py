"""Tables for residents' reports (cases), their photos, "same problem" joiners and numbering."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from sqlalchemy.sql.expression import false as sa_false

from storage.tables import UtcDateTime, metadata

cases = Table(
    "cases", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("community_id", ForeignKey("communities.id"), nullable=False),
    Column("reporter_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("building_id", ForeignKey("buildings.id"), nullable=False),
    Column("grid_id", ForeignKey("grids.id"), nullable=False),
    Column("category", String(24), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("state", String(16), nullable=False),
    Column("handler_id", ForeignKey("persons.id"), index=True),
    Column("handler_kind", String(16)),
    Column("deadline", UtcDateTime(), nullable=False),
    Column("half_time_at", UtcDateTime()),          # when the handler is reminded at half time
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("closure_reason", String(24)),
    Column("closure_note", Text),
    Column("resolution_note", Text),
    Column("rating", Integer),
    Column("rework_count", Integer, nullable=False, default=0),
    Column("merged_into", ForeignKey("cases.id")),
    Column("escalation_deadline", UtcDateTime()),
    Column("resolved_at", UtcDateTime()),
    Column("closed_at", UtcDateTime()),
    Column("lat", Float), Column("lon", Float),
    # the reporter asked to stay anonymous to the grid member (staff still see who)
    Column("anonymous", Boolean, nullable=False, default=False, server_default=sa_false()),
    # when the minute sweep must look at the case next (core.cases.next_check); NULL: never again
    Column("next_check_at", UtcDateTime()),
    # the reporter used /forget: the case stays for statistics, nobody is asked to confirm (core.forget)
    Column("reporter_left_at", UtcDateTime()),
    # proof on the spot at the last resolve (core.proof): the verdict, metres, the reason; never the position
    Column("on_site", Boolean), Column("proof_distance_m", Float), Column("proof_reason", String(24)),
    Column("proof_words", Text),
    Index("ix_cases_state_deadline", "state", "deadline"),
    Index("ix_cases_next_check_at", "next_check_at"),
    Index("ix_cases_open_place", "community_id", "category", "state"),
    # the dashboard's periods (storage/statistics.py): reports received, cases closed
    Index("ix_cases_community_created", "community_id", "created_at"),
    Index("ix_cases_community_closed", "community_id", "closed_at"),
)

case_photos = Table(
    "case_photos", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("sha256", String(64), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("width", Integer), Column("height", Integer),
    Column("dhash", BigInteger),  # signed 64-bit; core.duplicates accepts either sign
    UniqueConstraint("case_id", "sha256", "kind", name="uq_case_photos_case_sha_kind"),
)

case_me_too = Table(
    "case_me_too", metadata,
    Column("case_id", ForeignKey("cases.id"), primary_key=True),
    Column("person_id", ForeignKey("persons.id"), primary_key=True),
    Column("joined_at", UtcDateTime(), nullable=False),
)

case_numbers = Table(
    "case_numbers", metadata,
    Column("community_id", ForeignKey("communities.id"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last", Integer, nullable=False),
)


# A person whose reporting staff suspended (abuse), with the reason; restoring deletes the row. The
# events of subject "person" keep the story (reporting_suspended / reporting_restored).
reporting_suspensions = Table(
    "reporting_suspensions", metadata,
    Column("person_id", ForeignKey("persons.id"), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("suspended_by", ForeignKey("persons.id"), nullable=False),
    Column("since", UtcDateTime(), nullable=False),
)

# Voice notes (core.voice): a report's words, a rejection's reason or an order's description, spoken.
# The file lies under the data folder (media.voice.VoiceStore), named by its content.
voice_notes = Table(
    "voice_notes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("cases.id"), index=True),
    Column("order_id", ForeignKey("volunteer_orders.id"), index=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("purpose", String(16), nullable=False),
    Column("duration", Integer, nullable=False),
    Column("mime", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("file", String(100), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)
