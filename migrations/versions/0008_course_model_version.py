"""course model version (issue 13 item 2)

A course carries the version of its setup as the engine reads it: every change to its
competencies, scales, modules, rules, alignments or gradebook columns bumps it in the same
transaction, and each process rebuilds its cached course model when the number moved.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: on SQLite a batch would copy this parent table (see migrate.py).
    op.add_column(
        'contexts',
        sa.Column('model_version', sa.Integer(), nullable=False, server_default=sa.text('0')),
    )


def downgrade() -> None:
    with op.batch_alter_table('contexts') as batch:
        batch.drop_column('model_version')
