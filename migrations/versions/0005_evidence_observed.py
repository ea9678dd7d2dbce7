"""evidence as observed (issue 10 item 13)

Evidence kept its score already converted to the competency's scale, so a scale changed later
read old points on the new scale (3 of Canvas' 4 became "3 of 2"). Now every row keeps what
was observed, points out of a maximum; the converted `score` column goes. Ratings had only the
converted score: they get the top of their competency's current scale as their maximum (the
scale they were given on, unless it was switched since; then the score tops out at 100%).
A negative grade, which counted as 0, is kept as 0 points.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 07:45:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Canvas' default scale's top, which a competency without a scale row uses.
DEFAULT_TOP = 4.0

evidence = sa.table(
    'evidence',
    sa.column('id', sa.Integer),
    sa.column('competency_id', sa.Integer),
    sa.column('score', sa.Float),
    sa.column('raw_score', sa.Float),
    sa.column('raw_maximum', sa.Float),
    sa.column('source', sa.String),
)
competencies = sa.table(
    'competencies', sa.column('id', sa.Integer), sa.column('scale_id', sa.Integer)
)
scales = sa.table('scales', sa.column('id', sa.Integer), sa.column('levels', sa.JSON))


def _tops(conn: Any) -> dict[int, float]:
    """Each competency's scale top, as the app reads it (the highest level's points)."""
    levels = {
        row.id: row.levels for row in conn.execute(sa.select(scales.c.id, scales.c.levels))
    }
    out = {}
    for row in conn.execute(sa.select(competencies.c.id, competencies.c.scale_id)):
        points = [float(lv['points']) for lv in levels.get(row.scale_id) or []]
        out[row.id] = max(points) if points and max(points) > 0 else DEFAULT_TOP
    return out


def upgrade() -> None:
    conn = op.get_bind()
    tops = _tops(conn)
    rows = conn.execute(
        sa.select(
            evidence.c.id, evidence.c.competency_id, evidence.c.score, evidence.c.raw_score,
            evidence.c.raw_maximum,
        ).where(sa.or_(evidence.c.raw_score.is_(None), evidence.c.raw_maximum.is_(None)))
    ).all()
    for row in rows:
        top = tops.get(row.competency_id, DEFAULT_TOP)
        if row.raw_score is None:  # a rating: its points on the scale, out of the scale's top
            points, maximum = row.score, top
        else:
            points, maximum = row.raw_score, top if row.raw_maximum is None else row.raw_maximum
        conn.execute(
            evidence.update()
            .where(evidence.c.id == row.id)
            .values(raw_score=points, raw_maximum=maximum)
        )
    # A negative grade was stored with its converted score clamped to 0; the engine now reads
    # the observed points and refuses negatives, so they keep the meaning they had: 0.
    conn.execute(evidence.update().where(evidence.c.raw_score < 0).values(raw_score=0.0))
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.alter_column('raw_score', existing_type=sa.Float(), nullable=False)
        batch_op.alter_column('raw_maximum', existing_type=sa.Float(), nullable=False)
        batch_op.drop_column('score')


def downgrade() -> None:
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('score', sa.Float(), nullable=True))
        batch_op.alter_column('raw_score', existing_type=sa.Float(), nullable=True)
        batch_op.alter_column('raw_maximum', existing_type=sa.Float(), nullable=True)
    conn = op.get_bind()
    tops = _tops(conn)
    rows = conn.execute(
        sa.select(
            evidence.c.id, evidence.c.competency_id, evidence.c.raw_score, evidence.c.raw_maximum,
            evidence.c.source,
        )
    ).all()
    for row in rows:
        top = tops.get(row.competency_id, DEFAULT_TOP)
        fraction = min(max(row.raw_score / row.raw_maximum, 0.0), 1.0) if row.raw_maximum else 0.0
        values: dict[str, Any] = {'score': fraction * top}
        if row.source == 'rating':  # before 0005 a rating kept only its converted score
            values.update(raw_score=None, raw_maximum=None)
        conn.execute(evidence.update().where(evidence.c.id == row.id).values(**values))
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.alter_column('score', existing_type=sa.Float(), nullable=False)
