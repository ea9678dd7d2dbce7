"""The sandbox LMS's own content, gated on the tool's unlock column, in a real Chromium: a
student sees the demo course's quiz locked, the teacher types the score into the sandbox
gradebook, and after a reload the quiz is open (the LMS on `localhost`, as in the demo)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lti_tool.sandbox.models import SandboxActivity, SandboxModule
from tests.integration.test_sandbox_native import Tool
from tests.lms import course_and_link, people

pytestmark = pytest.mark.browser

LABEL = "Unlocked: Equivalent fractions"


@pytest.mark.parametrize("slug", ["moodle", "canvas"])
def test_score_in_the_gradebook_opens_the_locked_quiz(live_server, page, artifacts, slug) -> None:
    rt = live_server.rt
    with rt.session_factory() as s:
        ava = people(s, slug)["student"][0]
        course_id, _ = course_and_link(s, slug)
        quiz = s.scalar(select(SandboxActivity.id).where(SandboxActivity.kind == "quiz"))
        practice = s.scalar(select(SandboxModule.id).where(SandboxModule.name.like("%practice")))
    # the tool makes its first unlock column through AGS; the demo's own content waits for it
    Tool(live_server, slug).column(LABEL, 1, "unlock:7", "unlock")
    course_url = f"{live_server.platform_url}/sandbox/{slug}/courses/{course_id}"

    page.goto(course_url)
    page.get_by_label("View the course as").select_option(label=f"{ava.name} (Student)")
    page.get_by_role("button", name="View", exact=True).click()
    quiz_link = page.get_by_role("link", name="Fractions practice quiz")
    if slug == "moodle":
        locked = page.locator(f"#activity-{quiz}")
        assert locked.get_by_text(
            f"Not available unless: You achieve higher than a certain score in {LABEL}"
        ).is_visible()
        assert quiz_link.count() == 0
    else:
        assert page.locator(f"#module-{practice} .status").inner_text() == "Locked"
        quiz_link.click()
        assert page.get_by_role("alert").inner_text() == (
            "This quiz is part of the module Fractions practice and hasn't been unlocked yet."
        )
        page.go_back()
    page.screenshot(path=str(artifacts / f"native-{slug}-locked.png"), full_page=True)

    page.get_by_role("link", name="Gradebook").click()
    page.get_by_label(f"{ava.name}, {LABEL} (out of 1)").fill("1")
    page.get_by_role("button", name="Save grades").click()
    assert page.get_by_role("status").inner_text() == "Saved 1 grade."

    page.goto(course_url)  # the student's next page load
    if slug == "canvas":
        assert page.locator(f"#module-{practice} .status").inner_text() != "Locked"
    quiz_link.click()
    assert page.get_by_role("heading", level=1).inner_text() == "Fractions practice quiz"
    assert page.get_by_text("Ten questions on equivalent fractions").is_visible()
    page.screenshot(path=str(artifacts / f"native-{slug}-open.png"), full_page=True)
