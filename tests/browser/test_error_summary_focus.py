"""After a refused import of many competencies, the reader is taken to the mistakes: inside the
LMS's iframe the error summary at the top has the focus and is in view."""

from __future__ import annotations

import pytest

from tests.browser.conftest import axe_violations
from tests.lms import course_and_link, people

pytestmark = pytest.mark.browser


def test_the_error_summary_has_the_focus_after_a_failed_import(
    live_server, page, axe_source
) -> None:
    with live_server.rt.session_factory() as s:
        teacher = people(s, "canvas")["teacher"][0]
        course_id, _ = course_and_link(s, "canvas")
    page.goto(f"{live_server.platform_url}/sandbox/canvas/courses/{course_id}")
    page.get_by_role("button", name=f"Launch as {teacher.name}").click()
    page.locator("iframe.tool").content_frame.get_by_role("heading", level=1).wait_for(
        timeout=15000
    )
    frame = next(f for f in page.frames if f.url.startswith(live_server.tool_url))
    base = frame.url.rsplit("/", 1)[0]
    frame.goto(f"{base}/setup/competencies")
    lines = ["code,title,parent"] + [f"C-{i},Competency {i}," for i in range(1, 66)]
    frame.fill("#csv_text", "\n".join([*lines, "C-66,Competency 66,NOPE"]))
    frame.get_by_role("button", name="Import").click()
    frame.wait_for_selector("#error-summary", timeout=10000)
    frame.wait_for_function(
        "() => document.activeElement && document.activeElement.id === 'error-summary'",
        timeout=5000,
    )
    top = frame.evaluate(
        "() => document.getElementById('error-summary').getBoundingClientRect().top"
    )
    scrolled = frame.evaluate("() => window.scrollY")
    assert top + scrolled < 200, "the summary is at the top of the page"
    frame.get_by_role("link", name='Line 67, column "parent"', exact=False).click()
    assert frame.evaluate("() => location.hash") == "#import-problems"
    serious = [
        v for v in axe_violations(frame, axe_source) if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], serious
