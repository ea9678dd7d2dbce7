"""What a launch leaves in the browser and in the HTTP headers: cookies, framing, caching."""

from __future__ import annotations

import pytest

from tests.lms import Browser, course_and_link, launch_as, people

pytestmark = pytest.mark.postgres


def _set_cookies(resp) -> list[str]:
    return list(resp.raw.headers.getlist("Set-Cookie"))


def test_state_cookie_is_deleted_with_the_attributes_that_set_it(live_server) -> None:
    """A framed browser deletes a partitioned cookie only with the same attributes; without
    them the state cookie stayed 10 minutes inside the LMS iframe."""
    with live_server.rt.session_factory() as s:
        student = people(s, "moodle")["student"][0]
        course_id, link_id = course_and_link(s, "moodle")
    browser = Browser()
    page = launch_as(
        browser, live_server.platform_url, "moodle", course_id, link_id, student.user_id
    )
    assert page.status_code == 200
    login = next(r for r in browser.history if "/lti/login" in r.url)
    launch = next(r for r in browser.history if r.url.endswith("/lti/launch"))
    (state_set,) = [c for c in _set_cookies(login) if c.startswith("lti_tool_state_")]
    name = state_set.split("=", 1)[0]
    deleting = [c for c in _set_cookies(launch) if c.startswith(name + "=")]
    assert len(deleting) == 1, _set_cookies(launch)
    attributes = {a.strip().split("=")[0].lower() for a in deleting[0].split(";")[1:]}
    assert {"secure", "samesite", "partitioned", "path", "max-age"} <= attributes, deleting
    assert "SameSite=None" in deleting[0] and "Max-Age=0" in deleting[0]
    assert "Path=/lti/" in deleting[0]
    assert name not in {c.name for c in browser.http.cookies}


def test_refused_launch_deletes_its_state_cookie_too(live_server) -> None:
    from tests.integration.test_launch_refusals import LTI, Forger

    f = Forger(live_server)
    state, nonce = f.login()
    claims = f.claims(nonce)
    claims[LTI + "version"] = "1.1"
    resp = f.post(f.sign(claims), state)
    assert resp.status_code == 400
    (deleting,) = [c for c in _set_cookies(resp) if c.startswith(f"lti_tool_state_{state}=")]
    assert "Partitioned" in deleting and "Max-Age=0" in deleting
