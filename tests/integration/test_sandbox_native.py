"""The sandbox's own content gated by its gradebook, as each LMS gates it: Moodle's "Restrict
access → Grade" and Canvas' module requirements and prerequisites, with Canvas' manual post
policy. Columns and scores arrive through AGS as the tool sends them; people look through the
sandbox's course page and open the content by URL, as a browser would."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import pytest
import requests
from sqlalchemy import select

from lti_tool.jobs.grades import sync_course_grades
from lti_tool.jobs.passback import drain
from lti_tool.sandbox.models import (
    SandboxActivity,
    SandboxModule,
    SandboxModuleItem,
    SandboxProgression,
)
from tests.integration.test_loop import setup_course, type_grade
from tests.integration.test_sandbox_services import lms, moodle_segment
from tests.integration.test_unlock_columns import gate
from tests.lms import Browser, Person, forms, people

pytestmark = pytest.mark.postgres


def text(fragment: str) -> str:
    """What a person reads in an HTML fragment: tags gone, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


class Viewer:
    """One browser on a sandbox course, viewing it as one person (the sandbox's "view as")."""

    def __init__(self, live_server: Any, slug: str, person: Person) -> None:
        self.base = f"{live_server.platform_url}/sandbox/{slug}"
        self.course_id = lms(live_server, slug).course_id
        self.browser = Browser()
        self.view_as(person)

    def view_as(self, person: Person) -> None:
        shown = self.browser.post(
            f"{self.base}/courses/{self.course_id}/launch-as", {"user_id": str(person.user_id)}
        )
        assert shown.status_code == 200
        assert f'<option value="{person.user_id}" selected' in shown.text

    def token(self) -> str:
        """The CSRF token the course page gives this browser (a teacher's page has forms)."""
        return next(
            f["fields"]["csrf_token"] for f in forms(self.course()) if "csrf_token" in f["fields"]
        )

    def course(self) -> str:
        page = self.browser.get(f"{self.base}/courses/{self.course_id}")
        assert page.status_code == 200
        return page.text

    def open(self, path: str) -> requests.Response:
        return self.browser.get(f"{self.base}/courses/{self.course_id}/{path}")

    def submit(self, path: str, token: str | None = None, **fields: str) -> requests.Response:
        """A teacher's form, with the token the course page gives this browser."""
        return self.browser.post(
            f"{self.base}/courses/{self.course_id}/native/{path}",
            {"csrf_token": token or self.token(), **fields},
        )


class Tool:
    """The tool's side: a column made through AGS and scores posted to it, a second apart."""

    def __init__(self, live_server: Any, slug: str) -> None:
        self.lms = lms(live_server, slug)
        self.http = self.lms.session()
        self.clock = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)

    def column(self, label: str, maximum: float, resource_id: str, tag: str) -> tuple[int, str]:
        """(line item id, scores URL) of a new column."""
        made = self.http.post(
            self.lms.lineitems,
            json={"label": label, "scoreMaximum": maximum, "resourceId": resource_id, "tag": tag},
            timeout=5,
        )
        assert made.status_code in (200, 201), made.text
        url = made.json()["id"]
        if self.lms.slug == "moodle":
            found = re.search(r"/lineitems/(\d+)/lineitem", url)
            assert found
            return int(found.group(1)), moodle_segment(url, "scores")
        return int(url.rsplit("/", 1)[1]), url + "/scores"

    def score(self, scores_url: str, student: Person, given: float, maximum: float) -> None:
        self.clock += timedelta(seconds=2)
        body = {
            "userId": student.sub,
            "scoreGiven": given,
            "scoreMaximum": maximum,
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
            "timestamp": self.clock.isoformat(),
        }
        posted = self.http.post(scores_url, json=body, timeout=5)
        assert posted.status_code == 200, posted.text


def everyone(live_server: Any, slug: str) -> dict[str, list[Person]]:
    with live_server.rt.session_factory() as s:
        return people(s, slug)


def activity_id(live_server: Any, title: str) -> int:
    with live_server.rt.session_factory() as s:
        found = s.scalar(select(SandboxActivity.id).where(SandboxActivity.title == title))
    assert found is not None
    return found


