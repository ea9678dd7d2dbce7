"""The mastery loop end to end against the sandbox over HTTP: the LMS teacher types a grade,
a sync reads it, the student's mastery and unlocks change, and the competency column in the
LMS gradebook shows the new value, once; renamed and deleted columns are handled."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from lti_tool.clients import ags
from lti_tool.clients.lti_services import caller_for
from lti_tool.jobs.grades import sync_course_grades
from lti_tool.jobs.passback import drain
from lti_tool.models.course import Context, User
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import (
    Alignment,
    AuditEntry,
    Competency,
    CourseLineItem,
    MasteryState,
    UnlockState,
)
from lti_tool.models.modules import Module
from lti_tool.sandbox.gradebook import set_grade
from lti_tool.sandbox.models import SandboxLineItem, SandboxResult
from lti_tool.services.roster import sync_roster
from tests.lms import Browser, course_and_link, launch_as, people

pytestmark = pytest.mark.postgres


def setup_course(live_server, slug: str):
    """A course with one graded column aligned to a competency, and a module it unlocks."""
    rt = live_server.rt
    with rt.session_factory() as s:
        teacher = people(s, slug)["teacher"][0]
        course_id, link_id = course_and_link(s, slug)
    launch_as(Browser(), live_server.platform_url, slug, course_id, link_id, teacher.user_id)
    with rt.session_factory() as s:
        ctx = s.scalars(select(Context)).one()
        caller = caller_for(s, ctx, rt.platform_http, rt.tokens)
        sync_roster(s, caller, ctx, 50)
        s.commit()
        quiz = ags.create_lineitem(
            caller,
            ctx.lineitems_url,
            {"label": "Quiz 1", "scoreMaximum": 10, "resourceId": "quiz-1", "tag": "quiz"},
        )
        comp = Competency(
            context_id=ctx.id,
            code="FRAC-1",
            title="Equivalent fractions",
            method={"method": "latest"},
        )
        s.add(comp)
        s.flush()
        s.add(
            Module(
                context_id=ctx.id,
                title="Adding fractions",
                unlock_rule={"rule": {"competency": "FRAC-1", "level": "Mastery"}},
            )
        )
        s.commit()
        # the first sync learns the course's columns; align the quiz, as setup will
        sync_course_grades(rt, ctx.id, post=False)
        with rt.session_factory() as s2:
            column = s2.scalar(select(CourseLineItem).where(CourseLineItem.url == quiz["id"]))
            s2.add(Alignment(context_id=ctx.id, competency_id=comp.id, line_item_id=column.id))
            s2.commit()
        return ctx.id, comp.id, course_id


def type_grade(live_server, slug: str, student_name: str, points: float) -> None:
    with live_server.rt.session_factory() as s:
        person = next(p for p in people(s, slug)["student"] if p.name == student_name)
        line = s.scalar(select(SandboxLineItem).where(SandboxLineItem.label == "Quiz 1"))
        set_grade(s, line.id, person.user_id, points)
        s.commit()


def competency_cell(live_server, student_name: str) -> tuple[float | None, int, str]:
    with live_server.rt.session_factory() as s:
        line = s.scalar(select(SandboxLineItem).where(SandboxLineItem.tag == "competency"))
        assert line is not None, "no competency column in the LMS gradebook"
        sub = s.scalar(select(User.sub).where(User.name == student_name))
        from lti_tool.sandbox.models import SandboxUser

        user = s.scalar(select(SandboxUser).where(SandboxUser.lti_sub == sub))
        result = s.scalar(
            select(SandboxResult).where(
                SandboxResult.line_item_id == line.id, SandboxResult.user_id == user.id
            )
        )
        return (result.score_given if result else None, result.posts if result else 0, line.label)


@pytest.mark.parametrize("slug", ["canvas", "moodle"])
def test_grade_typed_in_lms_reaches_mastery_unlock_and_competency_column(
    live_server, slug: str
) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, slug)
    type_grade(live_server, slug, "Ava Adams", 8)  # 8/10 = 80% = 3.2 on the 0-4 scale

    pull, recomputed = sync_course_grades(rt, context_id, post=False)
    assert pull.added == 1 and recomputed.mastery_changed == 1 and recomputed.scores_queued == 1
    with rt.session_factory() as s:
        ava = s.scalar(select(User).where(User.name == "Ava Adams"))
        state = s.scalar(select(MasteryState).where(MasteryState.user_id == ava.id))
        assert state.score == pytest.approx(3.2) and state.level == "Mastery" and state.mastered
        unlock = s.scalar(select(UnlockState).where(UnlockState.user_id == ava.id))
        assert unlock.status == "unlocked"
        others = s.scalars(select(UnlockState.status).where(UnlockState.user_id != ava.id)).all()
        assert set(others) == {"locked"}
        audit = s.scalars(select(AuditEntry).where(AuditEntry.user_id == ava.id)).all()
        kinds = {a.kind for a in audit}
        assert {"mastery", "unlock"} <= kinds
        unlock_entry = next(a for a in audit if a.kind == "unlock")
        assert unlock_entry.detail["cause"]["evidence"][0]["column"] == "Quiz 1"

    done = drain(rt, context_id)
    assert done.posted == 1
    score, posts, label = competency_cell(live_server, "Ava Adams")
    assert (
        score == pytest.approx(3.2) and posts == 1 and label == "Competency: Equivalent fractions"
    )

    # nothing new: nothing recomputed, nothing posted again
    pull, recomputed = sync_course_grades(rt, context_id, post=False)
    assert not pull.any_change and recomputed.scores_queued == 0
    assert drain(rt, context_id).posted == 0
    assert competency_cell(live_server, "Ava Adams")[1] == 1

    # a lowered grade locks the module again (re-evaluated rule) and posts the new score
    type_grade(live_server, slug, "Ava Adams", 5)
    sync_course_grades(rt, context_id, post=False)
    drain(rt, context_id)
    with rt.session_factory() as s:
        ava = s.scalar(select(User).where(User.name == "Ava Adams"))
        assert s.scalar(select(UnlockState.status).where(UnlockState.user_id == ava.id)) == "locked"
    score, posts, _ = competency_cell(live_server, "Ava Adams")
    assert score == pytest.approx(2.0) and posts == 2


def test_renamed_competency_renames_its_column_and_a_deleted_column_comes_back(live_server) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "moodle")
    type_grade(live_server, "moodle", "Ben Brooks", 10)
    sync_course_grades(rt, context_id, post=False)
    assert drain(rt, context_id).posted == 1
    with rt.session_factory() as s:
        s.get(Competency, comp_id).title = "Equivalent fractions (renamed)"
        # a new value to post, so the worker visits the column
        row = s.scalar(select(ScoreOutbox))
        row.score_given, row.version, row.state = 3.9, row.version + 1, "pending"
        s.commit()
    assert drain(rt, context_id).posted == 1
    score, _, label = competency_cell(live_server, "Ben Brooks")
    assert label == "Competency: Equivalent fractions (renamed)" and score == pytest.approx(3.9)
    with rt.session_factory() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(SandboxLineItem)
                .where(SandboxLineItem.tag == "competency")
            )
            == 1
        )
        # the teacher deletes the column in the LMS
        line = s.scalar(select(SandboxLineItem).where(SandboxLineItem.tag == "competency"))
        s.execute(delete(SandboxResult).where(SandboxResult.line_item_id == line.id))
        s.delete(line)
        row = s.scalar(select(ScoreOutbox))
        row.score_given, row.version, row.state = 3.5, row.version + 1, "pending"
        s.commit()
    assert drain(rt, context_id).posted == 1
    score, posts, label = competency_cell(live_server, "Ben Brooks")
    assert score == pytest.approx(3.5) and posts == 1 and label.startswith("Competency:")
