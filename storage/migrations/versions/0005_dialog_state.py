"""dialog state: unfinished dialogs kept in the database, so a restart loses none

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:12:03.412518
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dialog_state',
    sa.Column('bot_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('chat_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('user_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('thread_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('business_connection_id', sa.String(length=128), nullable=False),
    sa.Column('destiny', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=200), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('bot_id', 'chat_id', 'user_id', 'thread_id', 'business_connection_id', 'destiny',
                            name=op.f('pk_dialog_state'))
    )


def downgrade() -> None:
    op.drop_table('dialog_state')
