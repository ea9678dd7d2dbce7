"""Key rotation on both sides: the platform's new key is picked up by a refetch, and the
tool's new key is published before it signs, so the platform still verifies the tool."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
import requests
from sqlalchemy import select

from lti_tool import keys
from lti_tool.clients.tokens import request_token
from lti_tool.models.platform import Registration
from lti_tool.sandbox.models import SandboxPlatform
from lti_tool.sandbox.platform import add_platform_key
from tests.lms import Browser, course_and_link, launch_as, people

pytestmark = pytest.mark.postgres
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def _id_token_kid(browser: Browser) -> str:
    posted = [r for r in browser.history if r.request.url.endswith("/lti/launch")][-1]
    body = dict(p.split("=", 1) for p in posted.request.body.split("&"))
    return str(jwt.get_unverified_header(requests.utils.unquote(body["id_token"]))["kid"])


@pytest.mark.parametrize("slug", ["canvas", "moodle"])
def test_platform_rotates_key_and_launches_still_work(live_server, slug: str) -> None:
    rt = live_server.rt
    with rt.session_factory() as s:
        student = people(s, slug)["student"][0]
        course_id, link_id = course_and_link(s, slug)
    first = Browser()
    assert (
        launch_as(
            first, live_server.platform_url, slug, course_id, link_id, student.user_id
        ).status_code
        == 200
    )
    old_kid = _id_token_kid(first)

    with rt.session_factory() as s:
        platform = s.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == slug))
        new_kid = add_platform_key(s, platform).kid
        s.commit()

    second = Browser()
    page = launch_as(second, live_server.platform_url, slug, course_id, link_id, student.user_id)
    assert page.status_code == 200 and "Your path" in page.text
    assert _id_token_kid(second) == new_kid != old_kid


def _token(live_server, slug: str):
    rt = live_server.rt
    with rt.session_factory() as s:
        platform = s.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == slug))
        reg = s.scalar(select(Registration).where(Registration.issuer == platform.issuer))
        return request_token(requests.Session(), s, reg, [NRPS], "", 5)


@pytest.mark.parametrize("slug", ["canvas", "moodle"])
def test_tool_rotates_key_and_platform_still_verifies(live_server, slug: str) -> None:
    rt = live_server.rt
    assert _token(live_server, slug).scopes == (NRPS,)
    with rt.session_factory() as s:
        old_kid, _ = keys.signing_key(s, "")
        # published now, signing at once: the platform has cached only the old key
        new = keys.rotate(s, "", timedelta(0), timedelta(days=7))
        s.commit()
        new_kid = new.kid
    with rt.session_factory() as s:
        assert keys.signing_key(s, "")[0] == new_kid != old_kid
    assert _token(live_server, slug).token
    published = requests.get(f"{live_server.tool_url}/.well-known/jwks.json", timeout=5).json()
    assert {k["kid"] for k in published["keys"]} == {old_kid, new_kid}


def test_rotated_key_is_published_before_it_signs(live_server) -> None:
    rt = live_server.rt
    with rt.session_factory() as s:
        old_kid, _ = keys.signing_key(s, "")
        new = keys.rotate(s, "", timedelta(hours=1), timedelta(days=7))
        s.commit()
        new_kid = new.kid
    published = requests.get(f"{live_server.tool_url}/.well-known/jwks.json", timeout=5).json()
    assert new_kid in {k["kid"] for k in published["keys"]}
    with rt.session_factory() as s:
        assert keys.signing_key(s, "")[0] == old_kid
    assert _token(live_server, "moodle").token


@pytest.mark.parametrize("settings_overrides", [{"jwks_refetch_min_interval_seconds": 5}])
def test_rotation_right_after_the_first_download_is_picked_up(
    live_server, caplog: pytest.LogCaptureFixture
) -> None:
    """The refetch spacing counts from the last refetch for an unknown kid, not from any
    download: a platform that rotates its key a second after the tool first downloaded its
    keys is not refused (it was, for the spacing's 5 seconds), and the log says what
    really happened."""
    caplog.set_level("INFO", logger="lti_tool.lti.platform_keys")
    rt = live_server.rt
    with rt.session_factory() as s:
        student = people(s, "moodle")["student"][0]
        course_id, link_id = course_and_link(s, "moodle")
    url = live_server.platform_url
    assert launch_as(Browser(), url, "moodle", course_id, link_id, student.user_id).ok
    with rt.session_factory() as s:
        platform = s.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == "moodle"))
        new_kid = add_platform_key(s, platform).kid
        s.commit()

    second = Browser()
    page = launch_as(second, url, "moodle", course_id, link_id, student.user_id)
    assert page.status_code == 200 and "Your path" in page.text, page.text[:600]
    assert _id_token_kid(second) == new_kid
    said = [r.getMessage() for r in caplog.records if r.name == "lti_tool.lti.platform_keys"]
    assert any("refetched" in m and new_kid in m and "now known" in m for m in said), said
    assert not any("too recently" in m for m in said), said