def activity_text(page: str, activity: int) -> str:
    """What the course page says about one activity ("" when it is not there at all)."""
    marker = f'id="activity-{activity}"'
    if marker not in page:
        return ""
    return text(page.split(marker, 1)[1].split('<li class="activity', 1)[0])


def module_text(page: str, module: int) -> str:
    marker = f'id="module-{module}"'
    if marker not in page:
        return ""
    return text(page.split(marker, 1)[1].split("</section>", 1)[0])


# -- Moodle ------------------------------------------------------------------------------------


def moodle_restricted(live_server: Any, hidden: bool = False) -> tuple[Viewer, Tool, int, str]:
    """A Page restricted by the teacher to grade ≥ 75 % in a 4-point competency column; the
    student's viewer, the tool, the Page's id and its scores URL."""
    who = everyone(live_server, "moodle")
    tool = Tool(live_server, "moodle")
    column, scores = tool.column("Competency: Fractions", 4, "competency:1", "competency")
    teacher = Viewer(live_server, "moodle", who["teacher"][0])
    added = teacher.submit(
        "activities", kind="page", title="Fractions reading", body="Read pages 4 to 9."
    )
    assert "Activity added." in added.text
    page_id = activity_id(live_server, "Fractions reading")
    fields = {"line_item_id": str(column), "min_percent": "75"}
    if hidden:
        fields["hidden"] = "1"
    restricted = teacher.submit(f"activities/{page_id}/conditions", **fields)
    assert "Restriction added." in restricted.text
    shown = activity_text(restricted.text, page_id)
    assert "Grade: Competency: Fractions must be ≥ 75 %" in shown
    return Viewer(live_server, "moodle", who["student"][0]), tool, page_id, scores


def test_moodle_grade_restriction_greys_the_page_until_exactly_75_percent(live_server) -> None:
    student, tool, page_id, scores = moodle_restricted(live_server)
    ava = everyone(live_server, "moodle")["student"][0]
    locked = activity_text(student.course(), page_id)
    # Moodle's own sentence, coy about the number; the title is there, but not as a link
    assert (
        "Not available unless: You achieve higher than a certain score in Competency: Fractions"
        in locked
    )
    assert "75" not in locked
    assert 'href="' not in student.course().split(f'id="activity-{page_id}"')[1].split("</li>")[0]

    tool.score(scores, ava, 2.32, 4)  # 58 %
    assert "Not available unless" in activity_text(student.course(), page_id)

    tool.score(scores, ava, 3, 4)  # exactly 75 %: the minimum is inclusive
    page = student.course()
    assert "Not available unless" not in activity_text(page, page_id)
    assert f"/activities/{page_id}" in page
    opened = student.open(f"activities/{page_id}")
    assert opened.status_code == 200 and "Read pages 4 to 9." in opened.text
    # another student, still without a grade, is still kept out
    ben = Viewer(live_server, "moodle", everyone(live_server, "moodle")["student"][1])
    assert "Not available unless" in activity_text(ben.course(), page_id)


def test_moodle_lowered_grade_shuts_the_page_again_and_its_url_answers_403(live_server) -> None:
    student, tool, page_id, scores = moodle_restricted(live_server)
    ava = everyone(live_server, "moodle")["student"][0]
    refused = student.open(f"activities/{page_id}")
    assert refused.status_code == 403
    assert (
        "Not available unless: You achieve higher than a certain score in Competency: Fractions"
        in text(refused.text)
    )
    assert "Read pages 4 to 9." not in refused.text

    tool.score(scores, ava, 4, 4)
    assert student.open(f"activities/{page_id}").status_code == 200
    tool.score(scores, ava, 1, 4)  # the tool lowers the competency: Moodle shuts it at once
    assert "Not available unless" in activity_text(student.course(), page_id)
    assert student.open(f"activities/{page_id}").status_code == 403


