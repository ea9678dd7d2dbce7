"""unlock columns (issue 12 item 2)

A module can gate the LMS's own content: it gets `gates_lms` and the URL and label of its
"Unlocked: <title>" gradebook column. The score outbox carries either a competency's score or
a module's unlock score (1 open, 0 locked), never both. A gated module names what it opens in
the LMS, for students; a course remembers which of the tool's columns the teacher keeps out of
the LMS course total.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs: on SQLite a batch would copy these parent tables (see migrate.py).
    op.add_column(
        'modules', sa.Column('gates_lms', sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column('modules', sa.Column('unlock_lineitem_url', sa.String(length=1000)))
    op.add_column('modules', sa.Column('unlock_label', sa.String(length=300)))
    op.add_column(
        'modules',
        sa.Column('lms_target_title', sa.String(length=300), nullable=False, server_default=''),
    )
    op.add_column(
        'modules',
        sa.Column('lms_target_url', sa.String(length=1000), nullable=False, server_default=''),
    )
    op.add_column(
        'contexts',
        sa.Column(
            'columns_out_of_total', sa.JSON(), nullable=False, server_default=sa.text("'[]'")
        ),
    )
    with op.batch_alter_table('score_outbox') as batch:
        batch.alter_column('competency_id', existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column('module_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f('fk_score_outbox_module_id_modules'), 'modules', ['module_id'], ['id'],
            ondelete='CASCADE',
        )
        batch.create_unique_constraint(
            batch.f('uq_score_outbox_module_id_user_id'), ['module_id', 'user_id']
        )
        batch.create_check_constraint(
            'one_column_owner', '(competency_id IS NULL) <> (module_id IS NULL)'
        )


def downgrade() -> None:
    op.execute('DELETE FROM score_outbox WHERE module_id IS NOT NULL')
    with op.batch_alter_table('score_outbox') as batch:
        batch.drop_constraint('one_column_owner', type_='check')
        batch.drop_constraint(batch.f('uq_score_outbox_module_id_user_id'), type_='unique')
        batch.drop_constraint(batch.f('fk_score_outbox_module_id_modules'), type_='foreignkey')
        batch.drop_column('module_id')
        batch.alter_column('competency_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('contexts') as batch:
        batch.drop_column('columns_out_of_total')
    with op.batch_alter_table('modules') as batch:
        batch.drop_column('lms_target_url')
        batch.drop_column('lms_target_title')
        batch.drop_column('unlock_label')
        batch.drop_column('unlock_lineitem_url')
        batch.drop_column('gates_lms')
