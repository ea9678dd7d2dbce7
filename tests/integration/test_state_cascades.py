"""A course's stored states and outbox rows go with whatever they hang off: the course, the
competency or module, the student. Since 0012 (decision #50) the course is reached through the
competency or module alone, as `context_id` no longer references `contexts`."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from lti_tool import migrate
from lti_tool.db import make_engine
from lti_tool.models.course import Context, User
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import Competency, MasteryState, UnlockState
from lti_tool.models.modules import Module
from lti_tool.models.platform import Deployment, Registration

pytestmark = pytest.mark.postgres

STATE_TABLES = (MasteryState, UnlockState, ScoreOutbox)
BEFORE = "0011_class_summary_cache"


def a_course(s: Session, registration: Registration, name: str, users: list[User]) -> int:
    """A course with one competency and one gated module, and for each user a mastery state,
    an unlock state and the two outbox rows (the competency's score and the module's)."""
    dep = Deployment(registration_id=registration.id, deployment_id=name, allowed=True)
    s.add(dep)
    s.flush()
    ctx = Context(registration_id=registration.id, deployment_id=dep.id, id_on_platform=name)
    s.add(ctx)
    s.flush()
    comp = Competency(context_id=ctx.id, code=f"{name}-1", title="One")
    module = Module(context_id=ctx.id, title="M", gates_lms=True)
    s.add_all([comp, module])
    s.flush()
    for u in users:
        s.add_all(
            [
                MasteryState(context_id=ctx.id, user_id=u.id, competency_id=comp.id),
                UnlockState(context_id=ctx.id, user_id=u.id, module_id=module.id, status="locked"),
                ScoreOutbox(
                    context_id=ctx.id,
                    user_id=u.id,
                    competency_id=comp.id,
                    score_given=1.0,
                    score_maximum=4.0,
                ),
                ScoreOutbox(
                    context_id=ctx.id,
                    user_id=u.id,
                    module_id=module.id,
                    score_given=0.0,
                    score_maximum=1.0,
                ),
            ]
        )
    s.flush()
    return ctx.id


def two_courses(engine: Engine) -> tuple[int, int, int, int]:
    """Courses A and B, each with students Ava and Ben: (A, B, Ava, Ben)."""
    with Session(engine) as s:
        reg = Registration(
            issuer="https://lms.example",
            client_id="c1",
            auth_login_url="https://lms.example/auth",
            auth_token_url="https://lms.example/token",
            key_set_url="https://lms.example/jwks",
        )
        s.add(reg)
        s.flush()
        ava = User(registration_id=reg.id, sub="ava", name="Ava")
        ben = User(registration_id=reg.id, sub="ben", name="Ben")
        s.add_all([ava, ben])
        s.flush()
        a = a_course(s, reg, "A", [ava, ben])
        b = a_course(s, reg, "B", [ava, ben])
        s.commit()
        return a, b, ava.id, ben.id


def left(engine: Engine) -> dict[str, list[tuple[int, int]]]:
    """Each state table's rows as (course, user), sorted."""
    with Session(engine) as s:
        return {
            model.__tablename__: sorted(
                (c, u) for c, u in s.execute(select(model.context_id, model.user_id))
            )
            for model in STATE_TABLES
        }


def every_table(rows: list[tuple[int, int]]) -> dict[str, list[tuple[int, int]]]:
    """What `left` gives when each table has these (course, user) rows: two in the outbox."""
    return {
        "mastery_states": sorted(rows),
        "unlock_states": sorted(rows),
        "score_outbox": sorted(rows * 2),
    }


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    return migrated_engine


def test_deleting_a_course_deletes_its_states_and_outbox_rows_only(engine: Engine) -> None:
    a, b, ava, ben = two_courses(engine)
    with engine.begin() as conn:
        conn.execute(delete(Context).where(Context.id == a))
    assert left(engine) == every_table([(b, ava), (b, ben)])


def test_deleting_a_competency_or_module_deletes_the_rows_that_name_it(engine: Engine) -> None:
    a, b, ava, ben = two_courses(engine)
    with engine.begin() as conn:
        conn.execute(delete(Competency).where(Competency.context_id == a))
    rows = left(engine)
    assert rows["mastery_states"] == sorted([(b, ava), (b, ben)])
    assert (
        rows["unlock_states"]
        == every_table([(a, ava), (a, ben), (b, ava), (b, ben)])["unlock_states"]
    )
    # course A keeps its module's unlock scores, B both of its rows per student
    assert rows["score_outbox"] == sorted([(a, ava), (a, ben), *[(b, ava), (b, ben)] * 2])
    with engine.begin() as conn:
        conn.execute(delete(Module).where(Module.context_id == a))
    assert left(engine) == every_table([(b, ava), (b, ben)])


def test_deleting_a_user_deletes_their_rows_in_every_course(engine: Engine) -> None:
    a, b, ava, ben = two_courses(engine)
    with engine.begin() as conn:
        conn.execute(delete(User).where(User.id == ava))
    assert left(engine) == every_table([(a, ben), (b, ben)])


def _course_keys(engine: Engine) -> set[str]:
    """The state tables whose `context_id` references `contexts`."""
    inspector = sa.inspect(engine)
    return {
        model.__tablename__
        for model in STATE_TABLES
        for fk in inspector.get_foreign_keys(model.__tablename__)
        if fk["referred_table"] == "contexts"
    }


def test_migration_0012_drops_the_course_keys_keeps_rows_and_cascades(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine, BEFORE)
    assert _course_keys(engine) == {"mastery_states", "unlock_states", "score_outbox"}
    # 0012 changes no column, so today's models write 0011's rows
    a, b, ava, ben = two_courses(engine)

    migrate.upgrade(engine)

    assert _course_keys(engine) == set()
    assert left(engine) == every_table([(a, ava), (a, ben), (b, ava), (b, ben)])
    migrate.check(engine)
    with engine.begin() as conn:
        conn.execute(delete(Context).where(Context.id == a))
    assert left(engine) == every_table([(b, ava), (b, ben)])

    migrate.downgrade(engine, BEFORE)

    assert _course_keys(engine) == {"mastery_states", "unlock_states", "score_outbox"}
    assert left(engine) == every_table([(b, ava), (b, ben)])
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Context)) == 1
    engine.dispose()