def test_moodle_closed_eye_hides_the_page_from_students_who_fall_short(live_server) -> None:
    student, tool, page_id, scores = moodle_restricted(live_server, hidden=True)
    ava = everyone(live_server, "moodle")["student"][0]
    assert activity_text(student.course(), page_id) == ""
    assert "Fractions reading" not in student.course()
    refused = student.open(f"activities/{page_id}")
    assert refused.status_code == 403 and "This activity is currently hidden" in refused.text
    assert "Fractions reading" not in refused.text  # not even its name

    teacher = Viewer(live_server, "moodle", everyone(live_server, "moodle")["teacher"][0])
    staff = activity_text(teacher.course(), page_id)
    assert "(hidden otherwise)" in staff
    assert "Hidden entirely if student doesn't meet this condition" in staff

    tool.score(scores, ava, 3, 4)
    assert "Fractions reading" in activity_text(student.course(), page_id)


def test_moodle_seeded_quiz_waits_for_the_tools_first_unlock_column(live_server) -> None:
    who = everyone(live_server, "moodle")
    quiz = activity_id(live_server, "Fractions practice quiz")
    teacher = Viewer(live_server, "moodle", who["teacher"][0])
    assert "Waiting for the column with resourceId unlock:…" in activity_text(
        teacher.course(), quiz
    )
    student = Viewer(live_server, "moodle", who["student"][0])
    # a condition on a grade item that does not exist reads as Moodle's "(missing activity)"
    assert "You achieve higher than a certain score in (missing activity)" in activity_text(
        student.course(), quiz
    )

    tool = Tool(live_server, "moodle")
    tool.column("Competency: Fractions", 4, "competency:1", "competency")
    _col, scores = tool.column("Unlocked: Equivalent fractions", 1, "unlock:7", "unlock")
    assert "Unlocked: Equivalent fractions must be ≥ 100 %" in activity_text(teacher.course(), quiz)
    assert "certain score in Unlocked: Equivalent fractions" in activity_text(
        student.course(), quiz
    )
    tool.score(scores, who["student"][0], 0, 1)  # locked in the tool: still shut
    assert "Not available unless" in activity_text(student.course(), quiz)
    tool.score(scores, who["student"][0], 1, 1)
    assert "Not available unless" not in activity_text(student.course(), quiz)
    assert student.open(f"activities/{quiz}").status_code == 200


def test_moodle_restriction_form_refuses_what_moodle_refuses(live_server) -> None:
    who = everyone(live_server, "moodle")
    quiz = activity_id(live_server, "Fractions practice quiz")
    teacher = Viewer(live_server, "moodle", who["teacher"][0])
    backwards = teacher.submit(
        f"activities/{quiz}/conditions", resource_id="unlock:", min_percent="80", max_percent="20"
    )
    assert (
        "Not saved: When specifying a grade range, the minimum must be lower than the maximum."
        in backwards.text
    )
    nothing = teacher.submit(f"activities/{quiz}/conditions", min_percent="50")
    assert "You must select a grade item for the grade condition." in nothing.text
    # a form without the sandbox's token, or sent while viewing as a student, changes nothing
    forged = teacher.browser.post(
        f"{teacher.base}/courses/{teacher.course_id}/native/activities/{quiz}/remove", {}
    )
    assert forged.status_code == 400 and "The CSRF token is missing." in forged.text
    token = teacher.token()
    teacher.view_as(who["student"][0])
    assert teacher.submit(f"activities/{quiz}/remove", token=token).status_code == 403
    teacher.view_as(who["teacher"][0])
    assert "Fractions practice quiz" in teacher.course()


# -- Canvas ------------------------------------------------------------------------------------


