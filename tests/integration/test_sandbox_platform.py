"""The sandbox refuses what a real platform refuses, and speaks each platform's shape."""

from __future__ import annotations

import jwt
import pytest
import requests
from sqlalchemy import select

from lti_tool.sandbox.models import SandboxPlatform, SandboxTool
from tests.lms import Browser, auth_url_of, course_and_link, forms, people, query

pytestmark = pytest.mark.postgres


def _auth_request(live_server, slug: str, **changes: str):
    """Log in to the sandbox as a student, start a login at the tool, then call the
    platform's auth endpoint with the tool's request, changed as asked."""
    rt = live_server.rt
    with rt.session_factory() as s:
        student = people(s, slug)["student"][0]
        course_id, link_id = course_and_link(s, slug)
    b = Browser()
    b.post(
        f"{live_server.platform_url}/sandbox/{slug}/courses/{course_id}/launch-as",
        {"user_id": str(student.user_id), "link_id": str(link_id)},
    )
    initiate = b.get(f"{live_server.platform_url}/sandbox/{slug}/links/{link_id}/initiate")
    form = forms(initiate.text)[0]
    to_tool = b.http.post(form["action"], data=form["fields"], allow_redirects=False, timeout=10)
    auth_url = auth_url_of(to_tool)
    params = {**query(auth_url), **changes}
    return b.get(auth_url.split("?", 1)[0], params=params), form["fields"]


@pytest.mark.parametrize("slug", ["canvas", "moodle"])
def test_wrong_redirect_uri_refused_without_redirecting(live_server, slug: str) -> None:
    resp, _ = _auth_request(live_server, slug, redirect_uri="https://attacker.example/launch")
    assert resp.status_code == 400
    assert "redirect_uri" in resp.text and not forms(resp.text)  # nothing posted anywhere


@pytest.mark.parametrize("slug", ["canvas", "moodle"])
def test_unknown_client_refused(live_server, slug: str) -> None:
    resp, _ = _auth_request(live_server, slug, client_id="not-registered")
    assert resp.status_code == 400 and "unknown client_id" in resp.text


def test_login_hint_of_another_user_gets_login_required(live_server) -> None:
    resp, _ = _auth_request(live_server, "moodle", login_hint="99999")
    fields = forms(resp.text)[0]["fields"]
    assert fields["error"] == "login_required" and "id_token" not in fields
    # the tool shows the platform's refusal as a clear page
    b = Browser()
    shown = b.post(forms(resp.text)[0]["action"], fields)
    assert shown.status_code == 400 and "LMS refused the login" in shown.text


def _id_token(live_server, slug: str) -> tuple[dict, dict, dict]:
    resp, login_params = _auth_request(live_server, slug)
    token = forms(resp.text)[0]["fields"]["id_token"]
    return (
        jwt.get_unverified_header(token),
        jwt.decode(token, options={"verify_signature": False}),
        login_params,
    )


def test_canvas_shape(live_server) -> None:
    header, claims, login = _id_token(live_server, "canvas")
    # an origin without a path, as Canvas' (the sandbox's own, so its dynamic registration's
    # configuration URL is on the issuer's site)
    assert claims["iss"] == live_server.platform_url
    assert claims["azp"] == claims["aud"] and claims["exp"] - claims["iat"] == 3600
    dep = claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"]
    assert ":" in dep and login["lti_storage_target"] == "post_message_forwarding"
    assert login["client_id"].isdigit() and login["deployment_id"] == dep
    assert claims["https://www.instructure.com/placement"] == "course_navigation"
    assert header["alg"] == "RS256" and header["kid"]


def test_moodle_shape(live_server) -> None:
    _, claims, login = _id_token(live_server, "moodle")
    assert claims["iss"] == f"{live_server.platform_url}/sandbox/moodle"
    assert isinstance(claims["aud"], str) and "azp" not in claims
    assert claims["exp"] - claims["iat"] == 60
    assert claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"].isdigit()
    assert claims["https://purl.imsglobal.org/spec/lti/claim/context"]["type"] == ["CourseSection"]
    assert (
        claims["https://purl.imsglobal.org/spec/lti/claim/tool_platform"]["product_family_code"]
        == "moodle"
    )
    assert "lti_storage_target" not in login


def test_token_endpoint_refuses_a_forged_assertion(live_server) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    rt = live_server.rt
    with rt.session_factory() as s:
        platform = s.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == "moodle"))
        tool = s.scalar(select(SandboxTool).where(SandboxTool.platform_id == platform.id))
        token_url = f"{live_server.platform_url}/sandbox/moodle/mod/lti/token.php"
        client_id = tool.client_id
    import time

    now = int(time.time())
    forged = jwt.encode(
        {
            "iss": client_id,
            "sub": client_id,
            "aud": token_url,
            "iat": now,
            "exp": now + 60,
            "jti": "x",
        },
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": "not-the-tools"},
    )
    resp = requests.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": forged,
            "scope": "https://purl.imsglobal.org/spec/lti-ags/scope/score",
        },
        timeout=10,
    )
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
