"""The teacher's class view: the heatmap, unlock counts, filters, the drill-down with its
history, overrides with a reason, ratings, passback status with retry, sync and export."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from lti_tool.jobs.grades import sync_course_grades
from lti_tool.models.course import Membership, User
from lti_tool.models.grading import ScoreOutbox
from lti_tool.models.mastery import AuditEntry, Override, UnlockState
from lti_tool.models.modules import Module
from lti_tool.models.types import utcnow
from lti_tool.services.class_view import text_colour
from tests.integration.test_learner_pages import _launch, _text
from tests.integration.test_loop import competency_cell, setup_course, type_grade
from tests.lms import forms, synced_or_started

pytestmark = pytest.mark.postgres


def _teacher(live_server, slug: str):
    return _launch(live_server, slug, "Terry Teacher" if slug == "canvas" else "Terry Teacher")


def _ids(rt, name: str) -> tuple[int, int]:
    with rt.session_factory() as s:
        user_id = s.scalar(select(User.id).where(User.name == name))
        module_id = s.scalar(select(Module.id).where(Module.title == "Adding fractions"))
    return user_id, module_id


def _form(page_text: str, action_end: str) -> dict:
    return next(f for f in forms(page_text) if f["action"].endswith(action_end))


def test_heatmap_shows_levels_in_words_and_unlock_counts(live_server) -> None:
    rt = live_server.rt
    context_id, _, _ = setup_course(live_server, "canvas")
    type_grade(live_server, "canvas", "Ava Adams", 9)
    sync_course_grades(rt, context_id, post=False)
    browser, base = _teacher_launch(live_server, "canvas")
    page = browser.get(f"{base}/class")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Equivalent fractions" in text
    row = re.search(r"Ava Adams.*?</tr>", page.text, re.S).group(0)
    assert "Mastery" in row and "3.6" in row  # level in words, not colour alone
    # ...and the colour from the course's level stylesheet (the CSP allows no inline style)
    css_class = re.search(r'class="cell (lv-d-\d+)"', row).group(1)
    sheet = browser.get(f"{base}/levels.css")
    assert sheet.headers["Content-Type"].startswith("text/css")
    assert f".{css_class} {{ background: #0B874B; color: #ffffff; }}" in sheet.text
    assert "No evidence" in page.text  # the others
    with rt.session_factory() as s:
        students = s.scalar(select(Membership.id).where(Membership.role == "student").limit(1))
        assert students is not None
    counts = re.search(r"<th scope=\"row\">Adding fractions</th>(.*?)</tr>", page.text, re.S)
    cells = re.findall(r"<td>(\d+)</td>", counts.group(1))
    assert cells[1] == "1" and int(cells[0]) >= 20  # one open, the rest locked

    export = browser.get(f"{base}/class.csv")
    assert export.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][:4] == ["student", "status", "FRAC-1 score", "FRAC-1 level"]
    ava = next(r for r in rows if r[0] == "Ava Adams")
    assert ava[2] == "3.6" and ava[3] == "Mastery" and ava[-1] == "unlocked"


def _teacher_launch(live_server, slug: str):
    from tests.lms import people

    with live_server.rt.session_factory() as s:
        teacher = people(s, slug)["teacher"][0]
    return _launch(live_server, slug, teacher.name)


def test_override_with_a_reason_unlocks_and_lands_in_the_history(live_server) -> None:
    rt = live_server.rt
    setup_course(live_server, "moodle")
    browser, base = _teacher_launch(live_server, "moodle")
    ava, module_id = _ids(rt, "Ava Adams")
    page = browser.get(f"{base}/class/students/{ava}")
    assert page.status_code == 200 and "Locked" in page.text
    form = _form(page.text, "/override")
    origin = base.split("/c/")[0]
    missing = browser.post(
        origin + form["action"],
        {**form["fields"], "module_id": str(module_id), "kind": "unlock", "reason": "  "},
    )
    assert missing.status_code == 400 and "Say why" in missing.text
    with rt.session_factory() as s:
        assert s.scalars(select(Override)).all() == []
    done = browser.post(
        origin + form["action"],
        {
            **form["fields"],
            "module_id": str(module_id),
            "kind": "unlock",
            "reason": "Showed it in class on Tuesday",
        },
    )
    text = _text(done.text)
    assert "Unlock saved" in text
    assert "Unlocked: the teacher unlocked this module for Ava Adams." in text
    assert "Override unlock on Adding fractions by" in text and "Showed it in class" in text
    with rt.session_factory() as s:
        state = s.scalar(select(UnlockState).where(UnlockState.user_id == ava))
        assert state.status == "unlocked"
        assert s.scalar(select(AuditEntry.kind).where(AuditEntry.kind == "override")) is not None
    # the student sees it at their next click
    student, student_base = _launch(live_server, "moodle", "Ava Adams")
    assert "your teacher unlocked this module" in _text(student.get(f"{student_base}/path").text)
    # cleared: back to the rule
    clear = _form(done.text, f"/override/{module_id}/clear")
    cleared = browser.post(origin + clear["action"], clear["fields"])
    assert "Override cleared" in cleared.text
    assert "Locked: the condition below is not met yet." in _text(cleared.text)


def test_rating_and_quick_grid_reach_mastery(live_server) -> None:
    rt = live_server.rt
    setup_course(live_server, "canvas")
    browser, base = _teacher_launch(live_server, "canvas")
    origin = base.split("/c/")[0]
    ava, _ = _ids(rt, "Ava Adams")
    page = browser.get(f"{base}/class/students/{ava}")
    form = _form(page.text, "/rating")
    comp_id = re.search(r'<option value="(\d+)">Equivalent fractions', page.text).group(1)
    rated = browser.post(
        origin + form["action"],
        {**form["fields"], "competency_id": comp_id, "level": "Exceeds Mastery", "note": "oral"},
    )
    text = _text(rated.text)
    assert "Rating saved." in text and "Teacher rating" in text and "“oral”" in text
    assert "Exceeds Mastery" in text

    grid_page = browser.get(f"{base}/class")
    grid = _form(grid_page.text, "/class/ratings")
    level_fields = [k for k in re.findall(r'name="(level_\d+)"', grid_page.text)]
    assert len(level_fields) >= 20
    saved = browser.post(
        origin + grid["action"],
        {
            "csrf_token": grid["fields"]["csrf_token"],
            "competency_id": re.search(
                r'<option value="(\d+)">Equivalent fractions', grid_page.text
            ).group(1),
            level_fields[1]: "Mastery",
            level_fields[2]: "Near Mastery",
        },
    )
    assert "2 ratings saved." in _text(saved.text)
    assert _text(saved.text).count("Near Mastery") >= 1


def test_failed_post_is_shown_with_its_reason_and_retried(live_server) -> None:
    rt = live_server.rt
    context_id, _, _ = setup_course(live_server, "canvas")
    type_grade(live_server, "canvas", "Ava Adams", 9)
    sync_course_grades(rt, context_id, post=False)
    with rt.session_factory() as s:
        s.execute(
            update(ScoreOutbox).values(state="failed", last_error="not a student of the course")
        )
        s.commit()
    browser, base = _teacher_launch(live_server, "canvas")
    page = browser.get(f"{base}/class")
    assert "1 failed" in _text(page.text) and "not a student of the course" in page.text
    retry = next(f for f in forms(page.text) if "row_id" in f["fields"])
    done = browser.post(base.split("/c/")[0] + retry["action"], retry["fields"])
    assert "1 score sent again to the gradebook." in _text(done.text)
    rt.jobs.wait()
    assert competency_cell(live_server, "Ava Adams")[0] == pytest.approx(3.6)


def test_sync_now_reads_new_grades_and_stuck_filter(live_server) -> None:
    rt = live_server.rt
    setup_course(live_server, "moodle")
    type_grade(live_server, "moodle", "Ava Adams", 9)
    browser, base = _teacher_launch(live_server, "moodle")
    page = browser.get(f"{base}/class")
    done = browser.post(
        base.split("/c/")[0] + _form(page.text, "/class/sync")["action"],
        _form(page.text, "/class/sync")["fields"],
    )
    assert synced_or_started(done.text)  # a job now: it may have finished already
    rt.jobs.wait()
    synced = _text(browser.get(f"{base}/class").text)
    assert "Synced" in synced and "1 new" in synced
    # locked for ten days with nothing new: stuck
    with rt.session_factory() as s:
        s.execute(update(UnlockState).values(since=utcnow() - timedelta(days=10)))
        s.commit()
    stuck = _text(browser.get(f"{base}/class?stuck=1&days=7").text)
    assert "Ava Adams" not in stuck  # she has fresh evidence and an open module
    assert "Stuck" in stuck


def test_class_urls_refuse_a_student(live_server) -> None:
    setup_course(live_server, "canvas")
    browser, base = _launch(live_server, "canvas", "Ava Adams")
    for url in ("/class", "/class.csv", "/class/students/1"):
        assert browser.get(base + url).status_code == 403, url
    assert browser.post(base + "/class/recompute", {}).status_code in (400, 403)


def test_level_text_is_readable_on_its_colour() -> None:
    assert text_colour("#FAB901") == "#1b1b1b"  # Near Mastery yellow: dark text
    assert text_colour("#0374B5") == "#ffffff"


def test_teacher_suggests_a_goal_the_student_sees(live_server) -> None:
    rt = live_server.rt
    setup_course(live_server, "canvas")
    browser, base = _teacher_launch(live_server, "canvas")
    origin = base.split("/c/")[0]
    ava, module_id = _ids(rt, "Ava Adams")
    page = browser.get(f"{base}/class/students/{ava}")
    form = _form(page.text, "/goal")
    bad = browser.post(
        origin + form["action"],
        {**form["fields"], "target": f"module:{module_id}", "due": "soon"},
    )
    assert bad.status_code == 400 and "is not a date like 2026-12-31" in bad.text
    done = browser.post(
        origin + form["action"],
        {**form["fields"], "target": f"module:{module_id}", "due": "2026-12-18"},
    )
    assert "Goal suggested" in _text(done.text)
    student, student_base = _launch(live_server, "canvas", "Ava Adams")
    profile = _text(student.get(f"{student_base}/profile").text)
    assert "Complete Adding fractions" in profile and "Suggested by your teacher" in profile


def test_class_view_says_how_long_scores_wait_and_posts_them_now(live_server) -> None:
    """Scores held back by retries after LMS failures: the teacher sees how long they have
    waited (students gated by them wait as long) and sends them now."""
    from lti_tool.grading.outbox import queue_score

    rt = live_server.rt
    context_id, comp_id, _ = setup_course(live_server, "moodle")
    ava, _ = _ids(rt, "Ava Adams")
    with rt.session_factory() as s:
        queue_score(s, context_id, ava, comp_id, 3.5, 4.0, utcnow())
        s.execute(
            update(ScoreOutbox).values(
                updated_at=utcnow() - timedelta(minutes=41),
                next_attempt_at=utcnow() + timedelta(minutes=20),
                attempts=6,
                last_error="the platform answered 503",
            )
        )
        s.commit()
    browser, base = _teacher_launch(live_server, "moodle")
    page = browser.get(f"{base}/class")
    text = _text(page.text)
    assert "1 score has been waiting for the gradebook for 41 minutes" in text
    form = _form(page.text, "/passback/post-now")
    done = browser.post(base.split("/c/")[0] + form["action"], form["fields"])
    assert "1 waiting score is being posted now." in _text(done.text)
    rt.jobs.wait()
    assert competency_cell(live_server, "Ava Adams")[0] == 3.5
    after = _text(browser.get(f"{base}/class").text)
    assert "been waiting" not in after and "1 posted, 0 waiting" in after


def test_a_quick_grid_with_one_wrong_level_saves_none(live_server) -> None:
    """All or nothing: the teacher fixes the one level and saves again, no half-saved grid."""
    from lti_tool.models.mastery import Evidence

    rt = live_server.rt
    setup_course(live_server, "canvas")
    browser, base = _teacher_launch(live_server, "canvas")
    origin = base.split("/c/")[0]
    grid_page = browser.get(f"{base}/class")
    grid = _form(grid_page.text, "/class/ratings")
    level_fields = re.findall(r'name="(level_\d+)"', grid_page.text)
    comp_id = re.search(r'<option value="(\d+)">Equivalent fractions', grid_page.text).group(1)
    refused = browser.post(
        origin + grid["action"],
        {
            "csrf_token": grid["fields"]["csrf_token"],
            "competency_id": comp_id,
            level_fields[0]: "Mastery",
            level_fields[1]: "Wizard",
        },
    )
    assert "Choose a level of the scale (" in _text(refused.text)
    with rt.session_factory() as s:
        assert s.scalar(select(Evidence.id).where(Evidence.source == "rating")) is None