def canvas_course(live_server: Any) -> tuple[Viewer, Viewer, Tool, dict[str, int], str]:
    """Module "Equivalent fractions" holds the tool's 4-point competency column with "score at
    least 3"; module "Comparing fractions" has it as prerequisite. (teacher, student, tool,
    ids by name, scores URL)."""
    who = everyone(live_server, "canvas")
    tool = Tool(live_server, "canvas")
    column, scores = tool.column("Competency: Fractions", 4, "competency:1", "competency")
    teacher = Viewer(live_server, "canvas", who["teacher"][0])
    assert "Module added." in teacher.submit("modules", name="Equivalent fractions").text
    assert "Module added." in teacher.submit("modules", name="Comparing fractions").text
    with live_server.rt.session_factory() as s:
        ids = {m.name: m.id for m in s.scalars(select(SandboxModule))}
    first, second = ids["Equivalent fractions"], ids["Comparing fractions"]
    teacher.submit(f"modules/{first}/items", kind="column", line_item_id=str(column))
    teacher.submit(f"modules/{second}/items", kind="page", title="Number lines", body="Compare.")
    with live_server.rt.session_factory() as s:
        items = {i.title: i.id for i in s.scalars(select(SandboxModuleItem))}
    ids.update(items)
    saved = teacher.submit(f"items/{items['Competency: Fractions']}/requirement", min_score="3")
    assert "Requirement saved." in saved.text
    prerequisite = teacher.submit(f"modules/{second}/prerequisites", prerequisite_id=str(first))
    staff = module_text(prerequisite.text, second)
    assert "Prerequisite: Equivalent fractions" in staff
    assert "Score at least 3.0" in module_text(prerequisite.text, first)
    student = Viewer(live_server, "canvas", who["student"][0])
    return teacher, student, tool, ids, scores


def test_canvas_prerequisite_module_unlocks_when_the_score_reaches_min_score(live_server) -> None:
    _teacher, student, tool, ids, scores = canvas_course(live_server)
    ava = everyone(live_server, "canvas")["student"][0]
    first, second = ids["Equivalent fractions"], ids["Comparing fractions"]
    page = student.course()
    assert "Locked" in module_text(page, second)
    assert "Prerequisite: Equivalent fractions" in module_text(page, second)
    assert "Requirement: Complete All Items" in module_text(page, first)
    assert "Score at least 3.0" in module_text(page, first)
    refused = student.open(f"modules/items/{ids['Number lines']}")
    assert refused.status_code == 403
    assert (
        "This page is part of the module Comparing fractions and hasn't been unlocked yet."
        in text(refused.text)
    )
    assert "Visit the course modules page for information on how to unlock this content." in (
        text(refused.text)
    )

    tool.score(scores, ava, 2.32, 4)
    assert "Locked" in module_text(student.course(), second)

    tool.score(scores, ava, 3, 4)  # at least 3 points: met
    page = student.course()
    assert "Locked" not in module_text(page, second)
    assert "Completed" in module_text(page, first)
    assert "Scored at least 3.0" in module_text(page, first)
    opened = student.open(f"modules/items/{ids['Number lines']}")
    assert opened.status_code == 200 and "Compare." in opened.text
    ben = Viewer(live_server, "canvas", everyone(live_server, "canvas")["student"][1])
    assert "Locked" in module_text(ben.course(), second)


def test_canvas_manual_post_policy_keeps_the_module_locked_until_grades_are_posted(
    live_server,
) -> None:
    teacher, student, tool, ids, scores = canvas_course(live_server)
    ava = everyone(live_server, "canvas")["student"][0]
    second = ids["Comparing fractions"]
    book_url = f"{teacher.base}/courses/{teacher.course_id}/gradebook"
    with live_server.rt.session_factory() as s:
        line_item = s.get(SandboxModuleItem, ids["Competency: Fractions"]).line_item_id

    def gradebook_button(action: str) -> requests.Response:
        book = teacher.browser.get(book_url).text
        form = next(f for f in forms(book) if f["action"].endswith(f"/{line_item}/{action}"))
        return teacher.browser.post(urljoin(book_url, form["action"]), form["fields"])

    assert "Grade posting policy saved: manually." in gradebook_button("policy").text

    tool.score(scores, ava, 4, 4)
    assert "Locked" in module_text(student.course(), second)  # graded, but hidden
    assert "posted manually, 1 hidden" in teacher.browser.get(book_url).text

    assert "Posted 1 grade." in gradebook_button("post").text
    assert "Locked" not in module_text(student.course(), second)
    assert "Scored at least 3.0" in module_text(student.course(), ids["Equivalent fractions"])


