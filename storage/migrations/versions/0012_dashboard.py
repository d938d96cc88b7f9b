"""The community dashboard (#19): indexes for its periods, its one-time sign-in links, compounds' property company, Open311 clients and tokens

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the dashboard counts reports received and cases closed in a period, and rework and escalations
    # from the events (storage/statistics.py)
    op.create_index('ix_cases_community_created', 'cases', ['community_id', 'created_at'], unique=False)
    op.create_index('ix_cases_community_closed', 'cases', ['community_id', 'closed_at'], unique=False)
    op.create_index('ix_events_kind_at', 'events', ['subject_type', 'kind', 'at'], unique=False)
    op.add_column('compounds', sa.Column('property_company', sa.String(length=100), nullable=True))
    op.create_table(
        'sign_in_links',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name='fk_sign_in_links_person_id_persons'),
        sa.PrimaryKeyConstraint('token_hash', name='pk_sign_in_links'),
    )


    op.create_table(
        'open311_clients',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name='fk_open311_clients_person_id_persons'),
        sa.PrimaryKeyConstraint('id', name='pk_open311_clients'),
        sa.UniqueConstraint('name', name='uq_open311_clients_name'),
        sa.UniqueConstraint('key_hash', name='uq_open311_clients_key_hash'),
    )
    op.create_table(
        'open311_tokens',
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('case_number', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['open311_clients.id'],
                                name='fk_open311_tokens_client_id_open311_clients'),
        sa.PrimaryKeyConstraint('token', name='pk_open311_tokens'),
        sa.UniqueConstraint('case_number', name='uq_open311_tokens_case_number'),
    )


def downgrade() -> None:
    op.drop_table('open311_tokens')
    op.drop_table('open311_clients')
    op.drop_table('sign_in_links')
    op.execute('ALTER TABLE compounds DROP COLUMN property_company')  # SQLite 3.35+ and PostgreSQL
    op.drop_index('ix_events_kind_at', table_name='events')
    op.drop_index('ix_cases_community_closed', table_name='cases')
    op.drop_index('ix_cases_community_created', table_name='cases')
