"""sandbox course copy: a copied course remembers its earlier context ids, a registered tool
its tool-level custom parameters (where it asks for `$Context.id.history`)

Revision ID: s0004_course_copy
Revises: s0003_dynamic_registration
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 's0004_course_copy'
down_revision: str | None = 's0003_dynamic_registration'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'sandbox_courses',
        sa.Column('history', sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )
    op.add_column(
        'sandbox_tools',
        sa.Column('custom', sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )


def downgrade() -> None:
    with op.batch_alter_table('sandbox_tools') as batch:
        batch.drop_column('custom')
    with op.batch_alter_table('sandbox_courses') as batch:
        batch.drop_column('history')
