"""What teachers and students read about gating the LMS's own content, over real HTTP from the
sandbox: the clicks for the teacher's own LMS with values computed from the real scale, the
course-total warning and its "I have done this", the module form's gating fields, the student's
"Now open in your course", and the class view's open / known to the LMS / waiting counts."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from lti_tool.jobs.grades import sync_course_grades
from lti_tool.jobs.passback import drain
from lti_tool.models.mastery import Competency, Scale
from lti_tool.models.modules import Module
from lti_tool.sandbox.models import SandboxLineItem, SandboxResult
from lti_tool.services.lms_gating import percent_text
from tests.integration.test_loop import setup_course, type_grade
from tests.integration.test_setup_pages import Teacher
from tests.integration.test_setup_pages import text as page_text
from tests.integration.test_unlock_columns import gate
from tests.lms import Browser, course_and_link, launch_as, people

pytestmark = pytest.mark.postgres


def text(page) -> str:
    """The page's words as read: no space before punctuation a closing tag left behind."""
    return re.sub(r" ([,.:;])", r"\1", page_text(page))


@pytest.mark.parametrize(
    ("points", "top", "shown"),
    [
        (3, 4, "75"),
        (4, 4, "100"),
        (2.5, 3, "83.33"),
        (1, 3, "33.33"),
        (2, 3, "66.66"),
        (7, 9, "77.77"),
    ],
)
def test_moodle_percentages_are_cut_so_a_student_at_the_level_passes(points, top, shown) -> None:
    assert percent_text(points, top) == shown
    # Moodle's test: grade × 100 / max ≥ the minimum entered
    assert points * 100 / top >= float(shown)


@pytest.mark.parametrize("slug", ["moodle", "canvas"])
def test_the_gating_page_shows_the_clicks_of_the_teachers_own_lms(live_server, slug) -> None:
    setup_course(live_server, slug)
    gate(live_server.rt)
    with live_server.rt.session_factory() as s:
        s.add(
            Scale(
                context_id=s.scalar(select(Module.context_id)),
                name="Three levels",
                levels=[
                    {"name": "Secure", "points": 3, "color": "#0B874B", "mastery": True},
                    {"name": "Working towards", "points": 2.5, "color": "#FAB901"},
                    {"name": "Started", "points": 0, "color": "#E0061F"},
                ],
            )
        )
        s.flush()
        comp = s.scalar(select(Competency))
        s.add(
            Competency(
                context_id=comp.context_id,
                code="FRAC-2",
                title="Adding fractions",
                scale_id=s.scalar(select(Scale.id)),
            )
        )
        s.commit()
    page = text(Teacher(live_server, slug).get("/setup/lms"))
    assert "Unlocked: Adding fractions" in page
    if slug == "moodle":
        assert "Restrict access → Add restriction… → Grade" in page
        assert "must be ≥ and enter 100 %" in page
        # the default 0–4 scale: Mastery at 3 of 4 is 75 %; the three-level scale's 2.5 of 3
        assert "Mastery mastery 3 of 4 75 %" in page
        assert "Working towards 2.5 of 3 83.33 %" in page
        assert "Grade Posting Policy" not in page and "score at least" not in page
    else:
        assert "Add requirement: Unlocked: Adding fractions, score at least 1" in page
        assert "Grade Posting Policy → Automatically" in page
        assert "Mastery mastery 3 of 4 3" in page
        assert "Working towards 2.5 of 3 2.5" in page
        assert "Restrict access" not in page and " % " not in page


def test_the_module_form_gates_and_refuses_a_bad_address(live_server) -> None:
    setup_course(live_server, "moodle")
    t = Teacher(live_server, "moodle")
    module_id = live_server.rt.session_factory().scalar(select(Module.id))
    form = {
        "title": "Adding fractions",
        "gates_lms": "on",
        "lms_target_title": "Quiz 3",
        "lms_target_url": "javascript:alert(1)",
    }
    refused = t.post(f"/setup/modules/{module_id}", form)
    assert refused.status_code == 422
    assert "An address starting with https:// or http://" in text(refused)
    saved = t.post(
        f"/setup/modules/{module_id}",
        {**form, "lms_target_url": "https://moodle.example/mod/quiz/view.php?id=3"},
    )
    assert saved.status_code == 200 and "Saved" in text(saved)
    assert "What to click in your LMS" in text(saved)
    live_server.rt.jobs.wait()  # the save queued every student's 0: posted by the drain
    with live_server.rt.session_factory() as s:
        m = s.get(Module, module_id)
        assert m.gates_lms and m.lms_target_title == "Quiz 3"
        line = s.scalar(select(SandboxLineItem).where(SandboxLineItem.tag == "unlock"))
        assert line is not None and line.label == "Unlocked: Adding fractions"
        scores = s.scalars(
            select(SandboxResult.score_given).where(SandboxResult.line_item_id == line.id)
        ).all()
        assert scores and set(scores) == {0}


