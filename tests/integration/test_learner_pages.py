"""What a student and a mentor read: the path with live explanations, a locked module's page,
the profile with its evidence and goals, and a mentor's read-only view of a mentee."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from lti_tool.jobs.grades import sync_course_grades
from lti_tool.models.mastery import Goal
from lti_tool.models.modules import Module
from lti_tool.services.recompute import recompute_course
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
    assert "Locked" not in _text(opened.text) and "Adding fractions" in opened.text
    assert "See your whole path" in opened.text  # a way back to the path

    profile = _text(browser.get(f"{base}/profile").text)
    assert "Equivalent fractions" in profile and "Mastery" in profile
    assert "3.6 of 4" in profile and "Quiz 1" in profile  # out of the scale's top; evidence
    assert "3.6 of 3" not in profile


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
    assert "18 December 2026" in text and "No evidence yet, 3 needed" in text
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


def _choice_course(live_server, slug: str) -> tuple[int, int]:
    """setup_course plus two options that open at Mastery and a choice between them."""
    context_id, _, _ = setup_course(live_server, slug)
    rule = {"rule": {"competency": "FRAC-1", "level": "Mastery"}}
    with live_server.rt.session_factory() as s:
        options = [
            Module(context_id=context_id, title=title, unlock_rule=rule)
            for title in ("Fractions with pictures", "Fractions with numbers")
        ]
        s.add_all(options)
        s.flush()
        choice = Module(
            context_id=context_id, title="Pick a path", choice_of=[o.id for o in options]
        )
        s.add(choice)
        s.flush()
        recompute_course(s, context_id, {"kind": "test"})
        s.commit()
        return context_id, choice.id


def _counts_row(html: str, title: str) -> list[int]:
    """The class view's unlock counts of one module: locked, open, completed, mastered, exempt."""
    row = re.search(rf"<th scope=\"row\">{title}</th>((?:<td>\d+</td>)+)", html)
    assert row, f"no counts row for {title}"
    return [int(n) for n in re.findall(r"\d+", row.group(1))]


def test_choice_module_shows_its_options_and_is_open_only_with_one(live_server) -> None:
    rt = live_server.rt
    context_id, choice_id = _choice_course(live_server, "canvas")
    with rt.session_factory() as s:
        everyone = people(s, "canvas")
    teacher, students = everyone["teacher"][0].name, len(everyone["student"])
    teacher_browser, teacher_base = _launch(live_server, "canvas", teacher)
    counts = _counts_row(teacher_browser.get(f"{teacher_base}/class").text, "Pick a path")
    assert counts[:2] == [students, 0]  # every student's is locked: both options are

    browser, base = _launch(live_server, "canvas", "Ava Adams")
    path = _text(browser.get(f"{base}/path").text)
    assert "Pick a path Locked" in path
    assert "Locked: none of its options is open yet." in path
    assert "open from the start" not in path
    # opened from the LMS: its options, their states and reasons, and the way back
    page = browser.get(f"{base}/modules/{choice_id}")
    text = _text(page.text)
    assert "Fractions with pictures Locked" in text and "Fractions with numbers Locked" in text
    assert "Locked: the condition below is not met yet." in text
    assert (
        "Next step: To open Fractions with pictures: Reach Mastery in Equivalent fractions: "
        "you have no score yet"
    ) in text
    assert "See your whole path" in page.text

    type_grade(live_server, "canvas", "Ava Adams", 9)  # 90% = 3.6: Mastery opens both options
    sync_course_grades(rt, context_id, post=False)
    text = _text(browser.get(f"{base}/modules/{choice_id}").text)
    assert "Unlocked: 2 of its 2 options are open." in text
    assert "Fractions with pictures Unlocked" in text
    assert re.search(
        r'href="[^"]*/modules/\d+">Fractions with pictures</a>',
        browser.get(f"{base}/modules/{choice_id}").text,
    )
    counts = _counts_row(teacher_browser.get(f"{teacher_base}/class").text, "Pick a path")
    assert counts[:2] == [students - 1, 1]  # Ava's is open now, the others' still locked
    # the teacher opening it from the LMS sees its options, and the way back
    page = teacher_browser.get(f"{teacher_base}/modules/{choice_id}").text
    assert re.search(r'href="[^"]*/modules/\d+">Fractions with numbers</a>', page)
    assert "Course home" in page


