"""volunteering: orders, posts, claims, standings, theme-day templates, points, done jobs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 11:34:42.120769
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('done_jobs',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_done_jobs'))
    )
    op.create_table('points_balances',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('balance', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_points_balances_community_id_communities')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_points_balances_person_id_persons')),
    sa.PrimaryKeyConstraint('person_id', 'community_id', name=op.f('pk_points_balances'))
    )
    op.create_table('points_entries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('delta', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('ref', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['by'], ['persons.id'], name=op.f('fk_points_entries_by_persons')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_points_entries_community_id_communities')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_points_entries_person_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_entries')),
    sa.UniqueConstraint('person_id', 'community_id', 'reason', 'ref', name='uq_points_entries_once')
    )
    with op.batch_alter_table('points_entries', schema=None) as batch_op:
        batch_op.create_index('ix_points_entries_community_at', ['community_id', 'at'], unique=False)

    op.create_table('theme_templates',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('activity', sa.String(length=24), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('points_per_person', sa.Integer(), nullable=False),
    sa.Column('duration_min', sa.Integer(), nullable=False),
    sa.Column('rest_day_starts', sa.Time(), nullable=False),
    sa.Column('workday_starts', sa.Time(), nullable=True),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_theme_templates_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_theme_templates'))
    )
    with op.batch_alter_table('theme_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_theme_templates_community_id'), ['community_id'], unique=False)

    op.create_table('volunteer_numbers',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_volunteer_numbers_community_id_communities')),
    sa.PrimaryKeyConstraint('community_id', 'year', 'kind', name=op.f('pk_volunteer_numbers'))
    )
    op.create_table('volunteer_orders',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('preferred_time', sa.String(length=100), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decline_reason', sa.Text(), nullable=True),
    sa.Column('post_number', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_volunteer_orders_community_id_communities')),
    sa.ForeignKeyConstraint(['resident_id'], ['persons.id'], name=op.f('fk_volunteer_orders_resident_id_persons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_orders')),
    sa.UniqueConstraint('number', name=op.f('uq_volunteer_orders_number'))
    )
    with op.batch_alter_table('volunteer_orders', schema=None) as batch_op:
        batch_op.create_index('ix_volunteer_orders_desk', ['community_id', 'state', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_volunteer_orders_resident_id'), ['resident_id'], unique=False)

    op.create_table('volunteer_standings',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('no_shows', sa.Integer(), nullable=False),
    sa.Column('suspended', sa.Boolean(), nullable=False),
    sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_volunteer_standings_community_id_communities')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_volunteer_standings_person_id_persons')),
    sa.PrimaryKeyConstraint('person_id', 'community_id', name=op.f('pk_volunteer_standings'))
    )
    # one post per template and theme day (NULLs, the posts not made from a template, never clash)
    op.create_table('volunteer_posts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('points_per_person', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('order_number', sa.String(length=32), nullable=True),
    sa.Column('template_id', sa.Integer(), nullable=True),
    sa.Column('theme_day', sa.Date(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('places_taken', sa.Integer(), nullable=False),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_volunteer_posts_community_id_communities')),
    sa.ForeignKeyConstraint(['created_by'], ['persons.id'], name=op.f('fk_volunteer_posts_created_by_persons')),
    sa.ForeignKeyConstraint(['template_id'], ['theme_templates.id'], name=op.f('fk_volunteer_posts_template_id_theme_templates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_posts')),
    sa.UniqueConstraint('number', name=op.f('uq_volunteer_posts_number')),
    sa.UniqueConstraint('template_id', 'theme_day', name='uq_volunteer_posts_template_day')
    )
    with op.batch_alter_table('volunteer_posts', schema=None) as batch_op:
        batch_op.create_index('ix_volunteer_posts_open', ['community_id', 'state', 'starts_at'], unique=False)
        batch_op.create_index('ix_volunteer_posts_starts', ['starts_at'], unique=False)
        batch_op.create_index('ix_volunteer_posts_theme', ['community_id', 'theme_day'], unique=False)

    op.create_table('volunteer_claims',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('check_in_photo', sa.String(length=64), nullable=True),
    sa.Column('check_in_lat', sa.Float(), nullable=True),
    sa.Column('check_in_lon', sa.Float(), nullable=True),
    sa.Column('checked_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('check_out_photo', sa.String(length=64), nullable=True),
    sa.Column('served_seconds', sa.Integer(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('confirmed_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['confirmed_by'], ['persons.id'], name=op.f('fk_volunteer_claims_confirmed_by_persons')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_volunteer_claims_person_id_persons')),
    sa.ForeignKeyConstraint(['post_id'], ['volunteer_posts.id'], name=op.f('fk_volunteer_claims_post_id_volunteer_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer_claims')),
    sa.UniqueConstraint('post_id', 'person_id', name='uq_volunteer_claims_post_person')
    )
    with op.batch_alter_table('volunteer_claims', schema=None) as batch_op:
        batch_op.create_index('ix_volunteer_claims_person', ['person_id', 'state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('volunteer_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_volunteer_claims_person')

    op.drop_table('volunteer_claims')
    with op.batch_alter_table('volunteer_posts', schema=None) as batch_op:
        batch_op.drop_index('ix_volunteer_posts_theme')
        batch_op.drop_index('ix_volunteer_posts_starts')
        batch_op.drop_index('ix_volunteer_posts_open')

    op.drop_table('volunteer_posts')
    op.drop_table('volunteer_standings')
    with op.batch_alter_table('volunteer_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteer_orders_resident_id'))
        batch_op.drop_index('ix_volunteer_orders_desk')

    op.drop_table('volunteer_orders')
    op.drop_table('volunteer_numbers')
    with op.batch_alter_table('theme_templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_theme_templates_community_id'))

    op.drop_table('theme_templates')
    with op.batch_alter_table('points_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_points_entries_community_at')

    op.drop_table('points_entries')
    op.drop_table('points_balances')
    op.drop_table('done_jobs')
