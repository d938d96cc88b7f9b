"""Privacy limits (#17): the audit log, anonymous reports, suspended reporting, dialog ages

- audit_log: who (staff) saw whose personal information, when, what; append-only in the code.
- cases.anonymous: the reporter asked the grid member not to see who they are.
- reporting_suspensions: a person whose reporting staff suspended, with the reason.
- dialog_state.updated_at: so the daily retention job forgets unfinished dialogs; rows written
  before this migration count from the migration.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:00:00.000000
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

from storage.tables import UtcDateTime  # the update below binds an aware moment as storage does

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'audit_log',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('viewer_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('what', sa.String(length=32), nullable=False),
        sa.Column('subject', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['viewer_id'], ['persons.id'], name=op.f('fk_audit_log_viewer_id_persons')),
        sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_audit_log_person_id_persons')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    )
    op.create_index('ix_audit_log_person_at', 'audit_log', ['person_id', 'at'], unique=False)
    op.create_index('ix_audit_log_at', 'audit_log', ['at'], unique=False)
    op.create_table(
        'reporting_suspensions',
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('suspended_by', sa.Integer(), nullable=False),
        sa.Column('since', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_reporting_suspensions_person_id_persons')),
        sa.ForeignKeyConstraint(['suspended_by'], ['persons.id'],
                                name=op.f('fk_reporting_suspensions_suspended_by_persons')),
        sa.PrimaryKeyConstraint('person_id', name=op.f('pk_reporting_suspensions')),
    )
    op.add_column('cases', sa.Column('anonymous', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('dialog_state', sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_dialog_state_updated_at', 'dialog_state', ['updated_at'], unique=False)
    dialog_state = sa.table('dialog_state', sa.column('updated_at', UtcDateTime()))
    op.execute(dialog_state.update().values(updated_at=datetime.now(timezone.utc)))


def downgrade() -> None:
    # plain ALTER TABLE … DROP COLUMN (SQLite 3.35+ and PostgreSQL): a batch copy of `cases` would drop
    # a table that other tables' foreign keys name
    op.drop_index('ix_dialog_state_updated_at', table_name='dialog_state')
    op.execute('ALTER TABLE dialog_state DROP COLUMN updated_at')
    op.execute('ALTER TABLE cases DROP COLUMN anonymous')
    op.drop_table('reporting_suspensions')
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_index('ix_audit_log_person_at', table_name='audit_log')
    op.drop_table('audit_log')
