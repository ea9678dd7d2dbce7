"""no index on the audit log's time (issue 13 item 3, decision #51)

No query reads the audit log by its time alone: a student's history is read by course and
student (their indexes) and sorted, placements by course. A first recompute of 1,000
students writes 63,669 entries, each an insert into this index for nothing.

Revision ID: 0013_audit_time_index
Revises: 0012_state_context_keys
Create Date: 2026-12-04 18:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0013_audit_time_index'
down_revision: str | None = '0012_state_context_keys'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain DROP INDEX: a batch would copy the table on SQLite for nothing
    op.drop_index('ix_audit_log_at', table_name='audit_log')


def downgrade() -> None:
    op.create_index('ix_audit_log_at', 'audit_log', ['at'], unique=False)
