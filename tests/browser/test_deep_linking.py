"""Placement end to end in Chromium: the teacher opens the LMS's add-content dialog, makes
and picks two modules in the tool's picker, the sandbox course gets two links (one with a
gradebook column), and a student's launch of one lands on that module."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lti_tool.sandbox.models import SandboxLineItem, SandboxLink
from tests.lms import Browser, course_and_link, launch_as, people

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("slug", ["canvas", "moodle"])
def test_teacher_places_two_modules(live_server, page, artifacts, slug: str) -> None:
    rt = live_server.rt
    with rt.session_factory() as s:
        everyone = people(s, slug)
        course_id, _ = course_and_link(s, slug)
    teacher, student = everyone["teacher"][0], everyone["student"][0]

    page.goto(f"{live_server.platform_url}/sandbox/{slug}/courses/{course_id}")
    page.get_by_role("button", name=f"Add mastery modules as {teacher.name}").click()
    frame = page.frame_locator("iframe.tool")
    try:
        frame.get_by_role("heading", name="Add modules to your course").wait_for(timeout=15000)
    finally:
        page.screenshot(path=str(artifacts / f"placement-open-{slug}.png"), full_page=True)

    frame.get_by_label("Title").fill("Equivalent fractions")
    frame.get_by_label("Graded (gets a gradebook column)").check()
    frame.get_by_label("Points").fill("4")
    frame.get_by_role("button", name="Create module").click()
    frame.get_by_label("Equivalent fractions (graded, 4 points)").wait_for()
    frame.get_by_label("Title").fill("Adding fractions")
    frame.get_by_role("button", name="Create module").click()
    frame.get_by_label("Adding fractions").wait_for()
    frame.get_by_label("Equivalent fractions (graded, 4 points)").check()
    frame.get_by_label("Adding fractions").check()
    page.screenshot(path=str(artifacts / f"placement-picker-{slug}.png"), full_page=True)
    frame.get_by_role("button", name="Add to course").click()

    frame.get_by_role("heading", name="Content added to Grade 5 Fractions").wait_for(timeout=15000)
    assert frame.get_by_text("Added 2 modules from Mastery path.").is_visible()
    page.screenshot(path=str(artifacts / f"placement-done-{slug}.png"), full_page=True)

    with rt.session_factory() as s:
        links = {
            link.title: link
            for link in s.scalars(select(SandboxLink).where(SandboxLink.course_id == course_id))
        }
        assert {"Equivalent fractions", "Adding fractions"} <= set(links)
        graded = s.scalars(
            select(SandboxLineItem).where(
                SandboxLineItem.link_id == links["Equivalent fractions"].id
            )
        ).one()
        assert graded.label == "Equivalent fractions" and graded.score_maximum == 4
        assert graded.tag == "module" and graded.resource_id.startswith("module:")
        assert (
            s.scalars(
                select(SandboxLineItem).where(
                    SandboxLineItem.link_id == links["Adding fractions"].id
                )
            ).first()
            is None
        )
        placed = links["Adding fractions"].id

    landing = launch_as(
        Browser(), live_server.platform_url, slug, course_id, placed, student.user_id
    )
    assert landing.status_code == 200
    assert "/modules/" in landing.url and "<h1>Adding fractions</h1>" in landing.text