def _cards(html: str) -> str:
    """The module cards of a page, as read."""
    return _text(" ".join(re.findall(r'<ol class="cards">(.*?)</ol>', html, re.S)))


def test_teacher_and_mentor_read_about_the_student_by_name(live_server) -> None:
    context_id, _, _ = setup_course(live_server, "canvas")
    with live_server.rt.session_factory() as s:
        everyone = people(s, "canvas")
    ava = everyone["student"][0]
    _launch(live_server, "canvas", ava.name)
    step = f"Reach Mastery in Equivalent fractions: {ava.name} has no score yet"

    mentor, base = _launch(live_server, "canvas", everyone["mentor"][0].name)
    with live_server.rt.session_factory() as s:
        from lti_tool.models.course import User

        ava_id = s.scalar(select(User.id).where(User.name == ava.name))
    cards = _cards(mentor.get(f"{base}/mentees/{ava_id}/path").text)
    assert f"Next step for {ava.name}: {step}" in cards
    assert not re.search(r"\byou(r)?\b", cards, re.I), cards

    teacher, base = _launch(live_server, "canvas", everyone["teacher"][0].name)
    page = teacher.get(f"{base}/class/students/{ava_id}").text
    cards = _cards(page)
    assert f"Next step for {ava.name}: {step}" in cards
    assert not re.search(r"\byou(r)?\b", cards, re.I), cards
    assert "UTC" not in page  # no times on the page yet

    own, own_base = _launch(live_server, "canvas", ava.name)  # the student herself: "you"
    cards = _cards(own.get(f"{own_base}/path").text)
    assert "Next step: Reach Mastery in Equivalent fractions: you have no score yet" in cards

    type_grade(live_server, "canvas", ava.name, 5)  # 50% = 2: Near Mastery
    sync_course_grades(live_server.rt, context_id, post=False)
    page = teacher.get(f"{base}/class/students/{ava_id}").text
    assert f"{ava.name} is at Near Mastery, 2 of 3" in _cards(page)
    # the history's times as a school writes them, the zone said once for the page
    when = r"\d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d"
    assert re.search(rf"{when} — FRAC-1: no level → Near Mastery \(2\)", _text(page))
    assert _text(page).count("UTC") == 1 and "Times are in UTC." in page


def test_a_student_with_evidence_is_never_labelled_no_evidence(live_server) -> None:
    context_id, _, _ = setup_course(live_server, "moodle")
    type_grade(live_server, "moodle", "Ava Adams", 1.3)  # 13% = 0.52: Canvas' "No Evidence" level
    sync_course_grades(live_server.rt, context_id, post=False)
    browser, base = _launch(live_server, "moodle", "Ava Adams")
    profile = _text(browser.get(f"{base}/profile").text)
    assert "Some evidence 0.52 of 4" in profile and "No Evidence" not in profile
    path = _text(browser.get(f"{base}/path").text)
    assert "you have some evidence, 0.52 of 3" in path and "No Evidence" not in path
    with live_server.rt.session_factory() as s:
        teacher = people(s, "moodle")["teacher"][0].name
    teacher_browser, teacher_base = _launch(live_server, "moodle", teacher)
    grid = _text(teacher_browser.get(f"{teacher_base}/class").text)
    assert "Ava Adams Some evidence 0.52" in grid, grid


def test_dates_read_as_a_school_writes_them_and_the_zone_once(live_server) -> None:
    context_id, _, _ = setup_course(live_server, "canvas")
    rule = {
        "rule": {
            "all": [
                {"on_or_after": "2030-01-01T09:00:00Z"},
                {"competency": "FRAC-1", "level": "Mastery"},
            ]
        }
    }
    with live_server.rt.session_factory() as s:
        s.add(Module(context_id=context_id, title="New year", unlock_rule=rule))
        s.commit()
    browser, base = _launch(live_server, "canvas", "Ava Adams")
    text = _text(browser.get(f"{base}/path").text)
    assert (
        "it is 1 January 2030 at 09:00 or later and you reach Mastery in Equivalent fractions"
    ) in text
    assert "Wait until 1 January 2030 at 09:00" in text
    assert text.count("UTC") == 1 and "Times are in UTC." in text
