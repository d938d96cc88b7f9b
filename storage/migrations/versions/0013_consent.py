"""consents, persons.notice_version/location_agreed_at/forgotten_at, cases.reporter_left_at (issue #17)

Nothing about a person is kept before they agree to the privacy notice; the consents table records
each agreement (purpose, notice version, time, channel), and the person carries the newest so the
check every update makes needs no query of its own. People already in the database have agreed to
nothing (NULL): they are shown the notice at their next interaction. /forget anonymises a person
(forgotten_at) and marks the cases they reported (reporter_left_at) so nobody asks them to confirm.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa



revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'consents',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('person_id', sa.Integer(), sa.ForeignKey('persons.id', name='fk_consents_person_id_persons'),
                  nullable=False),
        sa.Column('purpose', sa.String(16), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(16), nullable=False),
        sa.Column('given_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_consents'),
    )
    op.create_index('ix_consents_person_id', 'consents', ['person_id'])
    op.add_column('persons', sa.Column('notice_version', sa.Integer(), nullable=True))
    op.add_column('persons', sa.Column('location_agreed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('persons', sa.Column('forgotten_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('cases', sa.Column('reporter_left_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table, column in (('cases', 'reporter_left_at'), ('persons', 'forgotten_at'),
                          ('persons', 'location_agreed_at'), ('persons', 'notice_version')):
        op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')  # SQLite 3.35+ and PostgreSQL
    op.drop_index('ix_consents_person_id', table_name='consents')
    op.drop_table('consents')
