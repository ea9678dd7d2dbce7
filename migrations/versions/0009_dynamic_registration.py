"""dynamic registration (issue 14 item 1)

Admin-made registration invites (only a hash of the token is kept), and a registration's
"allow the first deployment" flag for platforms whose dynamic registration names no
deployment.

Revision ID: 0009_dynamic_registration
Revises: 0008
Create Date: 2026-12-03 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lti_tool.models.types

revision: str = '0009_dynamic_registration'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: on SQLite a batch would copy this parent table (see migrate.py).
    op.add_column(
        'registrations',
        sa.Column(
            'allow_first_deployment', sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    )
    op.create_table(
        'registration_invites',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', lti_tool.models.types.UTCDateTime(), nullable=False),
        sa.Column('expires_at', lti_tool.models.types.UTCDateTime(), nullable=False),
        sa.Column('used_at', lti_tool.models.types.UTCDateTime(), nullable=True),
        sa.Column('registration_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['registration_id'],
            ['registrations.id'],
            name=op.f('fk_registration_invites_registration_id_registrations'),
            ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_invites')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_registration_invites_token_hash')),
    )


def downgrade() -> None:
    op.drop_table('registration_invites')
    with op.batch_alter_table('registrations') as batch:
        batch.drop_column('allow_first_deployment')
