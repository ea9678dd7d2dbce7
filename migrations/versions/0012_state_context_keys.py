"""states without a course foreign key (issue 13 item 3, decision #50)

Mastery states, unlock states and score outbox rows keep their `context_id` (and its index:
a recompute reads a course's rows by it) but no longer reference `contexts`: each row's
competency or module already cascades from the course, so deleting the course still deletes
them, and PostgreSQL checked the redundant key once per inserted row (a first recompute of
1,000 students inserts 170,000 of them).

Revision ID: 0012_state_context_keys
Revises: 0011_class_summary_cache
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0012_state_context_keys'
down_revision: str | None = '0011_class_summary_cache'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('mastery_states', 'unlock_states', 'score_outbox')


def upgrade() -> None:
    # batch: SQLite drops a constraint by copying the table (none of these is referenced)
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f'fk_{table}_context_id_contexts', type_='foreignkey')


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(
                f'fk_{table}_context_id_contexts',
                'contexts',
                ['context_id'],
                ['id'],
                ondelete='CASCADE',
            )
