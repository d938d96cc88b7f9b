"""WeChat channel: outbox rows carry their channel; WeChat callbacks seen, users' budgets, sends

- outbox.channel: which channel's worker sends the row (rows written before: telegram); the due
  index leads with it, each worker claiming only its own.
- wechat_inbox: callbacks already taken (WeChat retries), by MsgId or user + CreateTime + event.
- wechat_contacts: the 48-hour window a user's message opens (at most 5 customer-service
  messages) and their one-time subscriptions.
- wechat_sends: each message WeChat/WeCom was asked to deliver, for WeCom's 30/min and 1,000/h.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 03:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('channel', sa.String(length=16), nullable=False, server_default='telegram'))
        batch.drop_index('ix_outbox_due')
        batch.create_index('ix_outbox_due', ['channel', 'state', 'priority', 'not_before', 'id'])
    op.create_table(
        'wechat_inbox',
        sa.Column('dedupe_key', sa.String(length=128), nullable=False),
        sa.Column('app', sa.String(length=8), nullable=False),
        sa.Column('user_id', sa.String(length=64), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reply', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('dedupe_key', name='pk_wechat_inbox'),
    )
    op.create_index('ix_wechat_inbox_received', 'wechat_inbox', ['received_at'])
    op.create_table(
        'wechat_contacts',
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('user_id', sa.String(length=64), nullable=False),
        sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('window_used', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('subscribe_credits', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('noticed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('channel', 'user_id', name='pk_wechat_contacts'),
    )
    op.create_table(
        'wechat_sends',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('user_id', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('via', sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_wechat_sends'),
    )
    op.create_index('ix_wechat_sends_user', 'wechat_sends', ['channel', 'user_id', 'at'])


def downgrade() -> None:
    op.drop_index('ix_wechat_sends_user', table_name='wechat_sends')
    op.drop_table('wechat_sends')
    op.drop_table('wechat_contacts')
    op.drop_index('ix_wechat_inbox_received', table_name='wechat_inbox')
    op.drop_table('wechat_inbox')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_index('ix_outbox_due')
        batch.create_index('ix_outbox_due', ['state', 'priority', 'not_before', 'id'])
        batch.drop_column('channel')
