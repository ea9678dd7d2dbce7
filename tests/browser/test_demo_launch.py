"""The demo in a real Chromium: the sandbox LMS on `localhost` frames the tool on
`127.0.0.1` (another site), so a cookie or framing mistake fails here as in a classroom."""

from __future__ import annotations

import pytest

from tests.lms import course_and_link, people

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("slug", ["canvas", "moodle"])
@pytest.mark.parametrize(
    ("role", "heading"), [("student", "Your path"), ("teacher", "Course home")]
)
def test_launch_in_lms_iframe(
    live_server, page, artifacts, slug: str, role: str, heading: str
) -> None:
    with live_server.rt.session_factory() as s:
        person = people(s, slug)[role][0]
        course_id, _ = course_and_link(s, slug)
    page.goto(f"{live_server.platform_url}/sandbox/{slug}/courses/{course_id}")
    page.get_by_role("button", name=f"Launch as {person.name}").click()
    page.wait_for_url("**/links/**")

    frame_el = page.locator("iframe.tool")
    frame = frame_el.content_frame
    frame.get_by_role("heading", level=1, name=heading).wait_for(timeout=15000)
    assert frame.get_by_text("Grade 5 Fractions").first.is_visible()

    tool_frame = next(f for f in page.frames if f.url.startswith(live_server.tool_url))
    assert tool_frame.url.startswith(f"http://127.0.0.1:{live_server.port}/c/")
    assert page.url.startswith(f"http://localhost:{live_server.port}/sandbox/")
    # the tool's session cookie exists, partitioned under the LMS's site
    cookies = page.context.cookies(live_server.tool_url)
    session_cookie = next(c for c in cookies if c["name"] == "lti_tool_session")
    assert session_cookie["sameSite"] == "None" and session_cookie["secure"]
    assert session_cookie.get("partitionKey", "").startswith("http://localhost")
    # the login's state cookie is gone once the launch used it (issue 10, item 7)
    every = page.context.cookies()  # all paths: the state cookie lives under /lti/
    assert not [c["name"] for c in every if c["name"].startswith("lti_tool_state_")]
    page.screenshot(path=str(artifacts / f"launch-{slug}-{role}.png"), full_page=True)
