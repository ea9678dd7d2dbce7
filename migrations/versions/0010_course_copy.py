"""course copy (issue 14 item 3)

A course remembers the earlier context ids its LMS named ($Context.id.history), the course
its setup was copied from and the teacher's answer to "copy or start empty". Copied scales,
competencies and modules remember the ids they had before; a copied competency or gated
module carries the resourceId of the column the LMS copied with the course.

Revision ID: 0010_course_copy
Revises: 0009_dynamic_registration
Create Date: 2026-12-03 18:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_course_copy'
down_revision: str | None = '0009_dynamic_registration'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EMPTY_LIST = sa.text("'[]'")


def upgrade() -> None:
    # Plain ADD COLUMNs: on SQLite a batch would copy these parent tables (see migrate.py).
    op.add_column(
        'contexts', sa.Column('history', sa.JSON(), nullable=False, server_default=EMPTY_LIST)
    )
    op.add_column('contexts', sa.Column('copied_from_id', sa.Integer()))
    op.add_column('contexts', sa.Column('setup_choice', sa.String(length=20)))
    for table in ('scales', 'competencies', 'modules'):
        op.add_column(
            table,
            sa.Column('copied_from_ids', sa.JSON(), nullable=False, server_default=EMPTY_LIST),
        )
    for table in ('competencies', 'modules'):
        op.add_column(table, sa.Column('column_resource_id', sa.String(length=255)))


def downgrade() -> None:
    for table in ('competencies', 'modules'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('column_resource_id')
    for table in ('scales', 'competencies', 'modules'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('copied_from_ids')
    with op.batch_alter_table('contexts') as batch:
        batch.drop_column('setup_choice')
        batch.drop_column('copied_from_id')
        batch.drop_column('history')
