"""module content (issue 12 item 1)

Modules get `content`, Markdown rendered and sanitised for students. The description stays as
the short plain-text summary (the LMS's link and choices show it); existing descriptions are
copied into the content as text: every ASCII punctuation mark backslash-escaped, leading
spaces dropped and line breaks kept, so an old description reads as it did and nothing in it
turns into markup.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:50:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PUNCT = re.compile(r'([!-/:-@\[-`{-~])')


def as_markdown_text(plain: str) -> str:
    """Plain text as Markdown that renders to the same words."""
    paragraphs = re.split(r'\n\s*\n', plain.replace('\r\n', '\n').strip())
    out = []
    for para in paragraphs:
        lines = [_PUNCT.sub(r'\\\1', line.strip()) for line in para.split('\n') if line.strip()]
        out.append('\\\n'.join(lines))
    return '\n\n'.join(p for p in out if p)


modules = sa.table(
    'modules', sa.column('id', sa.Integer), sa.column('description', sa.Text),
    sa.column('content', sa.Text),
)


def upgrade() -> None:
    with op.batch_alter_table('modules') as batch:
        batch.add_column(sa.Column('content', sa.Text(), nullable=False, server_default=''))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(modules.c.id, modules.c.description).where(modules.c.description != '')
    ).all()
    for row in rows:
        conn.execute(
            modules.update()
            .where(modules.c.id == row.id)
            .values(content=as_markdown_text(row.description or ''))
        )


def downgrade() -> None:
    with op.batch_alter_table('modules') as batch:
        batch.drop_column('content')
