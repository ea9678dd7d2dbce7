"""One odd grade in the LMS gradebook does not stop the others: a negative score, a score
above the column's maximum, a maximum of 0 and a person the tool does not know are skipped
or capped, recorded with why, and listed for the teacher; every other grade arrives."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select

from lti_tool.cli import main
from lti_tool.jobs.grades import sync_course_grades
from lti_tool.models.course import User
from lti_tool.models.grading import GradeProblem
from lti_tool.models.mastery import Alignment, Evidence, MasteryState
from lti_tool.sandbox.models import (
    SandboxEnrollment,
    SandboxLineItem,
    SandboxResult,
    SandboxUser,
)
from tests.integration.test_class_view import _form, _teacher_launch
from tests.integration.test_learner_pages import _text
from tests.integration.test_loop import setup_course, type_grade
from tests.lms import people, synced_or_started

pytestmark = pytest.mark.postgres


def _odd_gradebook(live_server, slug: str) -> None:
    """What outside testing typed into the LMS gradebook (Quiz 1 is out of 10)."""
    type_grade(live_server, slug, "Ava Adams", 8)
    type_grade(live_server, slug, "Ben Brooks", -5)
    type_grade(live_server, slug, "Chloe Chen", 12)
    type_grade(live_server, slug, "Daniel Diaz", 5)
    with live_server.rt.session_factory() as s:
        line = s.scalar(select(SandboxLineItem).where(SandboxLineItem.label == "Quiz 1"))
        daniel = next(p for p in people(s, slug)["student"] if p.name == "Daniel Diaz")
        result = s.scalar(select(SandboxResult).where(SandboxResult.user_id == daniel.user_id))
        result.score_maximum = 0.0  # Canvas reports the result's own maximum: 0
        # a student who joined after the tool's last roster sync, already graded
        course = s.scalar(
            select(SandboxEnrollment.course_id).where(SandboxEnrollment.user_id == daniel.user_id)
        )
        newcomer = SandboxUser(
            platform_id=s.get(SandboxUser, daniel.user_id).platform_id,
            lti_sub="newcomer-sub-1",
            username="newcomer",
            given_name="Nina",
            family_name="Newcomer",
            email="nina@example.test",
        )
        s.add(newcomer)
        s.flush()
        s.add(SandboxEnrollment(course_id=course, user_id=newcomer.id, role="student"))
        s.add(
            SandboxResult(
                line_item_id=line.id,
                user_id=newcomer.id,
                score_given=9.0,
                score_maximum=10.0,
                activity_progress="Completed",
                grading_progress="FullyGraded",
                timestamp=result.timestamp,
                updated_at=result.timestamp,
                posts=0,
                comment="",
            )
        )
        s.commit()


def test_bad_grades_are_skipped_capped_and_listed_while_the_rest_arrive(
    live_server, database_url, monkeypatch
) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "canvas")
    _odd_gradebook(live_server, "canvas")
    monkeypatch.setenv("LTI_TOOL_DATABASE_URL", database_url)
    monkeypatch.setenv("LTI_TOOL_LOG_LEVEL", "WARNING")
    out = CliRunner().invoke(main, ["sync", "grades", "--course", str(context_id), "--no-post"])
    assert out.exit_code == 0, out.output
    assert "2 results read" in out.output, out.output  # Ava, and Chloe at the cap
    assert "4 results not used as they are" in out.output
    assert "Quiz 1, Ben Brooks: -5: the score is below 0" in out.output

    with rt.session_factory() as s:
        level = dict(
            s.execute(
                select(User.name, MasteryState.score).join(
                    MasteryState, MasteryState.user_id == User.id
                )
            ).all()
        )
        assert level["Ava Adams"] == pytest.approx(3.2)
        assert level["Chloe Chen"] == pytest.approx(4.0)  # 12 of 10 counted as 10 of 10
        assert "Ben Brooks" not in level and "Daniel Diaz" not in level
        raw = s.scalars(select(Evidence.raw_score)).all()
        assert sorted(raw) == [8.0, 10.0]
        assert len(s.scalars(select(GradeProblem)).all()) == 4

    browser, base = _teacher_launch(live_server, "canvas")
    page = _text(browser.get(f"{base}/class").text)
    assert "Grades not used as they are" in page
    assert "Ben Brooks Quiz 1 -5 Not counted: the score is below 0" in page
    assert "Chloe Chen Quiz 1 12 of 10 Capped: above the maximum: counted as 10 of 10" in page
    assert "Daniel Diaz Quiz 1 5 of 0 Not counted: the maximum is 0" in page
    assert "LMS user newcomer-sub-1 Quiz 1 9 Not counted: the LMS names someone" in page

    # the teacher fixes Ben's grade in the LMS; "Sync now" counts it and drops it from the list
    type_grade(live_server, "canvas", "Ben Brooks", 7)
    page = browser.get(f"{base}/class")
    done = browser.post(
        base.split("/c/")[0] + _form(page.text, "/class/sync")["action"],
        _form(page.text, "/class/sync")["fields"],
    )
    assert done.status_code == 200 and synced_or_started(done.text)
    rt.jobs.wait()  # the sync is a job; the class page shows what it came to
    text = _text(browser.get(f"{base}/class").text)
    # the roster sync brought the newcomer in, so her grade counts too
    assert "Synced" in text and "grades: 2 new" in text
    assert "2 grades not used as they are" in text
    assert "Ben Brooks Quiz 1" not in text and "newcomer-sub-1" not in text
    with rt.session_factory() as s:
        ben = s.scalar(
            select(MasteryState.score)
            .join(User, User.id == MasteryState.user_id)
            .where(User.name == "Ben Brooks")
        )
        assert ben == pytest.approx(2.8)
        # the teacher stops counting the column: its problems leave the list
        s.execute(delete(Alignment))
        s.commit()
    sync_course_grades(rt, context_id, post=False)
    assert "Grades not used as they are" not in _text(browser.get(f"{base}/class").text)


def test_sync_now_never_answers_a_raw_500(live_server) -> None:
    """Whatever goes wrong reading the LMS, the teacher reads a sentence, not a stack."""
    from lti_tool.models.course import Context

    rt = live_server.rt
    setup_course(live_server, "moodle")
    with rt.session_factory() as s:
        ctx = s.scalars(select(Context)).one()
        ctx.lineitems_url = ctx.lineitems_url.replace("/lineitems", "/nowhere")
        s.commit()
    browser, base = _teacher_launch(live_server, "moodle")
    page = browser.get(f"{base}/class")
    done = browser.post(
        base.split("/c/")[0] + _form(page.text, "/class/sync")["action"],
        _form(page.text, "/class/sync")["fields"],
    )
    assert done.status_code == 200 and "Internal Server Error" not in _text(done.text)
    live_server.rt.jobs.wait()  # the sync is a job; the class page shows what it came to
    text = _text(browser.get(f"{base}/class").text)
    assert "Internal Server Error" not in text
    assert "grades could not be read from the LMS" in text
    assert "/nowhere" not in text  # the detail is in the log, not on the page
