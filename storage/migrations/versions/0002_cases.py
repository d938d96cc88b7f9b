"""cases

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:12:43.729323
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('case_numbers',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_case_numbers_community_id_communities')),
    sa.PrimaryKeyConstraint('community_id', 'year', name=op.f('pk_case_numbers'))
    )
    op.create_table('cases',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=24), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('handler_id', sa.Integer(), nullable=True),
    sa.Column('handler_kind', sa.String(length=16), nullable=True),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('half_time_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closure_reason', sa.String(length=24), nullable=True),
    sa.Column('closure_note', sa.Text(), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rework_count', sa.Integer(), nullable=False),
    sa.Column('merged_into', sa.Integer(), nullable=True),
    sa.Column('escalation_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_cases_building_id_buildings')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_cases_community_id_communities')),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_cases_grid_id_grids')),
    sa.ForeignKeyConstraint(['handler_id'], ['persons.id'], name=op.f('fk_cases_handler_id_persons')),
    sa.ForeignKeyConstraint(['merged_into'], ['cases.id'], name=op.f('fk_cases_merged_into_cases')),
    sa.ForeignKeyConstraint(['reporter_id'], ['persons.id'], name=op.f('fk_cases_reporter_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('number', name=op.f('uq_cases_number'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_handler_id'), ['handler_id'], unique=False)
        batch_op.create_index('ix_cases_open_place', ['community_id', 'category', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_reporter_id'), ['reporter_id'], unique=False)
        batch_op.create_index('ix_cases_state_deadline', ['state', 'deadline'], unique=False)

    op.create_table('case_me_too',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_me_too_case_id_cases')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_case_me_too_person_id_persons')),
    sa.PrimaryKeyConstraint('case_id', 'person_id', name=op.f('pk_case_me_too'))
    )
    op.create_table('case_photos',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('dhash', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_photos_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_photos')),
    sa.UniqueConstraint('case_id', 'sha256', 'kind', name='uq_case_photos_case_sha_kind')
    )
    with op.batch_alter_table('case_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_photos_case_id'), ['case_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('case_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_photos_case_id'))

    op.drop_table('case_photos')
    op.drop_table('case_me_too')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_state_deadline')
        batch_op.drop_index(batch_op.f('ix_cases_reporter_id'))
        batch_op.drop_index('ix_cases_open_place')
        batch_op.drop_index(batch_op.f('ix_cases_handler_id'))

    op.drop_table('cases')
    op.drop_table('case_numbers')
    
