"""The audit log of who saw whose personal information (PIPL: "keep an audit trail of who saw what").

Append-only by construction: `storage/audit.py` offers `add` and reads, nothing that updates or
deletes a row, and no retention job touches it. One row per person whose data was shown.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table

from storage.tables import UtcDateTime, metadata

audit_log = Table(
    "audit_log", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("viewer_id", ForeignKey("persons.id"), nullable=False),   # who looked (staff)
    Column("person_id", ForeignKey("persons.id"), nullable=False),   # whose data was shown
    Column("what", String(32), nullable=False),                      # "case.reporter", "desk", "members" …
    Column("subject", String(64), nullable=False, default=""),       # e.g. the case number
    Index("ix_audit_log_person_at", "person_id", "at"),
    Index("ix_audit_log_at", "at"),
)
