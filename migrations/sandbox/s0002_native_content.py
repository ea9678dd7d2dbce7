"""sandbox native content: a course's own activities and modules, gated by its gradebook

Revision ID: s0002
Revises: s0001
Create Date: 2026-12-03

Moodle-shape activities with "Restrict access → Grade" conditions, Canvas-shape modules with
items, "score at least N" requirements, prerequisites and the students' remembered unlocks;
Canvas' manual post policy on a gradebook column and the time a result was posted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lti_tool.models.types

revision: str = 's0002'
down_revision: str | None = 's0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sandbox_activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['sandbox_courses.id'], name=op.f('fk_sandbox_activities_course_id_sandbox_courses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_activities'))
    )
    with op.batch_alter_table('sandbox_activities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_activities_course_id'), ['course_id'], unique=False)

    op.create_table('sandbox_modules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('prerequisite_ids', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['sandbox_courses.id'], name=op.f('fk_sandbox_modules_course_id_sandbox_courses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_modules'))
    )
    with op.batch_alter_table('sandbox_modules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_modules_course_id'), ['course_id'], unique=False)

    op.create_table('sandbox_module_progressions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('module_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('unlocked_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['module_id'], ['sandbox_modules.id'], name=op.f('fk_sandbox_module_progressions_module_id_sandbox_modules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['sandbox_users.id'], name=op.f('fk_sandbox_module_progressions_user_id_sandbox_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_module_progressions')),
    sa.UniqueConstraint('module_id', 'user_id', name=op.f('uq_sandbox_module_progressions_module_id_user_id'))
    )
    with op.batch_alter_table('sandbox_module_progressions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_module_progressions_module_id'), ['module_id'], unique=False)

    op.create_table('sandbox_grade_conditions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('line_item_id', sa.Integer(), nullable=True),
    sa.Column('waiting_resource_id', sa.String(length=255), nullable=False),
    sa.Column('min_percent', sa.Float(), nullable=True),
    sa.Column('max_percent', sa.Float(), nullable=True),
    sa.Column('shown', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['sandbox_activities.id'], name=op.f('fk_sandbox_grade_conditions_activity_id_sandbox_activities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['line_item_id'], ['sandbox_line_items.id'], name=op.f('fk_sandbox_grade_conditions_line_item_id_sandbox_line_items'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_grade_conditions'))
    )
    with op.batch_alter_table('sandbox_grade_conditions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_grade_conditions_activity_id'), ['activity_id'], unique=False)

    op.create_table('sandbox_module_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('module_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('line_item_id', sa.Integer(), nullable=True),
    sa.Column('waiting_resource_id', sa.String(length=255), nullable=False),
    sa.Column('min_score', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['line_item_id'], ['sandbox_line_items.id'], name=op.f('fk_sandbox_module_items_line_item_id_sandbox_line_items'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['module_id'], ['sandbox_modules.id'], name=op.f('fk_sandbox_module_items_module_id_sandbox_modules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_module_items'))
    )
    with op.batch_alter_table('sandbox_module_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_module_items_module_id'), ['module_id'], unique=False)

    with op.batch_alter_table('sandbox_line_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('post_manually', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('sandbox_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('posted_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('sandbox_results', schema=None) as batch_op:
        batch_op.drop_column('posted_at')

    with op.batch_alter_table('sandbox_line_items', schema=None) as batch_op:
        batch_op.drop_column('post_manually')

    with op.batch_alter_table('sandbox_module_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_module_items_module_id'))

    op.drop_table('sandbox_module_items')
    with op.batch_alter_table('sandbox_grade_conditions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_grade_conditions_activity_id'))

    op.drop_table('sandbox_grade_conditions')
    with op.batch_alter_table('sandbox_module_progressions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_module_progressions_module_id'))

    op.drop_table('sandbox_module_progressions')
    with op.batch_alter_table('sandbox_modules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_modules_course_id'))

    op.drop_table('sandbox_modules')
    with op.batch_alter_table('sandbox_activities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_activities_course_id'))

    op.drop_table('sandbox_activities')
