"""sandbox dynamic registration: a tool's state, how it was registered, its request

Revision ID: s0003_dynamic_registration
Revises: s0002
Create Date: 2026-12-03

Moodle's dynamically registered tool is "pending" until the admin activates it; the tool's
registration request is kept to show what it asked for.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 's0003_dynamic_registration'
down_revision: str | None = 's0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'sandbox_tools',
        sa.Column('state', sa.String(length=20), nullable=False, server_default='active'),
    )
    op.add_column(
        'sandbox_tools',
        sa.Column('registered_by', sa.String(length=20), nullable=False, server_default='manual'),
    )
    op.add_column('sandbox_tools', sa.Column('registration', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sandbox_tools') as batch:
        batch.drop_column('registration')
        batch.drop_column('registered_by')
        batch.drop_column('state')
