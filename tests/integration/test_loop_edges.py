"""The loop's other roads: a teacher's rating in the tool, a score the LMS refuses for good
(shown with its reason, and retried on request), and recompute from the command line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from lti_tool.cli import main
from lti_tool.jobs.passback import drain
from lti_tool.models.course import User
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import AuditEntry, Competency, MasteryState
from lti_tool.sandbox.models import SandboxEnrollment
from lti_tool.services.evidence import add_rating
from lti_tool.services.recompute import recompute_course
from tests.integration.test_loop import competency_cell, setup_course
from tests.lms import people

pytestmark = pytest.mark.postgres


def test_teacher_rating_reaches_mastery_and_the_gradebook(live_server) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "canvas")
    with rt.session_factory() as s:
        teacher = s.scalar(select(User).where(User.name == "Terry Teacher"))
        chloe = s.scalar(select(User).where(User.name == "Chloe Chen"))
        add_rating(
            s,
            context_id,
            s.get(Competency, comp_id),
            chloe.id,
            4.0,
            "Explained it to the class",
            teacher.id,
        )
        result = recompute_course(s, context_id, {"kind": "rating", "by": teacher.id})
        s.commit()
        assert result.mastery_changed == 1 and result.scores_queued == 1
        state = s.scalar(select(MasteryState).where(MasteryState.user_id == chloe.id))
        assert state.level == "Exceeds Mastery"
        entry = s.scalar(select(AuditEntry).where(AuditEntry.kind == "mastery"))
        assert entry.detail["cause"] == {"kind": "rating", "by": teacher.id}
    assert drain(rt, context_id).posted == 1
    assert competency_cell(live_server, "Chloe Chen")[0] == 4.0


@pytest.mark.parametrize("slug", ["canvas", "moodle"])
def test_refused_score_is_kept_with_its_reason_and_retried_on_request(
    live_server, database_url, monkeypatch, slug
) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, slug)
    with rt.session_factory() as s:
        dan = s.scalar(select(User).where(User.name == "Daniel Diaz"))
        add_rating(s, context_id, s.get(Competency, comp_id), dan.id, 3.0, "", None)
        recompute_course(s, context_id, {"kind": "rating"})
        # the student leaves the course in the LMS before the score is posted
        person = next(p for p in people(s, slug)["student"] if p.sub == dan.sub)
        enrollment = s.scalar(
            select(SandboxEnrollment).where(SandboxEnrollment.user_id == person.user_id)
        )
        s.delete(enrollment)
        s.commit()
    done = drain(rt, context_id)
    assert done.failed == 1 and done.posted == 0
    with rt.session_factory() as s:
        row = s.scalars(select(ScoreOutbox)).one()
        assert row.state == "failed" and row.last_error
        assert s.scalar(select(AuditEntry).where(AuditEntry.kind == "score_failed")) is not None
        # back in the course: the teacher retries
        s.add(
            SandboxEnrollment(
                course_id=enrollment.course_id, user_id=person.user_id, role="student"
            )
        )
        s.commit()
    for name, value in {
        "LTI_TOOL_DATABASE_URL": database_url,
        "LTI_TOOL_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    out = CliRunner().invoke(main, ["passback", "retry", "--course", str(context_id)])
    assert out.exit_code == 0, out.output
    assert "1 scores queued again; posted 1, failed 0." in out.output
    assert competency_cell(live_server, "Daniel Diaz")[0] == 3.0


def test_recompute_command(live_server, database_url, monkeypatch) -> None:
    context_id, comp_id, _ = setup_course(live_server, "moodle")
    rt = live_server.rt
    with rt.session_factory() as s:
        ava = s.scalar(select(User).where(User.name == "Ava Adams"))
        add_rating(s, context_id, s.get(Competency, comp_id), ava.id, 2.0, "", None)
        s.commit()
    monkeypatch.setenv("LTI_TOOL_DATABASE_URL", database_url)
    out = CliRunner().invoke(main, ["recompute", "--course", str(context_id)])
    assert out.exit_code == 0 and "1 mastery and 0 unlock changes; 1 scores queued" in out.output
    again = CliRunner().invoke(main, ["recompute", "--course", str(context_id)])
    assert "0 mastery and 0 unlock changes; 0 scores queued" in again.output


def test_new_evidence_recomputes_only_its_students_unless_dates_matter(live_server) -> None:
    """The incremental update: a grade sync evaluates the students whose evidence changed;
    a course with a date condition is evaluated whole, so a passed date opens for all."""
    from sqlalchemy import update

    from lti_tool.jobs.grades import sync_course_grades
    from lti_tool.models.mastery import UnlockState
    from lti_tool.models.modules import Module
    from tests.integration.test_loop import type_grade

    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "canvas")
    type_grade(live_server, "canvas", "Ava Adams", 9)
    type_grade(live_server, "canvas", "Ben Brooks", 9)
    sync_course_grades(rt, context_id, post=False)
    with rt.session_factory() as s:
        ben = s.scalar(select(User.id).where(User.name == "Ben Brooks"))
        # a stale row for Ben, which only a whole-course recompute would notice
        s.execute(update(MasteryState).where(MasteryState.user_id == ben).values(level="Below"))
        s.commit()
    type_grade(live_server, "canvas", "Ava Adams", 10)
    pull, done = sync_course_grades(rt, context_id, post=False)
    assert pull.changed == 1 and done.changed_students == {next(iter(pull.touched))}, (
        "only Ava was evaluated"
    )
    with rt.session_factory() as s:
        assert s.scalar(select(MasteryState.level).where(MasteryState.user_id == ben)) == "Below"
        # a date condition: the course is recomputed whole at the next change
        s.execute(
            update(Module).values(
                unlock_rule={
                    "rule": {
                        "any": [
                            {"competency": "FRAC-1", "level": "Mastery"},
                            {"on_or_after": "2020-01-01T00:00:00Z"},
                        ]
                    }
                }
            )
        )
        s.commit()
    type_grade(live_server, "canvas", "Ava Adams", 8)
    sync_course_grades(rt, context_id, post=False)
    with rt.session_factory() as s:
        assert s.scalar(select(MasteryState.level).where(MasteryState.user_id == ben)) == "Mastery"
        statuses = set(s.scalars(select(UnlockState.status)).all())
        assert statuses == {"unlocked"}, "the passed date opened the module for everyone"


def test_a_placed_modules_own_column_counts_without_setup(live_server) -> None:
    """The column the LMS made when a module was placed (resourceId module:<id>) completes
    that module and is evidence of its competencies from the first sync on."""
    from lti_tool.clients import ags
    from lti_tool.clients.lti_services import caller_for
    from lti_tool.jobs.grades import sync_course_grades
    from lti_tool.models.course import Context
    from lti_tool.models.mastery import Alignment, CourseLineItem, UnlockState
    from lti_tool.models.modules import Module
    from lti_tool.sandbox.gradebook import set_grade
    from lti_tool.sandbox.models import SandboxLineItem

    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "moodle")
    with rt.session_factory() as s:
        ctx = s.get(Context, context_id)
        first = Module(context_id=context_id, title="Fraction walls", position=-1)
        s.add(first)
        s.flush()
        s.add(Alignment(context_id=context_id, competency_id=comp_id, module_id=first.id))
        gated = s.scalar(select(Module).where(Module.title == "Adding fractions"))
        gated.unlock_rule = {"rule": {"module_mastered": str(first.id)}}
        s.commit()
        caller = caller_for(s, ctx, rt.platform_http, rt.tokens)
        # what the LMS does with the lineItem of a placed link
        placed = ags.create_lineitem(
            caller,
            ctx.lineitems_url,
            {"label": "Fraction walls", "scoreMaximum": 4, "resourceId": f"module:{first.id}"},
        )
        first_id, gated_id = first.id, gated.id
        ava = people(s, "moodle")["student"][0]
        line = s.scalar(select(SandboxLineItem).where(SandboxLineItem.label == "Fraction walls"))
        set_grade(s, line.id, ava.user_id, 4)
        s.commit()
    pull, _ = sync_course_grades(rt, context_id, post=False)
    assert pull.added == 1, "the placed column's grade was read on the very first sync"
    with rt.session_factory() as s:
        module = s.get(Module, first_id)
        assert module.lineitem_url == placed["id"]
        column = s.scalar(select(CourseLineItem).where(CourseLineItem.url == placed["id"]))
        assert (
            s.scalar(select(Alignment.competency_id).where(Alignment.line_item_id == column.id))
            == comp_id
        )
        ava_id = s.scalar(select(User.id).where(User.name == "Ava Adams"))
        status = dict(
            s.execute(
                select(UnlockState.module_id, UnlockState.status).where(
                    UnlockState.user_id == ava_id
                )
            ).all()
        )
        assert status[first_id] == "mastered" and status[gated_id] == "unlocked"
