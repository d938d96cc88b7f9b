"""cases.on_site/proof_distance_m/proof_reason/proof_words, volunteer_claims.check_in_on_site/check_in_distance_m
(issue #20: proof on the spot, "现场确认")

The grid member who resolves a case, and the party member who checks in at a post, share a location;
only the verdict is kept (within the radius or not), the distance in metres and the reason when none
was given — never the position. NULL: not asked (cases resolved before this revision).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 07:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('cases', sa.Column('on_site', sa.Boolean(), nullable=True))
    op.add_column('cases', sa.Column('proof_distance_m', sa.Float(), nullable=True))
    op.add_column('cases', sa.Column('proof_reason', sa.String(24), nullable=True))
    op.add_column('cases', sa.Column('proof_words', sa.Text(), nullable=True))
    op.add_column('volunteer_claims', sa.Column('check_in_on_site', sa.Boolean(), nullable=True))
    op.add_column('volunteer_claims', sa.Column('check_in_distance_m', sa.Float(), nullable=True))


def downgrade() -> None:
    for table, column in (('volunteer_claims', 'check_in_distance_m'), ('volunteer_claims', 'check_in_on_site'),
                          ('cases', 'proof_words'), ('cases', 'proof_reason'), ('cases', 'proof_distance_m'),
                          ('cases', 'on_site')):
        op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')  # SQLite 3.35+ and PostgreSQL
