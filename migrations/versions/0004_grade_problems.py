"""grade sync problems (issue 10 item 9)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 07:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lti_tool.models.types

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('grade_problems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('context_id', sa.Integer(), nullable=False),
    sa.Column('line_item_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('user_ref', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('value', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('seen_at', lti_tool.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['context_id'], ['contexts.id'], name=op.f('fk_grade_problems_context_id_contexts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['line_item_id'], ['course_line_items.id'], name=op.f('fk_grade_problems_line_item_id_course_line_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_grade_problems_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grade_problems'))
    )
    with op.batch_alter_table('grade_problems', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grade_problems_context_id'), ['context_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grade_problems_line_item_id'), ['line_item_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('grade_problems', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grade_problems_line_item_id'))
        batch_op.drop_index(batch_op.f('ix_grade_problems_context_id'))

    op.drop_table('grade_problems')