def test_canvas_lowered_score_uncompletes_the_module_but_not_what_it_unlocked(live_server) -> None:
    teacher, student, tool, ids, scores = canvas_course(live_server)
    ava = everyone(live_server, "canvas")["student"][0]
    first, second = ids["Equivalent fractions"], ids["Comparing fractions"]
    tool.score(scores, ava, 3, 4)
    assert "Locked" not in module_text(student.course(), second)

    tool.score(scores, ava, 1, 4)
    page = student.course()
    # the requirement is unmet again, but Canvas keeps the unlocked module's progression
    assert "Score at least 3.0" in module_text(page, first)
    assert "Completed" not in module_text(page, first)
    assert "Locked" not in module_text(page, second)
    assert student.open(f"modules/items/{ids['Number lines']}").status_code == 200

    # a teacher's change to the requirement relocks, and the lowered score keeps it shut
    teacher.submit(f"items/{ids['Competency: Fractions']}/requirement", min_score="2")
    assert "Locked" in module_text(student.course(), second)
    assert student.open(f"modules/items/{ids['Number lines']}").status_code == 403


def test_canvas_seeded_module_waits_for_the_tools_first_unlock_column(live_server) -> None:
    who = everyone(live_server, "canvas")
    with live_server.rt.session_factory() as s:
        ids = {m.name: m.id for m in s.scalars(select(SandboxModule))}
    start, practice = ids["Start here"], ids["Fractions practice"]
    teacher = Viewer(live_server, "canvas", who["teacher"][0])
    assert "Waiting for the column with resourceId unlock:…" in module_text(teacher.course(), start)
    student = Viewer(live_server, "canvas", who["student"][0])
    assert "Locked" in module_text(student.course(), practice)

    tool = Tool(live_server, "canvas")
    _col, scores = tool.column("Unlocked: Equivalent fractions", 1, "unlock:12", "unlock")
    page = student.course()
    assert "Unlocked: Equivalent fractions Score at least 1.0" in module_text(page, start)
    assert "Locked" in module_text(page, practice)
    tool.score(scores, who["student"][0], 1, 1)
    assert "Locked" not in module_text(student.course(), practice)
    with live_server.rt.session_factory() as s:
        kept = s.scalars(select(SandboxProgression.module_id)).all()
    assert kept == [practice]  # remembered as unlocked for that student only


# -- with the tool's own unlock column -------------------------------------------------------


@pytest.mark.parametrize("slug", ["moodle", "canvas"])
def test_the_tools_unlock_column_opens_the_demo_courses_own_quiz(live_server, slug: str) -> None:
    """End to end: the teacher gates a module in the tool, the tool posts each student's 0 or 1
    to its unlock column, and the demo course's own quiz, waiting for that column, follows."""
    rt = live_server.rt
    context_id, _, _ = setup_course(live_server, slug)
    gate(rt)
    drain(rt, context_id)  # everyone's 0: the column exists now
    ava = Viewer(live_server, slug, everyone(live_server, slug)["student"][0])
    with rt.session_factory() as s:
        quiz = s.scalar(select(SandboxActivity.id).where(SandboxActivity.kind == "quiz"))
        modules = {m.name: m.id for m in s.scalars(select(SandboxModule))}

    def quiz_state() -> str:
        page = ava.course()
        if slug == "moodle":
            return activity_text(page, quiz)
        return module_text(page, modules["Fractions practice"])

    assert ("Unlocked: Adding fractions" if slug == "moodle" else "Locked") in quiz_state()
    type_grade(live_server, slug, "Ava Adams", 8)  # Mastery: the tool opens her module
    sync_course_grades(rt, context_id, post=False)
    drain(rt, context_id)
    assert "Not available unless" not in quiz_state() and "Locked" not in quiz_state()

    type_grade(live_server, slug, "Ava Adams", 5)  # the tool shuts her module again (0)
    sync_course_grades(rt, context_id, post=False)
    drain(rt, context_id)
    if slug == "moodle":
        assert "Not available unless" in quiz_state()
    else:  # Canvas keeps what it unlocked; only "Start here" is incomplete again
        assert "Locked" not in quiz_state()
        start = module_text(ava.course(), modules["Start here"])
        assert "Unlocked: Adding fractions Score at least 1.0" in start
