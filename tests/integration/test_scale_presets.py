"""Picking the course's scale: one click on the methods page puts every competency on it,
and every level picker (ratings, goals) and the student's pages speak its words."""

from __future__ import annotations

import re

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
