"""states version (issue 13 item 1)

A course carries a version of its stored states and evidence: every recompute that wrote a
state, or ran for students whose evidence changed, bumps it in its own transaction, and each
process recounts its cached class summary when the number moved.

Revision ID: 0011_class_summary_cache
Revises: 0010_course_copy
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_class_summary_cache'
down_revision: str | None = '0010_course_copy'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: on SQLite a batch would copy this parent table (see migrate.py).
    op.add_column(
        'contexts',
        sa.Column('states_version', sa.Integer(), nullable=False, server_default=sa.text('0')),
    )


def downgrade() -> None:
    with op.batch_alter_table('contexts') as batch:
        batch.drop_column('states_version')
