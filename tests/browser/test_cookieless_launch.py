"""A browser that keeps no cookie for the tool inside the LMS page (Safari, a school's policy):
Chromium with third-party cookies blocked and the tool's site refused cookies, since Chromium 156
still keeps partitioned cookies when only third-party cookies are blocked (checked: the demo
launch then succeeds by its partitioned cookie). The Canvas shape's platform storage carries
the launch; the Moodle shape, without storage, fails with a page that says what to do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.lms import course_and_link, people

pytestmark = pytest.mark.browser


@pytest.fixture
def cookieless(browser, tmp_path: Path, live_server) -> Iterator[object]:
    """A Chromium profile that blocks third-party cookies and every cookie of the tool's site
    (127.0.0.1); the sandbox LMS on localhost keeps its own session."""
    profile = {
        "cookie_controls_mode": 1,
        "block_third_party_cookies": True,
        "content_settings": {"exceptions": {"cookies": {"http://127.0.0.1:*,*": {"setting": 2}}}},
    }
    (tmp_path / "profile" / "Default").mkdir(parents=True)
    (tmp_path / "profile" / "Default" / "Preferences").write_text(json.dumps({"profile": profile}))
    context = browser.browser_type.launch_persistent_context(  # type: ignore[attr-defined]
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield context
    context.close()


def _launch(live_server, context, slug: str, role: str) -> tuple[object, object]:
    with live_server.rt.session_factory() as s:
        person = people(s, slug)[role][0]
        course_id, _ = course_and_link(s, slug)
    page = context.new_page()
    page.goto(f"{live_server.platform_url}/sandbox/{slug}/courses/{course_id}")
    page.get_by_role("button", name=f"Launch as {person.name}").click()
    page.wait_for_url("**/links/**")
    return page, page.locator("iframe.tool").content_frame


def _tool_cookies(context, live_server) -> list[str]:
    return [c["name"] for c in context.cookies() if c["domain"] == "127.0.0.1"]


def test_canvas_launch_without_cookies_goes_through_platform_storage(
    live_server, cookieless, artifacts
) -> None:
    page, frame = _launch(live_server, cookieless, "canvas", "teacher")
    frame.get_by_role("heading", level=1, name="Course home").wait_for(timeout=15000)
    tool_frame = next(f for f in page.frames if f.url.startswith(live_server.tool_url))
    # the session rides in the path, the browser kept no cookie of the tool
    assert "/c/t." in tool_frame.url
    assert _tool_cookies(cookieless, live_server) == []
    # the storage keys were read once and cleared
    forwarding = next(f for f in page.frames if f.name == "post_message_forwarding")
    left = forwarding.evaluate(
        "() => Object.keys(localStorage).filter(k => k.startsWith('lti|platform_storage|'))"
    )
    assert left == []
    # a form still passes its CSRF check without a cookie
    frame.get_by_role("button", name="Sync roster").click()
    frame.get_by_role("status").filter(has_text="Roster synced").wait_for(timeout=15000)
    assert _tool_cookies(cookieless, live_server) == []
    page.screenshot(path=str(artifacts / "launch-canvas-cookieless.png"), full_page=True)


def test_moodle_launch_without_cookies_says_open_in_a_new_window(
    live_server, cookieless, artifacts
) -> None:
    page, frame = _launch(live_server, cookieless, "moodle", "student")
    frame.get_by_role("heading", level=1, name="Open the tool in a new window").wait_for(
        timeout=15000
    )
    frame.get_by_role("button", name="Open in a new window").click()
    # Moodle has no requestFullWindowLaunch: the page says nothing opened, and what to do
    frame.get_by_role("status").filter(has_text="did not open a new window").wait_for()
    assert frame.get_by_text("Launch container: New window").is_visible()
    assert _tool_cookies(cookieless, live_server) == []
    page.screenshot(path=str(artifacts / "launch-moodle-cookieless.png"), full_page=True)


def test_canvas_launch_keeps_the_cookie_where_the_browser_keeps_one(
    live_server, page, artifacts
) -> None:
    """Storage offered but the partitioned cookie came back: the cookie session, no token."""
    page, frame = _launch(live_server, page.context, "canvas", "student")
    try:
        frame.get_by_role("heading", level=1, name="Your path").wait_for(timeout=15000)
    finally:
        page.screenshot(path=str(artifacts / "launch-canvas-cookie-kept.png"), full_page=True)
        print([f.url for f in page.frames])
    tool_frame = next(f for f in page.frames if f.url.startswith(live_server.tool_url))
    assert "/c/t." not in tool_frame.url
    assert "lti_tool_session" in _tool_cookies(page.context, live_server)
    # the login's copy in the LMS's storage was cleared on the way (Canvas: 4,096 characters)
    forwarding = next(f for f in page.frames if f.name == "post_message_forwarding")
    left = "() => Object.keys(localStorage).filter(k => k.startsWith('lti|platform_storage|'))"
    forwarding.wait_for_function(f"() => ({left})().length === 0", timeout=5000)
    assert forwarding.evaluate(left) == []


def test_canvas_placement_without_cookies(live_server, cookieless) -> None:
    """Deep linking through platform storage: the picker's forms and its signed answer work
    with the session in the path alone."""
    with live_server.rt.session_factory() as s:
        teacher = people(s, "canvas")["teacher"][0]
        course_id, _ = course_and_link(s, "canvas")
    page = cookieless.new_page()
    page.goto(f"{live_server.platform_url}/sandbox/canvas/courses/{course_id}")
    page.get_by_role("button", name=f"Add mastery modules as {teacher.name}").click()
    frame = page.frame_locator("iframe.tool")
    frame.get_by_role("heading", name="Add modules to your course").wait_for(timeout=15000)
    frame.get_by_label("Title").fill("Comparing fractions")
    frame.get_by_role("button", name="Create module").click()
    frame.get_by_label("Comparing fractions").check()
    frame.get_by_role("button", name="Add to course").click()
    frame.get_by_role("heading", name="Content added to Grade 5 Fractions").wait_for(timeout=15000)
    assert _tool_cookies(cookieless, live_server) == []


ASK = """async ([messages, target]) => {
  const frame = target === "_parent" ? window.parent : window.parent.frames[target];
  const answers = [];
  for (const m of messages) {
    answers.push(await new Promise((resolve) => {
      const listen = (e) => {
        if (e.data && e.data.message_id === m.message_id) {
          window.removeEventListener("message", listen);
          resolve({origin: e.origin, ...e.data});
        }
      };
      window.addEventListener("message", listen);
      frame.postMessage(m, target === "_parent" ? "*" : ORIGIN);
    }));
  }
  return answers;
}"""


def test_sandbox_canvas_storage_answers_as_canvas_does(live_server, page) -> None:
    """The platform side the tool relies on: capabilities, put/get/delete per tool, the old
    subjects, Canvas' size limit, and no answer to a sender that is not a tool."""
    page, frame = _launch(live_server, page.context, "canvas", "student")
    frame.get_by_role("heading", level=1, name="Your path").wait_for(timeout=15000)
    tool = next(f for f in page.frames if f.url.startswith(live_server.tool_url))
    ask = ASK.replace("ORIGIN", repr(live_server.platform_url))

    def m(i: int, subject: str, **fields: object) -> dict[str, object]:
        return {"subject": subject, "message_id": f"m{i}", **fields}

    caps = tool.evaluate(ask, [[m(0, "lti.capabilities")], "_parent"])[0]
    assert caps["subject"] == "lti.capabilities.response"
    assert {"subject": "lti.put_data", "frame": "post_message_forwarding"} in caps[
        "supported_messages"
    ]
    put, get, old_get, delete, gone = tool.evaluate(
        ask,
        [
            [
                m(1, "lti.put_data", key="k", value="v1"),
                m(2, "lti.get_data", key="k"),
                m(3, "org.imsglobal.lti.get_data", key="k"),
                m(4, "lti.put_data", key="k", value=None),
                m(5, "lti.get_data", key="k"),
            ],
            "post_message_forwarding",
        ],
    )
    assert put["subject"] == "lti.put_data.response" and put["value"] == "v1"
    assert put["origin"] == live_server.platform_url  # answers come from the auth origin
    assert get["value"] == "v1" and old_get["subject"] == "org.imsglobal.lti.get_data.response"
    assert old_get["value"] == "v1" and delete["value"] is None and gone["value"] is None
    full = tool.evaluate(
        ask, [[m(6, "lti.put_data", key="big", value="x" * 4100)], "post_message_forwarding"]
    )[0]
    assert full["error"]["code"] == "storage_exhaustion"
    # the LMS page itself is not a tool: the frame refuses its origin
    sandbox_page = page.evaluate(
        ask.replace("window.parent.frames[target]", "window.frames[target]"),
        [[m(7, "lti.get_data", key="k")], "post_message_forwarding"],
    )[0]
    assert sandbox_page["error"]["code"] == "wrong_origin"
