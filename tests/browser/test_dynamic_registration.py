"""Dynamic registration in a real Chromium, cross-site as with a real LMS: the sandbox admin
page on `localhost` frames the tool's registration page on `127.0.0.1`, the admin clicks
Register and Done, the tool's close message closes the dialog, and a launch through the new
registration reaches the student's path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from lti_tool.lti.registration_invites import new_invite
from lti_tool.models.platform import Registration
from lti_tool.sandbox.models import SandboxLink, SandboxTool
from tests.browser.conftest import axe_violations
from tests.lms import people

pytestmark = pytest.mark.browser


def _no_serious_axe(page, live_server, axe_source: str) -> None:
    frame = next(f for f in page.frames if f.url.startswith(live_server.tool_url))
    serious = [
        v for v in axe_violations(frame, axe_source) if v["impact"] in ("serious", "critical")
    ]
    assert not serious, serious


@pytest.mark.parametrize("slug", ["moodle", "canvas"])
def test_register_by_url_then_launch(live_server, page, artifacts, axe_source, slug: str) -> None:
    with live_server.rt.session_factory() as s:
        invite = new_invite(s, timedelta(hours=1))
        s.commit()
        student = people(s, slug)["student"][0]
    admin_url = f"{live_server.platform_url}/sandbox/{slug}/admin/tools"
    page.goto(admin_url)
    page.get_by_label("Tool URL" if slug == "moodle" else "Dynamic Registration URL").fill(
        f"{live_server.tool_url}/lti/register/{invite}"
    )
    page.get_by_role(
        "button", name="Add LTI Advantage" if slug == "moodle" else "LTI Registration"
    ).click()

    frame = page.frame_locator("#registration-frame")
    frame.get_by_role("heading", name="Register Mastery path with your LMS").wait_for(timeout=15000)
    _no_serious_axe(page, live_server, axe_source)
    frame.get_by_role("button", name="Register").click()
    frame.get_by_role("heading", name="Mastery path is registered").wait_for(timeout=15000)
    registered_frame = next(f for f in page.frames if f.url.startswith(live_server.tool_url))
    assert registered_frame.url.startswith(f"http://127.0.0.1:{live_server.port}/lti/register/")
    page.screenshot(path=str(artifacts / f"dynreg-{slug}-registered.png"), full_page=True)
    _no_serious_axe(page, live_server, axe_source)
    frame.get_by_role("button", name="Done").click()

    # the LMS heard org.imsglobal.lti.close from the tool's origin and closed the dialog
    status = page.locator("#registration-status")
    expected = "The tool is registered" if slug == "moodle" else "registered and on"
    status.filter(has_text=expected).wait_for(timeout=10000)
    assert page.locator("#registration-frame").count() == 0

    with live_server.rt.session_factory() as s:
        tool = s.scalar(select(SandboxTool).where(SandboxTool.registered_by == "dynamic"))
        assert tool is not None
        reg = s.scalar(select(Registration).where(Registration.client_id == tool.client_id))
        assert reg is not None and [d.deployment_id for d in reg.deployments] == [
            tool.deployment_id
        ]
        tool_name, tool_id = tool.name, tool.id
    if slug == "moodle":  # pending until the admin activates it
        page.goto(admin_url)
        page.get_by_role("button", name=f"Activate {tool_name}").click()
        page.get_by_role("status").filter(has_text="is active").wait_for()

    with live_server.rt.session_factory() as s:
        link = s.scalar(select(SandboxLink).where(SandboxLink.tool_id == tool_id))
        assert link is not None
        course_id, link_id = link.course_id, link.id
    page.goto(f"{live_server.platform_url}/sandbox/{slug}/courses/{course_id}?link={link_id}")
    page.get_by_role("button", name=f"Launch as {student.name}").click()
    page.wait_for_url("**/links/**")
    tool_frame = page.locator("iframe.tool").content_frame
    tool_frame.get_by_role("heading", level=1, name="Your path").wait_for(timeout=15000)
    page.screenshot(path=str(artifacts / f"dynreg-{slug}-launch.png"), full_page=True)
