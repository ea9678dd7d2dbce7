"""What a student and a mentor read: the path with live explanations, a locked module's page,
the profile with its evidence and goals, and a mentor's read-only view of a mentee."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from lti_tool.jobs.grades import sync_course_grades
from lti_tool.models.mastery import Goal
from lti_tool.models.modules import Module
from tests.integration.test_loop import setup_course, type_grade
from tests.lms import Browser, course_and_link, forms, launch_as, people

pytestmark = pytest.mark.postgres


def _text(html: str) -> str:
    """The page as a person reads it: tags gone, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _launch(live_server, slug: str, name: str) -> tuple[Browser, str]:
    with live_server.rt.session_factory() as s:
        person = next(p for group in people(s, slug).values() for p in group if p.name == name)
        course_id, link_id = course_and_link(s, slug)
    browser = Browser()
    page = launch_as(browser, live_server.platform_url, slug, course_id, link_id, person.user_id)
    assert page.status_code == 200, page.text[:300]
    return browser, page.url.rsplit("/", 1)[0]


def test_locked_module_explains_itself_and_opens_after_a_grade(live_server) -> None:
    rt = live_server.rt
    context_id, _, _ = setup_course(live_server, "canvas")
    browser, base = _launch(live_server, "canvas", "Ava Adams")
    path = browser.get(f"{base}/path")
    text = _text(path.text)
    assert "Adding fractions" in text and "Locked" in text
    assert "Equivalent fractions" in text and "Next step:" in text
    with rt.session_factory() as s:
        module_id = s.scalar(select(Module.id).where(Module.title == "Adding fractions"))
    # opened from the LMS while locked: the reasons, not the content
    locked = browser.get(f"{base}/modules/{module_id}")
    assert locked.status_code == 200
    assert "Locked" in _text(locked.text) and "See your whole path" in locked.text

    type_grade(live_server, "canvas", "Ava Adams", 9)  # 90% = 3.6: Mastery
    sync_course_grades(rt, context_id, post=False)
    text = _text(browser.get(f"{base}/path").text)
    assert "Unlocked: the unlock conditions are met." in text
    opened = browser.get(f"{base}/modules/{module_id}")
    assert "See your whole path" not in opened.text and "Adding fractions" in opened.text

    profile = _text(browser.get(f"{base}/profile").text)
    assert "Equivalent fractions" in profile and "Mastery" in profile
    assert "3.6 of 3" in profile and "Quiz 1" in profile  # the evidence behind it


def test_a_student_sets_a_goal_and_a_bad_one_is_refused_in_place(live_server) -> None:
    rt = live_server.rt
    setup_course(live_server, "moodle")
    browser, base = _launch(live_server, "moodle", "Ava Adams")
    page = browser.get(f"{base}/profile")
    [form] = [f for f in forms(page.text) if f["action"].endswith("/goals")]
    target = next(v for v in re.findall(r'value="(competency:\d+)"', page.text))
    bad = browser.post(
        f"{base}/goals",
        {**form["fields"], "target": target, "level": "Mastery", "due": "next week"},
    )
    assert bad.status_code == 400 and "is not a date like" in bad.text
    assert 'value="next week"' in bad.text  # what the student typed is still there
    with rt.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Goal)) == 0
    good = browser.post(
        f"{base}/goals",
        {**form["fields"], "target": target, "level": "Mastery", "due": "2026-12-18"},
    )
    text = _text(good.text)
    assert "Goal added." in text and "Equivalent fractions: reach Mastery" in text
    assert "18 Dec 2026" in text and "No evidence yet, 0 of 3" in text
    [remove] = [f for f in forms(good.text) if "/goals/" in f["action"]]
    gone = browser.post(base.split("/c/")[0] + remove["action"], remove["fields"])
    assert "Goal removed." in gone.text and "reach Mastery" not in gone.text


def test_goal_post_without_csrf_is_refused(live_server) -> None:
    setup_course(live_server, "canvas")
    browser, base = _launch(live_server, "canvas", "Ava Adams")
    refused = browser.post(f"{base}/goals", {"target": "module:1", "level": "Mastery"})
    assert refused.status_code == 400
    with live_server.rt.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Goal)) == 0


@pytest.mark.parametrize("slug", ["canvas", "moodle"])
def test_mentor_reads_a_mentees_path_and_nobody_elses(live_server, slug: str) -> None:
    setup_course(live_server, slug)
    with live_server.rt.session_factory() as s:
        everyone = people(s, slug)
    mentee, other = everyone["student"][0], everyone["student"][5]
    _launch(live_server, slug, mentee.name)
    _launch(live_server, slug, other.name)
    browser, base = _launch(live_server, slug, everyone["mentor"][0].name)
    listing = browser.get(f"{base}/mentees")
    links = re.findall(r'href="([^"]*/mentees/(\d+)/path)"', listing.text)
    # the seed's mentor mentors the first two students (role_scope_mentor), all on the roster
    assert len(links) == 2 and other.name not in listing.text, listing.text
    origin = base.split("/c/")[0]
    path = browser.get(origin + links[0][0])
    assert path.status_code == 200 and "Adding fractions" in path.text
    mentees = {mentee.name, everyone["student"][1].name}
    assert any(f"{name}: path" in _text(path.text) for name in mentees)
    assert "/goals" not in path.text  # read-only: no forms
    profile = browser.get(origin + links[0][0].replace("/path", "/profile"))
    assert profile.status_code == 200 and "<form" not in profile.text
    with live_server.rt.session_factory() as s:
        from lti_tool.models.course import User

        other_id = s.scalar(select(User.id).where(User.name == other.name))
    assert browser.get(f"{base}/mentees/{other_id}/path").status_code == 404
    assert browser.get(f"{base}/path").status_code == 403


def test_teacher_and_mentor_urls_refuse_a_student(live_server) -> None:
    setup_course(live_server, "canvas")
    browser, base = _launch(live_server, "canvas", "Ava Adams")
    for url in (f"{base}/mentees", f"{base}/mentees/1/path", f"{base}/mentees/1/profile"):
        assert browser.get(url).status_code == 403, url
