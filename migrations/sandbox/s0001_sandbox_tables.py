"""sandbox tables: the built-in platform's own branch, apart from the product's chain

Revision ID: s0001
Revises:
Create Date: 2026-12-03

Until this branch existed these tables were made by 0001 and 0002, so a database made then
already has them: each table is created only if it is absent, and such a database simply
records this revision. Production can leave this branch out (`lti-tool db upgrade
--without-sandbox` upgrades `product@head` only).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lti_tool.models.types

revision: str = 's0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ('sandbox',)
# The sandbox keeps its issued tokens and used jtis in the product's store_entries (0001).
depends_on: str | Sequence[str] | None = '0001'


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    if 'sandbox_platforms' not in present:
        op.create_table('sandbox_platforms',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('slug', sa.String(length=40), nullable=False),
        sa.Column('shape', sa.String(length=20), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('issuer', sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_platforms')),
        sa.UniqueConstraint('slug', name=op.f('uq_sandbox_platforms_slug'))
        )

    if 'sandbox_courses' not in present:
        op.create_table('sandbox_courses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform_id', sa.Integer(), nullable=False),
        sa.Column('lti_context_id', sa.String(length=255), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('label', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['platform_id'], ['sandbox_platforms.id'], name=op.f('fk_sandbox_courses_platform_id_sandbox_platforms')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_courses'))
        )
        with op.batch_alter_table('sandbox_courses', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_sandbox_courses_platform_id'), ['platform_id'], unique=False)

    if 'sandbox_keys' not in present:
        op.create_table('sandbox_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform_id', sa.Integer(), nullable=False),
        sa.Column('kid', sa.String(length=64), nullable=False),
        sa.Column('private_pem', sa.Text(), nullable=False),
        sa.Column('public_jwk', sa.JSON(), nullable=False),
        sa.Column('created_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['platform_id'], ['sandbox_platforms.id'], name=op.f('fk_sandbox_keys_platform_id_sandbox_platforms')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_keys')),
        sa.UniqueConstraint('kid', name=op.f('uq_sandbox_keys_kid'))
        )
        with op.batch_alter_table('sandbox_keys', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_sandbox_keys_platform_id'), ['platform_id'], unique=False)

    if 'sandbox_tools' not in present:
        op.create_table('sandbox_tools',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('client_id', sa.String(length=255), nullable=False),
        sa.Column('deployment_id', sa.String(length=255), nullable=False),
        sa.Column('login_url', sa.String(length=1000), nullable=False),
        sa.Column('redirect_uris', sa.JSON(), nullable=False),
        sa.Column('target_link_uri', sa.String(length=1000), nullable=False),
        sa.Column('jwks_url', sa.String(length=1000), nullable=False),
        sa.Column('scopes', sa.JSON(), nullable=False),
        sa.Column('jwks_cache', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(['platform_id'], ['sandbox_platforms.id'], name=op.f('fk_sandbox_tools_platform_id_sandbox_platforms')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_tools')),
        sa.UniqueConstraint('platform_id', 'client_id', name=op.f('uq_sandbox_tools_platform_id_client_id'))
        )
        with op.batch_alter_table('sandbox_tools', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_sandbox_tools_platform_id'), ['platform_id'], unique=False)

    if 'sandbox_users' not in present:
        op.create_table('sandbox_users',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform_id', sa.Integer(), nullable=False),
        sa.Column('lti_sub', sa.String(length=255), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('given_name', sa.String(length=100), nullable=False),
        sa.Column('family_name', sa.String(length=100), nullable=False),
        sa.Column('email', sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(['platform_id'], ['sandbox_platforms.id'], name=op.f('fk_sandbox_users_platform_id_sandbox_platforms')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_users'))
        )
        with op.batch_alter_table('sandbox_users', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_sandbox_users_platform_id'), ['platform_id'], unique=False)

    if 'sandbox_enrollments' not in present:
        op.create_table('sandbox_enrollments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('course_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('mentee_ids', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['course_id'], ['sandbox_courses.id'], name=op.f('fk_sandbox_enrollments_course_id_sandbox_courses')),
        sa.ForeignKeyConstraint(['user_id'], ['sandbox_users.id'], name=op.f('fk_sandbox_enrollments_user_id_sandbox_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_enrollments')),
        sa.UniqueConstraint('course_id', 'user_id', name=op.f('uq_sandbox_enrollments_course_id_user_id'))
        )
        with op.batch_alter_table('sandbox_enrollments', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_sandbox_enrollments_course_id'), ['course_id'], unique=False)

    if 'sandbox_links' not in present:
        op.create_table('sandbox_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('course_id', sa.Integer(), nullable=False),
        sa.Column('tool_id', sa.Integer(), nullable=False),
        sa.Column('lti_id', sa.String(length=255), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('url', sa.String(length=1000), nullable=True),
        sa.Column('custom', sa.JSON(), nullable=False),
        sa.Column('message_type', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['course_id'], ['sandbox_courses.id'], name=op.f('fk_sandbox_links_course_id_sandbox_courses')),
        sa.ForeignKeyConstraint(['tool_id'], ['sandbox_tools.id'], name=op.f('fk_sandbox_links_tool_id_sandbox_tools')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_links'))
        )
        with op.batch_alter_table('sandbox_links', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_sandbox_links_course_id'), ['course_id'], unique=False)

    if 'sandbox_faults' not in present:
        op.create_table('sandbox_faults',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform_id', sa.Integer(), nullable=False),
        sa.Column('error_rate', sa.Float(), nullable=False),
        sa.Column('kinds', sa.JSON(), nullable=False),
        sa.Column('retry_after', sa.Integer(), nullable=False),
        sa.Column('latency_ms', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['platform_id'], ['sandbox_platforms.id'], name=op.f('fk_sandbox_faults_platform_id_sandbox_platforms')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_faults')),
        sa.UniqueConstraint('platform_id', name=op.f('uq_sandbox_faults_platform_id'))
        )

    if 'sandbox_line_items' not in present:
        op.create_table('sandbox_line_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('course_id', sa.Integer(), nullable=False),
        sa.Column('tool_id', sa.Integer(), nullable=True),
        sa.Column('label', sa.String(length=300), nullable=False),
        sa.Column('score_maximum', sa.Float(), nullable=False),
        sa.Column('resource_id', sa.String(length=255), nullable=False),
        sa.Column('tag', sa.String(length=255), nullable=False),
        sa.Column('link_id', sa.Integer(), nullable=True),
        sa.Column('start_date_time', sa.String(length=40), nullable=True),
        sa.Column('end_date_time', sa.String(length=40), nullable=True),
        sa.Column('created_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['course_id'], ['sandbox_courses.id'], name=op.f('fk_sandbox_line_items_course_id_sandbox_courses')),
        sa.ForeignKeyConstraint(['link_id'], ['sandbox_links.id'], name=op.f('fk_sandbox_line_items_link_id_sandbox_links')),
        sa.ForeignKeyConstraint(['tool_id'], ['sandbox_tools.id'], name=op.f('fk_sandbox_line_items_tool_id_sandbox_tools')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_line_items'))
        )
        with op.batch_alter_table('sandbox_line_items', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_sandbox_line_items_course_id'), ['course_id'], unique=False)

    if 'sandbox_results' not in present:
        op.create_table('sandbox_results',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('line_item_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('score_given', sa.Float(), nullable=True),
        sa.Column('score_maximum', sa.Float(), nullable=True),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('activity_progress', sa.String(length=40), nullable=False),
        sa.Column('grading_progress', sa.String(length=40), nullable=False),
        sa.Column('timestamp', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('posts', sa.Integer(), nullable=False),
        sa.Column('updated_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['line_item_id'], ['sandbox_line_items.id'], name=op.f('fk_sandbox_results_line_item_id_sandbox_line_items'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['sandbox_users.id'], name=op.f('fk_sandbox_results_user_id_sandbox_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_results')),
        sa.UniqueConstraint('line_item_id', 'user_id', name=op.f('uq_sandbox_results_line_item_id_user_id'))
        )
        with op.batch_alter_table('sandbox_results', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_sandbox_results_line_item_id'), ['line_item_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sandbox_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_results_line_item_id'))
    op.drop_table('sandbox_results')
    with op.batch_alter_table('sandbox_line_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_line_items_course_id'))
    op.drop_table('sandbox_line_items')
    op.drop_table('sandbox_faults')
    with op.batch_alter_table('sandbox_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_links_course_id'))
    op.drop_table('sandbox_links')
    with op.batch_alter_table('sandbox_enrollments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_enrollments_course_id'))
    op.drop_table('sandbox_enrollments')
    with op.batch_alter_table('sandbox_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_users_platform_id'))
    op.drop_table('sandbox_users')
    with op.batch_alter_table('sandbox_tools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_tools_platform_id'))
    op.drop_table('sandbox_tools')
    with op.batch_alter_table('sandbox_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_keys_platform_id'))
    op.drop_table('sandbox_keys')
    with op.batch_alter_table('sandbox_courses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_courses_platform_id'))
    op.drop_table('sandbox_courses')
    op.drop_table('sandbox_platforms')
