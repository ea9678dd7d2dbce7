"""Canvas sizes the tool's iframe from `lti.frameResize` messages; every page sends its
height to the LMS page that frames it (and waits for no answer: Moodle never gives one)."""

from __future__ import annotations

import pytest

from tests.lms import course_and_link, people

pytestmark = pytest.mark.browser


def test_every_page_tells_the_lms_its_height(live_server, page) -> None:
    with live_server.rt.session_factory() as s:
        student = people(s, "canvas")["student"][0]
        course_id, _ = course_and_link(s, "canvas")
    page.add_init_script(
        "window.__lti = []; window.addEventListener('message', e => window.__lti.push(e.data));"
    )
    page.goto(f"{live_server.platform_url}/sandbox/canvas/courses/{course_id}")
    page.get_by_role("button", name=f"Launch as {student.name}").click()
    frame = page.locator("iframe.tool").content_frame
    frame.get_by_role("heading", level=1, name="Your path").wait_for(timeout=15000)
    page.wait_for_function(
        "() => window.__lti.some(m => m && m.subject === 'lti.frameResize' && m.height > 0)",
        timeout=5000,
    )
    heights = page.evaluate(
        "() => window.__lti.filter(m => m && m.subject === 'lti.frameResize').map(m => m.height)"
    )
    assert heights and all(isinstance(h, int | float) and h > 100 for h in heights)