def test_the_course_total_warning_until_the_teacher_has_dealt_with_it(live_server) -> None:
    context_id, _, _ = setup_course(live_server, "canvas")
    t = Teacher(live_server, "canvas")
    assert "count toward your LMS course total" not in text(t.get("/setup"))
    gate(live_server.rt)
    drain(live_server.rt, context_id)  # the unlock column now exists in the LMS
    for page in (t.get("/setup"), t.get("/class")):
        words = text(page)
        assert "The tool's columns count toward your LMS course total" in words
        assert "1 column the tool made in your gradebook (Unlocked: Adding fractions)" in words
        assert "Do not count this assignment towards the final grade" in words
    done = t.post("/setup/lms/out-of-total", {"back": "class"})
    assert "Noted: the 1 column is out of your course total" in text(done)
    assert "count toward your LMS course total" not in text(done)
    assert "count toward your LMS course total" not in text(t.get("/setup"))

    # a competency column made later brings the warning back, naming only it
    type_grade(live_server, "canvas", "Ava Adams", 8)
    sync_course_grades(live_server.rt, context_id, post=False)
    drain(live_server.rt, context_id)
    words = text(t.get("/setup"))
    assert "1 column the tool made in your gradebook (Competency: Equivalent fractions)" in words


def student_page(live_server, slug: str, name: str, path: str = "") -> str:
    with live_server.rt.session_factory() as s:
        person = next(p for p in people(s, slug)["student"] if p.name == name)
        course_id, link_id = course_and_link(s, slug)
    browser = Browser()
    page = launch_as(browser, live_server.platform_url, slug, course_id, link_id, person.user_id)
    assert page.status_code == 200
    if path:
        page = browser.get(page.url.rsplit("/", 1)[0] + path)
    return page.text


def test_students_are_told_where_to_go_and_the_class_view_counts_it(live_server) -> None:
    rt = live_server.rt
    context_id, _, _ = setup_course(live_server, "moodle")
    module_id = gate(rt)
    with rt.session_factory() as s:
        m = s.get(Module, module_id)
        m.lms_target_title = "Quiz 3"
        m.lms_target_url = "https://moodle.example/mod/quiz/view.php?id=3"
        s.commit()
    drain(rt, context_id)
    locked = re.sub(r"\s+", " ", student_page(live_server, "moodle", "Ava Adams"))
    assert "Once this module is open, Quiz 3 in your course opens too." in locked

    type_grade(live_server, "moodle", "Ava Adams", 8)
    sync_course_grades(rt, context_id, post=False)
    waiting = re.sub(r"\s+", " ", student_page(live_server, "moodle", "Ava Adams"))
    assert "Opening in your course:" in waiting and "within a few minutes" in waiting
    t = Teacher(live_server, "moodle")
    counts = re.search(r"Adding fractions</th>(.*?)</tr>", t.get("/class").text).group(1)
    assert re.findall(r"<td>(\d+)</td>", counts)[-2:] == ["1", "0"]  # open, the LMS knows
    assert "1 waiting" in counts

    drain(rt, context_id)
    opened = student_page(live_server, "moodle", "Ava Adams", f"/modules/{module_id}")
    assert re.search(
        r"Now open in your course:</strong> <a href=\"https://moodle.example/mod/quiz/view.php"
        r"\?id=3\" target=\"_top\">Quiz 3</a>",
        opened,
    )
    counts = re.search(r"Adding fractions</th>(.*?)</tr>", t.get("/class").text).group(1)
    assert re.findall(r"<td>(\d+)</td>", counts)[-3:] == ["1", "1", "0"]


def test_the_path_a_student_keeps_open_says_when_the_lms_has_opened_it(live_server) -> None:
    """The path's cards are drawn once per student facts and what the LMS holds open: the
    passback that lands turns "Opening in your course" into "Now open" at the next load."""
    rt = live_server.rt
    context_id, _, _ = setup_course(live_server, "moodle")
    gate(rt)
    with rt.session_factory() as s:
        s.scalar(select(Module)).lms_target_title = "Quiz 3"
        s.commit()
    drain(rt, context_id)
    with rt.session_factory() as s:
        ava = next(p for p in people(s, "moodle")["student"] if p.name == "Ava Adams")
        course_id, link_id = course_and_link(s, "moodle")
    browser = Browser()
    page = launch_as(browser, live_server.platform_url, "moodle", course_id, link_id, ava.user_id)
    path = page.url.rsplit("/", 1)[0] + "/path"
    assert "Quiz 3 in your course opens too" in text(browser.get(path))

    type_grade(live_server, "moodle", "Ava Adams", 8)
    sync_course_grades(rt, context_id, post=False)
    assert "Opening in your course: Quiz 3" in text(browser.get(path))
    assert "Opening in your course: Quiz 3" in text(browser.get(path))
    drain(rt, context_id)
    assert "Now open in your course: Quiz 3" in text(browser.get(path))
