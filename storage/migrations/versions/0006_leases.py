"""leases: an inbox row or a `sending` outbox row belongs to a live process only while its lease runs

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:50:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbox') as batch:
        batch.add_column(sa.Column('owner', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('lease_until')
    with op.batch_alter_table('inbox') as batch:
        batch.drop_column('attempts')
        batch.drop_column('lease_until')
        batch.drop_column('owner')
