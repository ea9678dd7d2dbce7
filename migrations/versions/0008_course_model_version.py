"""course model version (issue 13 item 2)

A course carries the version of its setup as the engine reads it: every change to its
competencies, scales, modules, rules, alignments or gradebook columns bumps it in the same
transaction, and each process rebuilds its cached course model when the number moved.
A student's page and the incremental recompute read one student's states, overrides and
outbox rows: those tables get an index on the student.

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

INDEXED = ('mastery_states', 'unlock_states', 'overrides', 'score_outbox')


def upgrade() -> None:
    # A plain ADD COLUMN: on SQLite a batch would copy this parent table (see migrate.py).
    op.add_column(
        'contexts',
        sa.Column('model_version', sa.Integer(), nullable=False, server_default=sa.text('0')),
    )
    for table in INDEXED:
        op.create_index(op.f(f'ix_{table}_user_id'), table, ['user_id'])


def downgrade() -> None:
    for table in INDEXED:
        op.drop_index(op.f(f'ix_{table}_user_id'), table_name=table)
    with op.batch_alter_table('contexts') as batch:
        batch.drop_column('model_version')
