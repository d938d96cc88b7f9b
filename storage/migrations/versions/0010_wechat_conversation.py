"""WeChat conversation: bind codes (a second chat account for a person) and the WeChat dialogs

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02 03:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bind_codes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_by', sa.String(length=200), nullable=True),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['persons.id'], name=op.f('fk_bind_codes_created_by_persons')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_bind_codes_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bind_codes'))
    )
    op.create_index(op.f('ix_bind_codes_code'), 'bind_codes', ['code'], unique=False)
    op.create_index(op.f('ix_bind_codes_person_id'), 'bind_codes', ['person_id'], unique=False)
    op.create_table('wechat_dialogs',
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('state', sa.String(length=64), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'user_id', name=op.f('pk_wechat_dialogs'))
    )


def downgrade() -> None:
    op.drop_table('wechat_dialogs')
    op.drop_index(op.f('ix_bind_codes_person_id'), table_name='bind_codes')
    op.drop_index(op.f('ix_bind_codes_code'), table_name='bind_codes')
    op.drop_table('bind_codes')
