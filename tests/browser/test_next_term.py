"""Next term in Chromium, through the sandbox LMS's iframe: last term's course (set up, with a
grade) is copied in the LMS; from the teacher's first launch of the copy to its students
seeing their path takes at most 3 clicks (bench/setup_effort.py prints the same count)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bench.setup_effort import (
    NEXT_TERM_TARGET_CLICKS,
    Effort,
    copy_in_lms,
    next_term,
    student_sees_path,
)
from lti_tool.jobs.grades import sync_course_grades
from lti_tool.models.course import Context
from lti_tool.models.modules import Module
from tests.browser.conftest import axe_violations
from tests.integration.test_loop import setup_course, type_grade
from tests.lms import people

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("slug", ["canvas", "moodle"])
def test_next_term_is_ready_in_three_clicks(
    live_server, page, artifacts, axe_source, slug: str
) -> None:
    rt = live_server.rt
    context_id, _comp, course_id = setup_course(live_server, slug)
    type_grade(live_server, slug, "Ava Adams", 8)
    sync_course_grades(rt, context_id, post=True)
    with rt.session_factory() as s:
        everyone = people(s, slug)
        teacher, student = everyone["teacher"][0], everyone["student"][1]

    new_course = copy_in_lms(page, live_server.platform_url, slug, course_id, "Fractions 2027")
    before = student_sees_path(page, live_server.platform_url, slug, new_course, student.name)
    assert before == []  # "not set up yet", no module
    assert page.frame_locator("iframe.tool").get_by_text("This course is not set up yet").count()

    effort = Effort()

    problems: list[str] = []

    def shot(name: str) -> None:
        """A screenshot of each step, and axe-core on the offer and on the home after it."""
        page.screenshot(path=str(artifacts / f"{slug}-{name}.png"), full_page=True)
        frame = next(f for f in page.frames if f.url.startswith(live_server.tool_url))
        problems.extend(
            f"{name}: {v['id']} at {v['nodes']}"
            for v in axe_violations(frame, axe_source)
            if v["impact"] in ("serious", "critical")
        )

    next_term(
        page,
        live_server.platform_url,
        slug,
        new_course,
        teacher.name,
        "Grade 5 Fractions",
        effort,
        shot,
    )
    effort.end()
    assert not problems
    assert effort.clicks <= NEXT_TERM_TARGET_CLICKS, effort.steps
    assert effort.keys == 0

    path = student_sees_path(page, live_server.platform_url, slug, new_course, student.name)
    assert path == ["Adding fractions"]
    with rt.session_factory() as s:
        copied = s.scalar(select(Context).where(Context.id != context_id))
        assert copied.copied_from_id == context_id
        assert s.scalar(select(Module.title).where(Module.context_id == copied.id)) == path[0]
