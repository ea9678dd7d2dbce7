"""Picking the course's scale: one click on the methods page puts every competency on it,
and every level picker (ratings, goals) and the student's pages speak its words."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from lti_tool.models.mastery import Competency, MasteryState, Scale
from tests.integration.test_learner_pages import _launch, _text
from tests.integration.test_loop import setup_course
from tests.lms import forms, people

pytestmark = pytest.mark.postgres


def test_a_preset_scale_is_used_everywhere(live_server) -> None:
    rt = live_server.rt
    setup_course(live_server, "canvas")
    with rt.session_factory() as s:
        teacher = people(s, "canvas")["teacher"][0]
    browser, base = _launch(live_server, "canvas", teacher.name)
    origin = base.split("/c/")[0]
    page = browser.get(f"{base}/setup/methods")
    assert page.status_code == 200 and "Levels for every competency" in page.text
    form = next(f for f in forms(page.text) if f["action"].endswith("/setup/scale"))
    refused = browser.post(origin + form["action"], {**form["fields"], "preset": "nine"})
    assert refused.status_code == 422 and "Pick one of the scales." in refused.text

    done = browser.post(origin + form["action"], {**form["fields"], "preset": "ladder"})
    text = _text(done.text)
    assert "now uses the scale A ladder students know" in text
    assert re.search(r"<strong>Proficient 3</strong>", done.text), "the mastery level, marked"
    # the module's rule named "Mastery": it follows to the new scale's mastery level
    assert "reach Proficient in Equivalent fractions" in _text(
        browser.get(f"{base}/setup/modules").text
    )
    with rt.session_factory() as s:
        comp = s.scalars(select(Competency)).one()
        scale = s.get(Scale, comp.scale_id)
        assert [lv["name"] for lv in scale.levels][:2] == ["Mastered", "Proficient"]
        ava_id = s.scalar(select(MasteryState.user_id).limit(1))
    # the teacher rates in the course's words, and the student reads them
    from lti_tool.models.course import User

    with rt.session_factory() as s:
        ava_id = s.scalar(select(User.id).where(User.name == "Ava Adams"))
    student_page = browser.get(f"{base}/class/students/{ava_id}")
    assert "<option>Proficient</option>" in student_page.text
    rating = next(f for f in forms(student_page.text) if f["action"].endswith("/rating"))
    saved = browser.post(
        origin + rating["action"],
        {**rating["fields"], "competency_id": str(comp.id), "level": "Proficient", "note": ""},
    )
    assert "Rating saved." in _text(saved.text)
    student, student_base = _launch(live_server, "canvas", "Ava Adams")
    profile = _text(student.get(f"{student_base}/profile").text)
    assert "Proficient" in profile and "(mastered)" in profile
    assert "Adding fractions" in _text(student.get(f"{student_base}/path").text)


def test_switching_the_scale_after_ratings_and_grades_posts_scores_within_the_new_top(
    live_server,
) -> None:
    """Issue 10, item 13: a rating of 3 (Mastery) on Canvas' scale and a grade of 8/10, then the
    "three steps" preset. Evidence is read again on the new scale, proportionally (3 of 4 is
    1.5 of 2, Developing; 8/10 is 1.6 of 2), and no score leaves above its column's maximum."""
    from lti_tool.jobs.grades import sync_course_grades
    from lti_tool.jobs.passback import drain
    from lti_tool.models.course import User
    from lti_tool.models.grading import ScoreOutbox
    from lti_tool.sandbox.models import SandboxLineItem, SandboxResult, SandboxUser
    from tests.integration.test_loop import type_grade

    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "canvas")
    type_grade(live_server, "canvas", "Ben Brooks", 8)
    sync_course_grades(rt, context_id, post=False)
    with rt.session_factory() as s:
        teacher = people(s, "canvas")["teacher"][0]
        ava = s.scalar(select(User).where(User.name == "Ava Adams"))
        ben = s.scalar(select(User).where(User.name == "Ben Brooks"))
    browser, base = _launch(live_server, "canvas", teacher.name)
    origin = base.split("/c/")[0]
    student_page = browser.get(f"{base}/class/students/{ava.id}")
    rating = next(f for f in forms(student_page.text) if f["action"].endswith("/rating"))
    saved = browser.post(
        origin + rating["action"],
        {**rating["fields"], "competency_id": str(comp_id), "level": "Mastery", "note": ""},
    )
    assert "Rating saved." in _text(saved.text)
    drain(rt, context_id)

    page = browser.get(f"{base}/setup/methods")
    form = next(f for f in forms(page.text) if f["action"].endswith("/setup/scale"))
    done = browser.post(origin + form["action"], {**form["fields"], "preset": "three"})
    assert "now uses the scale Three steps" in _text(done.text)

    with rt.session_factory() as s:
        states = {
            m.user_id: (m.score, m.level, m.mastered) for m in s.scalars(select(MasteryState))
        }
        assert states[ava.id] == (1.5, "Developing", False)
        assert states[ben.id] == (1.6, "Developing", False)
        queued = {
            o.user_id: (o.score_given, o.score_maximum) for o in s.scalars(select(ScoreOutbox))
        }
        assert queued == {ava.id: (1.5, 2.0), ben.id: (1.6, 2.0)}
    deadline = time.monotonic() + 20
    while True:  # the web process may be posting them already; else this drain does
        drain(rt, context_id)
        with rt.session_factory() as s:
            rows = list(s.scalars(select(ScoreOutbox)))
        if all(o.state == "posted" and o.posted_version == o.version for o in rows):
            break
        assert time.monotonic() < deadline, [(o.state, o.last_error) for o in rows]
        time.sleep(0.2)
    with rt.session_factory() as s:
        line = s.scalar(select(SandboxLineItem).where(SandboxLineItem.tag == "competency"))
        cells = {
            name: s.scalar(
                select(SandboxResult).where(
                    SandboxResult.line_item_id == line.id,
                    SandboxResult.user_id
                    == select(SandboxUser.id).where(SandboxUser.lti_sub == sub).scalar_subquery(),
                )
            )
            for name, sub in (("Ava", ava.sub), ("Ben", ben.sub))
        }
        for cell in cells.values():
            assert cell.score_given <= cell.score_maximum == 2.0
        assert line.score_maximum == 2.0, "the column follows the new scale's top"
    # The student reads the new scale's words for the teacher's rating.
    student, student_base = _launch(live_server, "canvas", "Ava Adams")
    profile = _text(student.get(f"{student_base}/profile").text)
    assert "Teacher rating: Developing (1.5)" in profile and "Exceeds" not in profile


def test_a_score_above_its_column_maximum_is_capped_where_it_is_queued(live_server, caplog) -> None:
    """Whatever computed it, no score leaves the outbox above its maximum: capped and logged;
    a score that is not a number at all is not queued."""
    from lti_tool.grading.outbox import queue_score
    from lti_tool.jobs.passback import drain
    from lti_tool.models.course import User
    from lti_tool.models.grading import ScoreOutbox
    from lti_tool.models.types import utcnow

    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "canvas")
    with rt.session_factory() as s:
        ava = s.scalar(select(User).where(User.name == "Ava Adams"))
        ben = s.scalar(select(User).where(User.name == "Ben Brooks"))
        with caplog.at_level("WARNING", logger="lti_tool.grading.outbox"):
            assert queue_score(s, context_id, ava.id, comp_id, 3.0, 2.0, utcnow())
            assert not queue_score(s, context_id, ben.id, comp_id, float("nan"), 2.0, utcnow())
        s.commit()
        queued = [
            (o.user_id, o.score_given, o.score_maximum) for o in s.scalars(select(ScoreOutbox))
        ]
    assert queued == [(ava.id, 2.0, 2.0)]
    assert "3 is above its column's maximum 2" in caplog.text
    assert drain(rt, context_id).posted == 1
