"""Issue 12's whole loop in real Chromium, the tool (127.0.0.1) inside the sandbox Moodle's page
(localhost): the teacher writes a module's content with a link and a video and marks it as
gating the LMS's own quiz; the student is locked out of both; a grade typed in the LMS and
synced opens both; a lowered grade under the re-evaluated rule shuts both again."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from lti_tool.models.modules import Module
from lti_tool.sandbox.models import SandboxActivity
from tests.integration.test_loop import setup_course
from tests.lms import course_and_link, people

pytestmark = pytest.mark.browser

SLUG = "moodle"
MODULE = "Adding fractions"
QUIZ = "Fractions practice quiz"
GUIDE = "the fractions guide"
VIDEO = "https://www.youtube-nocookie.com/embed/f7YwKlZ0Jx8"
NOT_AVAILABLE = (
    f"Not available unless: You achieve higher than a certain score in Unlocked: {MODULE}"
)


class Moodle:
    """The sandbox Moodle's course page, and the tool's frame in it."""

    def __init__(self, live_server: Any, page: Any) -> None:
        self.server, self.page = live_server, page
        with live_server.rt.session_factory() as s:
            self.people = people(s, SLUG)
            course_id, _ = course_and_link(s, SLUG)
            self.quiz = s.scalar(select(SandboxActivity.id).where(SandboxActivity.title == QUIZ))
        self.course_url = f"{live_server.platform_url}/sandbox/{SLUG}/courses/{course_id}"
        self.tool = page.frame_locator("iframe.tool")

    def launch(self, person: Any, heading: str, path: str = "") -> Any:
        self.page.goto(self.course_url)
        self.page.get_by_role("button", name=f"Launch as {person.name}").click()
        self.tool.get_by_role("heading", level=1, name=heading).wait_for(timeout=15000)
        if path:
            frame = next(f for f in self.page.frames if f.url.startswith(self.server.tool_url))
            base = re.match(r".*/c/[^/]+", frame.url).group(0)  # type: ignore[union-attr]
            frame.goto(base + path)
        return self.tool

    def view_as(self, person: Any) -> None:
        self.page.goto(self.course_url)
        self.page.get_by_label("View the course as").select_option(label=f"{person.name} (Student)")
        self.page.get_by_role("button", name="View", exact=True).click()

    def type_grade(self, person: Any, points: str) -> None:
        self.page.goto(self.course_url)
        self.page.get_by_role("link", name="Gradebook").click()
        self.page.get_by_label(f"{person.name}, Quiz 1 (out of 10)").fill(points)
        self.page.get_by_role("button", name="Save grades").click()
        expect(self.page.get_by_role("status")).to_have_text("Saved 1 grade.")

    def sync(self, teacher: Any) -> None:
        """The teacher's "Sync now": grades read, states changed, scores posted."""
        tool = self.launch(teacher, "Course home")
        tool.get_by_role("link", name="Class", exact=True).click()
        tool.get_by_role("button", name="Sync now").click()
        expect(tool.get_by_role("status").first).to_contain_text("Sync")
        self.server.rt.jobs.wait()
        self.server.rt.jobs.wait()  # the drain the sync queued


def test_a_gated_module_and_the_lms_quiz_open_and_shut_together(
    live_server, page, artifacts
) -> None:
    setup_course(live_server, SLUG)  # FRAC-1 from "Quiz 1"; the module needs Mastery
    lms = Moodle(live_server, page)
    teacher, ava = lms.people["teacher"][0], lms.people["student"][0]
    with live_server.rt.session_factory() as s:
        module_id = s.scalar(select(Module.id).where(Module.title == MODULE))

    # the teacher writes the content and marks the module as gating the LMS's quiz
    tool = lms.launch(teacher, "Course home", f"/setup/modules/{module_id}")
    tool.get_by_role("textbox", name="Content").fill(
        f"Read [{GUIDE}](https://example.org/fractions) first.\n\n![Adding fractions]({VIDEO})"
    )
    tool.get_by_label("Gate my LMS content with this").check()
    tool.get_by_label("What it opens in your LMS").fill(QUIZ)
    tool.get_by_role("button", name="Save").click()
    expect(tool.get_by_role("status")).to_contain_text(f'Saved "{MODULE}"')
    expect(tool.get_by_role("link", name="What to click in your LMS")).to_be_visible()
    live_server.rt.jobs.wait()  # every student's 0 goes to the new "Unlocked:" column
    page.screenshot(path=str(artifacts / "gated-1-teacher-module.png"), full_page=True)

    # the student is locked out of both: the tool's module and the LMS's quiz
    def both_locked(shot: str) -> None:
        tool = lms.launch(ava, "Your path")
        card = tool.locator("li.card", has=tool.get_by_role("heading", name=MODULE))
        expect(card).to_contain_text("Locked")
        expect(card).to_contain_text(f"Once this module is open, {QUIZ} in your course opens too.")
        tool = lms.launch(ava, "Your path", f"/modules/{module_id}")
        expect(tool.get_by_role("heading", level=1, name=MODULE)).to_be_visible()
        expect(tool.get_by_text("Next step:")).to_be_visible()
        expect(tool.get_by_role("link", name=GUIDE)).to_have_count(0)
        expect(tool.locator("iframe")).to_have_count(0)
        page.screenshot(path=str(artifacts / f"gated-{shot}-tool.png"), full_page=True)
        lms.view_as(ava)
        expect(page.locator(f"#activity-{lms.quiz}")).to_contain_text(NOT_AVAILABLE)
        expect(page.get_by_role("link", name=QUIZ)).to_have_count(0)
        page.screenshot(path=str(artifacts / f"gated-{shot}-lms.png"), full_page=True)

    both_locked("2-locked")

    # a grade typed in the LMS (8 of 10: Mastery) and synced opens both
    lms.type_grade(ava, "8")
    lms.sync(teacher)
    tool = lms.launch(ava, "Your path")
    card = tool.locator("li.card", has=tool.get_by_role("heading", name=MODULE))
    expect(card).to_contain_text("Unlocked")
    expect(card).to_contain_text(f"Now open in your course: {QUIZ}")
    tool = lms.launch(ava, "Your path", f"/modules/{module_id}")
    guide = tool.get_by_role("link", name=GUIDE)
    expect(guide).to_have_attribute("href", "https://example.org/fractions")
    expect(guide).to_have_attribute("target", "_blank")
    expect(tool.locator("iframe")).to_have_attribute("src", VIDEO)
    page.screenshot(path=str(artifacts / "gated-3-open-tool.png"), full_page=True)
    lms.view_as(ava)
    page.get_by_role("link", name=QUIZ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(QUIZ)
    page.screenshot(path=str(artifacts / "gated-3-open-lms.png"), full_page=True)

    # a lowered grade (5 of 10) under the re-evaluated rule shuts both again
    lms.type_grade(ava, "5")
    lms.sync(teacher)
    both_locked("4-shut-again")
