"""voice_notes: voice messages kept with a case or an order (issue #20 part 4, "语音留言")

Elderly residents speak rather than type: a report's words, a rejection's reason or a service order's
description may be a voice note. The row names the file (under DATA_DIR/voice, as sent), its length,
type and size, the person who spoke and the case or order it belongs to.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-02 07:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'voice_notes',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('duration', sa.Integer(), nullable=False),
        sa.Column('mime', sa.String(length=64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('file', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name='fk_voice_notes_case_id_cases'),
        sa.ForeignKeyConstraint(['order_id'], ['volunteer_orders.id'], name='fk_voice_notes_order_id_volunteer_orders'),
        sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name='fk_voice_notes_person_id_persons'),
        sa.PrimaryKeyConstraint('id', name='pk_voice_notes'),
    )
    for column in ('case_id', 'order_id', 'person_id'):
        op.create_index(f'ix_voice_notes_{column}', 'voice_notes', [column], unique=False)


def downgrade() -> None:
    for column in ('case_id', 'order_id', 'person_id'):
        op.drop_index(f'ix_voice_notes_{column}', table_name='voice_notes')
    op.drop_table('voice_notes')
