"""volunteer_standings.no_shows_at_lift: a lifted suspension keeps the no-show count

Lifting used to set the count back to zero. It is kept now, and the next suspension counts the
no-shows since the last lift. Rows written before start with no lift (0).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('volunteer_standings',
                  sa.Column('no_shows_at_lift', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    op.execute('ALTER TABLE volunteer_standings DROP COLUMN no_shows_at_lift')  # SQLite 3.35+ and PostgreSQL
