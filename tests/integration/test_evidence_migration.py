"""Migration 0005 keeps existing evidence meaning what it meant: a rating stored as points on
its competency's scale becomes those points out of that scale's top, a grade keeps its points
and maximum, and the downgrade gives back the converted score."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.orm import Session

from lti_tool import migrate
from lti_tool.db import make_engine
from lti_tool.models.course import User
from lti_tool.models.mastery import Competency, CourseLineItem, Scale
from lti_tool.models.model_version import UNVERSIONED
from lti_tool.models.types import UTCDateTime, utcnow

pytestmark = pytest.mark.postgres

THREE_STEPS = [
    {"name": "Secure", "points": 2, "color": "#0B874B", "mastery": True},
    {"name": "Developing", "points": 1, "color": "#FAB901", "mastery": False},
    {"name": "Not yet", "points": 0, "color": "#E0061F", "mastery": False},
]


@dataclass(frozen=True)
class OldCourse:
    id: int
    registration_id: int


def _insert(s: Session, table: str, **values: object) -> int:
    """One row written with the columns named only: later columns (and the models that know
    them) do not exist yet at the revision a migration test starts from."""
    types = {"ags_scopes": sa.JSON(), "created_at": UTCDateTime(), "updated_at": UTCDateTime()}
    types["first_seen_at"] = UTCDateTime()
    t = sa.table(table, sa.column("id"), *(sa.column(n, types.get(n)) for n in values))
    return int(s.execute(t.insert().values(**values).returning(t.c.id)).scalar_one())


def a_course(s: Session) -> OldCourse:
    """A registration, deployment and course, as a migration test's starting rows."""
    now = utcnow()
    reg = _insert(
        s,
        "registrations",
        uuid=str(uuid.uuid4()),
        name="",
        issuer="https://lms.example",
        client_id="c1",
        auth_login_url="https://lms.example/auth",
        auth_token_url="https://lms.example/token",
        key_set_url="https://lms.example/jwks",
        platform_family="other",
        created_at=now,
    )
    dep = _insert(
        s, "deployments", registration_id=reg, deployment_id="d1", allowed=True, first_seen_at=now
    )
    ctx = _insert(
        s,
        "contexts",
        registration_id=reg,
        deployment_id=dep,
        context_id="c",
        title="C",
        label="",
        ags_scopes=[],
        updated_at=now,
    )
    return OldCourse(ctx, reg)


def _insert_as_of_then(session: Session, model: Any, **given: Any) -> int:
    """A row written with only the columns the table has at this revision, the others'
    values as today's model would fill them; returns its id."""
    conn = session.connection()
    there = {c["name"] for c in sa.inspect(conn).get_columns(model.__tablename__)}
    columns = [c for c in model.__table__.columns if c.name in there and c.name != "id"]
    values = {}
    for column in columns:
        if column.name in given:
            values[column.name] = given[column.name]
        elif column.default is not None and column.default.is_scalar:
            values[column.name] = column.default.arg
        elif column.default is not None and column.default.is_callable:
            values[column.name] = column.default.arg(None)
    table = sa.table(model.__tablename__, *(sa.column(c.name, c.type) for c in columns))
    conn.execute(table.insert().values(**values))
    return conn.execute(
        sa.select(sa.func.max(sa.column("id"))).select_from(sa.table(model.__tablename__))
    ).scalar_one()


def test_existing_ratings_and_grades_keep_their_meaning(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine, "0004")
    # today's models on the schema of 0004: no model version to bump yet
    with Session(engine, info={UNVERSIONED: True}) as s:
        ctx = a_course(s)
        reg_id = ctx.registration_id
        s.flush()
        user = User(registration_id=reg_id, sub="ava")
        column = CourseLineItem(context_id=ctx.id, url="https://lms/li/1", url_hash="h")
        s.add_all([user, column])
        s.flush()
        # Scales and competencies have columns 0004 did not (course copy's): their rows are
        # written with 0004's columns only, each filled as today's model fills it.
        three = _insert_as_of_then(
            s, Scale, context_id=ctx.id, name="Three steps", levels=THREE_STEPS
        )
        canvas = _insert_as_of_then(s, Competency, context_id=ctx.id, code="A", title="A")
        stepped = _insert_as_of_then(
            s, Competency, context_id=ctx.id, code="B", title="B", scale_id=three
        )
        s.commit()
        ids = (ctx.id, user.id, canvas, stepped, column.id)
    ctx_id, user_id, canvas_id, stepped_id, column_id = ids
    old = sa.table(
        "evidence",
        *(
            sa.column(n)
            for n in (
                "id",
                "context_id",
                "user_id",
                "competency_id",
                "source",
                "source_key",
                "line_item_id",
                "score",
                "raw_score",
                "raw_maximum",
                "graded_at",
                "note",
                "updated_at",
            )
        ),
    )
    now = utcnow()
    rows = [
        # (id, competency, source, line item, score on the scale, raw points, raw maximum)
        (1, canvas_id, "rating", None, 3.0, None, None),
        (2, stepped_id, "rating", None, 1.0, None, None),
        (3, canvas_id, "ags", column_id, 3.2, 8.0, 10.0),
        (4, stepped_id, "ags", column_id, 0.0, -5.0, 10.0),  # counted as 0 before
    ]
    with engine.begin() as conn:
        for id_, comp, source, li, score, raw, maximum in rows:
            conn.execute(
                old.insert().values(
                    id=id_,
                    context_id=ctx_id,
                    user_id=user_id,
                    competency_id=comp,
                    source=source,
                    source_key=f"{source}:{id_}",
                    line_item_id=li,
                    score=score,
                    raw_score=raw,
                    raw_maximum=maximum,
                    graded_at=now,
                    note="",
                    updated_at=now,
                )
            )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        observed = conn.execute(
            text("SELECT id, raw_score, raw_maximum FROM evidence ORDER BY id")
        ).all()
        assert [tuple(r) for r in observed] == [
            (1, 3.0, 4.0),
            (2, 1.0, 2.0),
            (3, 8.0, 10.0),
            (4, 0.0, 10.0),
        ]
        assert "score" not in {c["name"] for c in sa.inspect(conn).get_columns("evidence")}
    migrate.downgrade(engine, "0004")
    with engine.connect() as conn:
        back = conn.execute(
            text("SELECT id, score, raw_score, raw_maximum FROM evidence ORDER BY id")
        ).all()
    assert [tuple(r) for r in back] == [
        (1, 3.0, None, None),
        (2, 1.0, None, None),
        (3, 3.2, 8.0, 10.0),
        (4, 0.0, 0.0, 10.0),
    ]
    engine.dispose()
