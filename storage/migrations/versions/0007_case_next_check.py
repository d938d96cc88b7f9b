"""cases.next_check_at: the minute sweep loads only the cases whose next moment has come

Every case the clock still watches (open or resolved) starts with its last change as its next
check, so the first sweep after the upgrade looks at each once and sets its real next moment by
core's rule (core.cases.next_check); finished cases are never looked at again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

WATCHED = ('submitted', 'assigned', 'in_progress', 'reopened', 'forwarded', 'escalated', 'resolved')


def upgrade() -> None:
    # plain ALTERs, not a batch: on SQLite a batch copies `cases`, which its photos' foreign keys forbid
    op.add_column('cases', sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_cases_next_check_at', 'cases', ['next_check_at'], unique=False)
    cases = sa.table('cases', sa.column('state', sa.String), sa.column('updated_at', sa.DateTime(timezone=True)),
                     sa.column('next_check_at', sa.DateTime(timezone=True)))
    op.execute(cases.update().where(cases.c.state.in_(WATCHED)).values(next_check_at=cases.c.updated_at))


def downgrade() -> None:
    op.drop_index('ix_cases_next_check_at', table_name='cases')
    op.execute('ALTER TABLE cases DROP COLUMN next_check_at')  # SQLite 3.35+ and PostgreSQL
