"""Moodle answers 409 to a score not newer than the grade it holds. After a lost answer that
grade is the tool's own score (posted); after a teacher typed another value in the LMS it is
not: the tool reads the result back, keeps the teacher's value and says so."""

from __future__ import annotations

import html
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from lti_tool.jobs.passback import drain
from lti_tool.models.course import User
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import AuditEntry, Competency
from lti_tool.models.types import utcnow
from lti_tool.sandbox.gradebook import set_grade
from lti_tool.sandbox.models import SandboxLineItem
from lti_tool.services.evidence import add_rating
from lti_tool.services.recompute import recompute_course
from tests.integration.test_class_view import _form, _teacher_launch
from tests.integration.test_learner_pages import _text
from tests.integration.test_loop import competency_cell, setup_course
from tests.lms import people

pytestmark = pytest.mark.postgres


def _rate(rt, context_id: int, comp_id: int, name: str, points: float) -> None:
    with rt.session_factory() as s:
        user = s.scalar(select(User).where(User.name == name))
        add_rating(s, context_id, s.get(Competency, comp_id), user.id, points, "", None)
        recompute_course(s, context_id, {"kind": "rating"}, only={user.id})
        s.commit()


def _type_in_competency_column(live_server, name: str, points: float, ahead: float) -> None:
    """A teacher edits the cell in the LMS; its clock (or the same second) puts the edit
    `ahead` seconds after what the tool will stamp next."""
    with live_server.rt.session_factory() as s:
        person = next(p for p in people(s, "moodle")["student"] if p.name == name)
        line = s.scalar(select(SandboxLineItem).where(SandboxLineItem.tag == "competency"))
        set_grade(s, line.id, person.user_id, points, now=utcnow() + timedelta(seconds=ahead))
        s.commit()


def test_a_409_for_our_own_score_counts_as_posted(live_server) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "moodle")
    _rate(rt, context_id, comp_id, "Ava Adams", 2.0)
    assert drain(rt, context_id).posted == 1
    _rate(rt, context_id, comp_id, "Ava Adams", 3.0)
    # the LMS already holds 3.0, stamped later: what a retry after a lost answer meets
    _type_in_competency_column(live_server, "Ava Adams", 3.0, ahead=30)
    done = drain(rt, context_id)
    assert done.posted == 1 and done.changed == 0
    with rt.session_factory() as s:
        row = s.scalars(select(ScoreOutbox)).one()
        assert row.state == "posted" and row.posted_version == row.version


def test_a_409_over_a_value_a_teacher_typed_keeps_it_and_says_so(live_server) -> None:
    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "moodle")
    _rate(rt, context_id, comp_id, "Ava Adams", 3.0)
    assert drain(rt, context_id).posted == 1
    _type_in_competency_column(live_server, "Ava Adams", 1.5, ahead=2)
    _rate(rt, context_id, comp_id, "Ava Adams", 4.0)
    done = drain(rt, context_id)
    assert done.changed == 1 and done.posted == 0
    assert competency_cell(live_server, "Ava Adams")[0] == 1.5, "the teacher's value stays"
    with rt.session_factory() as s:
        row = s.scalars(select(ScoreOutbox)).one()
        assert row.state == "changed"
        assert "1.5 of 4" in row.last_error and "4 of 4" in row.last_error
        entry = s.scalar(select(AuditEntry).where(AuditEntry.kind == "score_changed_in_lms"))
        assert entry is not None and entry.detail["lms_score"] == 1.5
    # the same value computed again is not pushed over the teacher's
    with rt.session_factory() as s:
        assert recompute_course(s, context_id, {"kind": "recompute"}).scores_queued == 0
        s.commit()

    browser, base = _teacher_launch(live_server, "moodle")
    page = browser.get(f"{base}/class")
    text = html.unescape(_text(page.text))
    assert "1 changed in the LMS" in text
    assert "Changed in the LMS" in text and "Ava Adams Equivalent fractions" in text
    assert "it shows 1.5 of 4; the tool's score is 4 of 4" in text
    with rt.session_factory() as s:
        ava = s.scalar(select(User.id).where(User.name == "Ava Adams"))
    history = html.unescape(_text(browser.get(f"{base}/class/students/{ava}").text))
    assert (
        "Gradebook: FRAC-1 changed in the LMS to 1.5 of 4; kept there "
        "(the tool's 4 of 4 was not posted)" in history
    )
    # "Post ours" once the teacher's edit is in the past: the tool's value goes in
    time.sleep(3.1)
    form = _form(page.text, "/passback/retry")
    done_page = browser.post(base.split("/c/")[0] + form["action"], form["fields"])
    assert done_page.status_code == 200
    rt.jobs.wait()
    assert competency_cell(live_server, "Ava Adams")[0] == 4.0
    with rt.session_factory() as s:
        assert s.scalars(select(ScoreOutbox.state)).one() == "posted"
