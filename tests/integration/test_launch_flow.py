"""End to end over real HTTP: login -> auth -> launch for every role, in both platform shapes."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, func, select

from lti_tool.models.course import Context, Membership, User
from tests.lms import Browser, course_and_link, launch_as, people

pytestmark = pytest.mark.postgres

LANDING = {
    "student": ("/path", "Your path"),
    "teacher": ("/home", "Course home"),
    "ta": ("/home", "Course home"),
    "mentor": ("/mentees", "Your mentees"),
}


@pytest.mark.parametrize("slug", ["canvas", "moodle"])
@pytest.mark.parametrize("role", ["student", "teacher", "ta", "mentor"])
def test_each_role_lands_on_its_page(live_server, slug: str, role: str) -> None:
    rt = live_server.rt
    with rt.session_factory() as s:
        person = people(s, slug)[role][0]
        course_id, link_id = course_and_link(s, slug)
    browser = Browser()
    page = launch_as(browser, live_server.platform_url, slug, course_id, link_id, person.user_id)

    path, heading = LANDING[role]
    assert page.status_code == 200, page.text[:800]
    assert page.url.startswith(live_server.tool_url + "/c/")
    assert page.url.endswith(path)
    assert f"<h1>{heading}</h1>" in page.text
    assert "Grade 5 Fractions" in page.text
    with rt.session_factory() as s:
        user = s.scalar(select(User).where(User.sub == person.sub))
        assert user is not None and user.name == person.name
        membership = s.scalar(select(Membership).where(Membership.user_id == user.id))
        expected = {"student": "student", "teacher": "teacher", "ta": "teacher", "mentor": "mentor"}
        assert membership is not None and membership.role == expected[role]
        assert s.scalar(select(func.count()).select_from(Context)) == 1


@pytest.mark.parametrize("slug", ["canvas", "moodle"])
def test_mentor_sees_mentees_who_launched(live_server, slug: str) -> None:
    rt = live_server.rt
    with rt.session_factory() as s:
        everyone = people(s, slug)
        course_id, link_id = course_and_link(s, slug)
    first_student = everyone["student"][0]
    launch_as(Browser(), live_server.platform_url, slug, course_id, link_id, first_student.user_id)
    page = launch_as(
        Browser(), live_server.platform_url, slug, course_id, link_id, everyone["mentor"][0].user_id
    )
    assert page.status_code == 200
    assert first_student.name in page.text
    assert everyone["student"][5].name not in page.text


def test_student_cannot_open_teacher_page(live_server) -> None:
    rt = live_server.rt
    with rt.session_factory() as s:
        student = people(s, "moodle")["student"][0]
        course_id, link_id = course_and_link(s, "moodle")
    browser = Browser()
    page = launch_as(
        browser, live_server.platform_url, "moodle", course_id, link_id, student.user_id
    )
    teacher_url = page.url.rsplit("/", 1)[0] + "/home"
    refused = browser.get(teacher_url)
    assert refused.status_code == 403
    assert "not for your role" in refused.text


@pytest.mark.parametrize("slug", ["canvas", "moodle"])
def test_pages_may_be_framed_only_by_the_launching_lms(live_server, slug: str) -> None:
    rt = live_server.rt
    with rt.session_factory() as s:
        student = people(s, slug)["student"][0]
        course_id, link_id = course_and_link(s, slug)
    page = launch_as(Browser(), live_server.platform_url, slug, course_id, link_id, student.user_id)
    csp = page.headers["Content-Security-Policy"]
    ancestors = csp.split("frame-ancestors ", 1)[1].split(";", 1)[0].split()
    assert live_server.platform_url in ancestors
    assert "https:" not in ancestors and "*" not in ancestors


@pytest.mark.parametrize(
    "roles",
    [
        ["http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#Instructor"],
        ["urn:lti:role:ims/lis/Learner/Instructor"],
    ],
)
def test_learner_sub_role_instructor_lands_on_the_student_page(live_server, roles) -> None:
    """A learner who leads a group (`Learner#Instructor`) is a learner: the path, not the
    teacher's course home, and the teacher's pages answer 403."""
    from tests.integration.test_launch_refusals import LTI, Forger

    f = Forger(live_server)
    page = f.launch(lambda c: c.__setitem__(LTI + "roles", roles))
    assert page.status_code == 200, page.text[:600]
    assert page.url.endswith("/path") and "<h1>Your path</h1>" in page.text
    refused = f.browser.get(page.url.rsplit("/", 1)[0] + "/home")
    assert refused.status_code == 403
    with live_server.rt.session_factory() as s:
        assert s.scalar(select(Membership.role)) == "student"


# The table each INSERT, DELETE or UPDATE writes (an upsert's DO UPDATE SET names none).
WRITES = re.compile(r"\b(?:INSERT\s+INTO\s+(\w+)|DELETE\s+FROM\s+(\w+)|UPDATE\s+(\w+)\s+SET)", re.I)
LAUNCH_TABLES = re.compile(
    r"\b(registrations|deployments|users|contexts|memberships|resource_links|modules)\b"
)


def test_a_repeat_launch_costs_one_lookup_and_writes_nothing(live_server) -> None:
    """decisions #5: after the token is verified, an unchanged repeat launch reads its rows in
    one statement and writes none."""
    from tests.integration.test_launch_refusals import Forger

    f = Forger(live_server)
    assert f.launch().status_code == 200
    state, nonce = f.login()
    id_token = f.sign(f.claims(nonce))
    seen: list[str] = []

    def statement(conn, cursor, sql: str, *args) -> None:
        if LAUNCH_TABLES.search(sql):
            seen.append(sql)

    event.listen(f.rt.engine, "before_cursor_execute", statement)
    try:
        resp = f.post_alone(id_token, state)
    finally:
        event.remove(f.rt.engine, "before_cursor_execute", statement)
    assert resp.status_code == 303, resp.text[:600]
    # A SELECT; on PostgreSQL a WITH that spends the login state too (store_entries only).
    assert len(seen) == 1 and seen[0].lstrip().upper().startswith(("SELECT", "WITH")), seen
    written = {t for m in WRITES.finditer(seen[0]) for t in m.groups() if t}
    assert written <= {"store_entries"}, seen
