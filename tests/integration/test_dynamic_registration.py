"""LTI Dynamic Registration over real HTTP: the sandbox LMS (Moodle and Canvas shapes) opens
the tool's registration URL, the tool reads the LMS's configuration, registers, stores what
the LMS answered, and a launch through the new registration works. Refusals each get a page
that says what went wrong, and nothing is stored."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from sqlalchemy import select

from lti_tool.lti.registration_invites import new_invite
from lti_tool.models.platform import Registration, RegistrationInvite
from lti_tool.sandbox.models import SandboxLink, SandboxTool
from tests.lms import Browser, forms, launch_as, people

TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"


def _invite(live_server, hours: int = 1) -> str:
    with live_server.rt.session_factory() as s:
        token = new_invite(s, timedelta(hours=hours))
        s.commit()
    return token


def _open_in_lms(b: Browser, live_server, slug: str, tool_url: str, **extra: str) -> str:
    """The sandbox admin pastes the URL; returns the frame's src (the tool's page URL)."""
    admin = b.get(f"{live_server.platform_url}/sandbox/{slug}/admin/tools")
    assert admin.status_code == 200
    form = forms(admin.text)[0]
    shown = b.post(
        f"{live_server.platform_url}{form['action']}",
        {"csrf_token": form["fields"]["csrf_token"], "url": tool_url, **extra},
    )
    assert shown.status_code == 200, shown.text[:300]
    src = re.search(r'id="registration-frame"[^>]*src="([^"]+)"', shown.text)
    assert src, shown.text[:500]
    return unescape(src.group(1))


def _register(b: Browser, frame_src: str) -> Any:
    """The frame's page, then its Register button."""
    confirm = b.get(frame_src)
    assert confirm.status_code == 200, confirm.text[:500]
    form = forms(confirm.text)[0]
    return b.post(frame_src.split("?", 1)[0], form["fields"])


def _registrations(live_server) -> list[Registration]:
    with live_server.rt.session_factory() as s:
        rows = list(s.scalars(select(Registration).order_by(Registration.id)))
        for r in rows:
            _ = r.deployments
        s.expunge_all()
        return rows


def _new_tool(live_server, slug: str) -> SandboxTool:
    with live_server.rt.session_factory() as s:
        tool = s.scalar(
            select(SandboxTool)
            .where(SandboxTool.registered_by == "dynamic")
            .order_by(SandboxTool.id.desc())
        )
        assert tool is not None
        s.expunge(tool)
        return tool


def _launch_new_link(live_server, slug: str, tool: SandboxTool) -> Any:
    with live_server.rt.session_factory() as s:
        link = s.scalar(select(SandboxLink).where(SandboxLink.tool_id == tool.id))
        assert link is not None
        course_id, link_id = link.course_id, link.id
        student = people(s, slug)["student"][0]
    return launch_as(Browser(), live_server.platform_url, slug, course_id, link_id, student.user_id)


def test_moodle_registration_then_pending_then_launch(live_server) -> None:
    b = Browser()
    before = len(_registrations(live_server))
    src = _open_in_lms(
        b, live_server, "moodle", f"{live_server.tool_url}/lti/register/{_invite(live_server)}"
    )
    assert "openid_configuration=" in src and "registration_token=" in src
    page = b.get(src)
    # the page may be framed by the LMS registering, named by its configuration URL
    assert "frame-ancestors http://localhost:" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    done = _register(b, src)
    assert done.status_code == 200, done.text[:800]
    assert "Mastery path is registered" in done.text
    assert "registration_close.js" in done.text and "pending" in done.text
    tool = _new_tool(live_server, "moodle")
    regs = _registrations(live_server)
    assert len(regs) == before + 1
    reg = regs[-1]
    assert (reg.issuer, reg.client_id) == (
        f"{live_server.platform_url}/sandbox/moodle",
        tool.client_id,
    )
    assert len(tool.client_id) == 15 and reg.platform_family == "moodle"
    # Moodle nests the deployment id (its tool type id) in the tool configuration
    assert [(d.deployment_id, d.allowed) for d in reg.deployments] == [(str(tool.id), True)]
    assert reg.auth_login_url.endswith("/sandbox/moodle/mod/lti/auth.php")
    # what the tool asked for, as Moodle got it
    body = tool.registration
    assert body[TOOL_CONFIG]["custom_parameters"]["context_history"] == "$Context.id.history"
    assert "lti-ags/scope/lineitem " in body["scope"] + " "
    assert body[TOOL_CONFIG]["domain"] == live_server.tool_url.split("://", 1)[1]
    assert tool.state == "pending"
    # pending: Moodle refuses launches until the admin activates it (no link exists yet)
    admin = b.get(f"{live_server.platform_url}/sandbox/moodle/admin/tools")
    activate = next(f for f in forms(admin.text) if f["action"].endswith("/activate"))
    b.post(f"{live_server.platform_url}{activate['action']}", activate["fields"])
    landing = _launch_new_link(live_server, "moodle", tool)
    assert landing.status_code == 200 and "Your path" in landing.text, landing.text[:500]


@pytest.mark.parametrize("older_flow", [False, True])
def test_canvas_registration_then_launch(live_server, older_flow: bool) -> None:
    b = Browser()
    extra = {"older_flow": "1"} if older_flow else {}
    src = _open_in_lms(
        b,
        live_server,
        "canvas",
        f"{live_server.tool_url}/lti/register/{_invite(live_server)}",
        **extra,
    )
    done = _register(b, src)
    assert done.status_code == 200 and "Mastery path is registered" in done.text, done.text[:800]
    tool = _new_tool(live_server, "canvas")
    reg = _registrations(live_server)[-1]
    assert (reg.issuer, reg.client_id, reg.platform_family) == (
        live_server.platform_url,
        tool.client_id,
        "canvas",
    )
    body = tool.registration
    config = body[TOOL_CONFIG]
    assert config["https://canvas.instructure.com/lti/privacy_level"] == "public"
    placements = {p for m in config["messages"] for p in m.get("placements", [])}
    assert {"course_navigation", "link_selection", "assignment_selection"} <= placements
    assert config["custom_parameters"]["context_history"] == "$Context.id.history"
    # kept by the LMS as tool-level custom parameters, expanded in every launch (course copy)
    assert tool.custom["context_history"] == "$Context.id.history"
    if older_flow:
        # no deployment in the answer: the first launch's deployment is allowed
        assert reg.deployments == [] and reg.allow_first_deployment
        assert "the first installation that launches the tool is allowed" in done.text
    else:
        assert [(d.deployment_id, d.allowed) for d in reg.deployments] == [
            (tool.deployment_id, True)
        ]
    landing = _launch_new_link(live_server, "canvas", tool)
    assert landing.status_code == 200 and "Your path" in landing.text, landing.text[:500]
    reg = _registrations(live_server)[-1]
    assert [(d.deployment_id, d.allowed) for d in reg.deployments] == [(tool.deployment_id, True)]
    assert not reg.allow_first_deployment


def test_first_deployment_only(live_server) -> None:
    """Of a registration that named no deployment, only the first deployment is allowed."""
    b = Browser()
    src = _open_in_lms(
        b,
        live_server,
        "canvas",
        f"{live_server.tool_url}/lti/register/{_invite(live_server)}",
        older_flow="1",
    )
    assert _register(b, src).status_code == 200
    tool = _new_tool(live_server, "canvas")
    assert _launch_new_link(live_server, "canvas", tool).status_code == 200
    with live_server.rt.session_factory() as s:  # the LMS installs it a second time
        s.get(SandboxTool, tool.id).deployment_id = "99:second"
        s.commit()
    live_server.app.extensions["lti_tool_sandbox"].extensions["sandbox"].tools.clear()
    second = _launch_new_link(live_server, "canvas", tool)
    assert second.status_code == 403 and "not allowed yet" in second.text


def test_repeat_updates_never_duplicates(live_server) -> None:
    """The same issuer and client id registered again (an LMS re-registering its key, a
    second installation): one row, brought up to date, with both deployments."""
    answers = {"/config": GOOD, "/register": (200, "application/json", _answer("7"))}
    with _lms(answers) as lms:
        for deployment in ("7", "8"):
            answers["/register"] = (200, "application/json", _answer(deployment))
            page = Browser().post(
                f"{live_server.tool_url}/lti/register/{_invite(live_server)}",
                {"openid_configuration": f"{lms}/config", "registration_token": "t"},
            )
            assert page.status_code == 200, page.text[:500]
            if deployment == "7":
                assert "The tool now trusts this LMS" in page.text
                with live_server.rt.session_factory() as s:  # an endpoint moved meanwhile
                    s.execute(
                        Registration.__table__.update()
                        .where(Registration.client_id == "4242")
                        .values(auth_login_url="https://stale.example/auth")
                    )
                    s.commit()
    assert "its details are up to date" in page.text
    regs = [r for r in _registrations(live_server) if r.client_id == "4242"]
    assert len(regs) == 1
    assert regs[0].auth_login_url == f"{lms}/auth"
    assert sorted((d.deployment_id, d.allowed) for d in regs[0].deployments) == [
        ("7", True),
        ("8", True),
    ]


def test_token_required(live_server) -> None:
    """Closed by default: no invite, a made-up one, an expired one, a used one."""
    b = Browser()
    before = len(_registrations(live_server))
    for path, words in [
        ("/lti/register", "Registration needs an invite"),
        ("/lti/register/not-an-invite", "This registration link is not valid."),
    ]:
        src = _open_in_lms(b, live_server, "moodle", live_server.tool_url + path)
        page = b.get(src)
        assert page.status_code == 403 and words in page.text
        assert "frame-ancestors http://localhost:" in page.headers["Content-Security-Policy"]
        posted = b.post(
            src.split("?", 1)[0], {"openid_configuration": "x", "registration_token": "y"}
        )
        assert posted.status_code == 403
    with live_server.rt.session_factory() as s:
        expired = new_invite(s, timedelta(seconds=-1))
        s.commit()
    src = _open_in_lms(b, live_server, "moodle", f"{live_server.tool_url}/lti/register/{expired}")
    assert "has expired" in b.get(src).text
    invite = _invite(live_server)
    src = _open_in_lms(b, live_server, "moodle", f"{live_server.tool_url}/lti/register/{invite}")
    assert _register(b, src).status_code == 200
    src = _open_in_lms(b, live_server, "moodle", f"{live_server.tool_url}/lti/register/{invite}")
    used = b.get(src)
    assert used.status_code == 403 and "already used" in used.text
    assert len(_registrations(live_server)) == before + 1
    with live_server.rt.session_factory() as s:
        row = s.scalar(select(RegistrationInvite).where(RegistrationInvite.used_at.is_not(None)))
        assert row is not None and row.registration_id is not None
        assert invite not in row.token_hash  # only a hash is kept


@pytest.mark.parametrize("settings_overrides", [{"registration_open": True}])
def test_open_registration_needs_no_invite(live_server) -> None:
    b = Browser()
    src = _open_in_lms(b, live_server, "moodle", f"{live_server.tool_url}/lti/register")
    assert _register(b, src).status_code == 200
    assert _new_tool(live_server, "moodle").client_id == _registrations(live_server)[-1].client_id


def test_moodle_token_used_twice(live_server) -> None:
    """Reloading the frame after a registration reuses Moodle's single-use token: 401
    token_already_used, shown with what to do, and no second registration."""
    b = Browser()
    src = _open_in_lms(
        b, live_server, "moodle", f"{live_server.tool_url}/lti/register/{_invite(live_server)}"
    )
    confirm = b.get(src)
    fields = forms(confirm.text)[0]["fields"]
    assert b.post(src.split("?", 1)[0], fields).status_code == 200
    count = len(_registrations(live_server))
    with live_server.rt.session_factory() as s:
        second = new_invite(s, timedelta(hours=1))
        s.commit()
    again = b.post(f"{live_server.tool_url}/lti/register/{second}", fields)
    assert again.status_code == 502
    assert "The LMS refused the registration token" in again.text
    assert "token_already_used" in again.text and "Start the registration again" in again.text
    assert len(_registrations(live_server)) == count


class _FakeLms(BaseHTTPRequestHandler):
    """A misbehaving LMS: each path answers one way (configuration and registration)."""

    answers: dict[str, tuple[int, str, str]] = {}

    def _answer(self) -> None:
        status, ctype, body = self.answers.get(
            self.path.split("?", 1)[0], (404, "text/plain", "no")
        )
        data = body.replace(
            "{origin}", f"http://127.0.0.1:{self.server.server_address[1]}"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _answer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def _lms(answers: dict[str, tuple[int, str, str]]) -> Iterator[str]:
    handler = type("Lms", (_FakeLms,), {"answers": answers})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _config(issuer: str = "{origin}") -> str:
    import json

    return json.dumps(
        {
            "issuer": issuer,
            "authorization_endpoint": "{origin}/auth",
            "token_endpoint": "{origin}/token",
            "jwks_uri": "{origin}/jwks",
            "registration_endpoint": "{origin}/register",
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "moodle",
                "messages_supported": ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"],
            },
        }
    )


GOOD = (200, "application/json", _config())


def _answer(deployment: str) -> str:
    import json

    return json.dumps({"client_id": "4242", TOOL_CONFIG: {"deployment_id": deployment}})


REFUSALS = [
    # (configuration answer, registration answer, status, words on the page)
    ((401, "application/json", '{"errorMessage": "bad token"}'), None, 502,
     "The LMS refused the registration token"),
    ((200, "text/html", "<html>Log in</html>"), None, 502,
     "The LMS answered something the tool cannot read"),
    ((200, "application/json", _config("https://elsewhere.example")), None, 400,
     "is not on the site it came from"),
    ((200, "application/json", "[1, 2]"), None, 400, "the configuration is not a JSON object"),
    (GOOD, (401, "text/plain", "token_already_used"), 502, "token_already_used"),
    (GOOD, (400, "text/plain", "domain_targetlinkuri_mismatch"), 502,
     "domain_targetlinkuri_mismatch"),
    (GOOD, (422, "application/json", '{"errors": {"message": "invalid scopes"}}'), 502,
     "invalid scopes"),
    (GOOD, (200, "text/plain", "ok"), 502, "The LMS answered something the tool cannot read"),
    (GOOD, (200, "application/json", '{"client_name": "x"}'), 502, "has no usable client_id"),
]  # fmt: skip


@pytest.mark.parametrize(("config", "answer", "status", "words"), REFUSALS)
def test_each_refusal_gets_its_page(live_server, config, answer, status, words) -> None:
    before = len(_registrations(live_server))
    invite = _invite(live_server)
    answers = {"/config": config}
    if answer is not None:
        answers["/register"] = answer
    with _lms(answers) as lms:
        query = urlencode({"openid_configuration": f"{lms}/config", "registration_token": "t"})
        url = f"{live_server.tool_url}/lti/register/{invite}"
        b = Browser()
        if answer is None:
            page = b.get(f"{url}?{query}")
        else:
            page = b.post(url, {"openid_configuration": f"{lms}/config", "registration_token": "t"})
    assert page.status_code == status, page.text[:500]
    assert words in unescape(page.text)
    assert "Nothing was registered" in page.text
    assert f"frame-ancestors {lms}" in page.headers["Content-Security-Policy"]
    assert len(_registrations(live_server)) == before
    with live_server.rt.session_factory() as s:  # the invite is still good for another try
        assert (
            s.scalar(select(RegistrationInvite.used_at).order_by(RegistrationInvite.id.desc()))
            is None
        )


def test_lms_down(live_server, caplog) -> None:
    """Nobody answers at the configuration URL; the token in its query (Canvas puts it there)
    stays out of the log and the page."""
    from tests.conftest import free_port

    invite = _invite(live_server)
    dead = f"http://127.0.0.1:{free_port()}/config?registration_token=secret-token-123"
    with caplog.at_level("INFO"):
        page = Browser().get(
            f"{live_server.tool_url}/lti/register/{invite}?"
            + urlencode({"openid_configuration": dead, "registration_token": "secret-token-123"})
        )
    assert page.status_code == 502 and "The LMS did not answer" in page.text
    assert "/config" in page.text and "secret-token-123" not in page.text
    # (the development server's own access log, werkzeug's, prints every query string)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    assert "registration refused" in logged and "secret-token-123" not in logged


def test_opened_without_the_lms(live_server) -> None:
    page = Browser().get(f"{live_server.tool_url}/lti/register/{_invite(live_server)}")
    assert page.status_code == 400 and "Open this page from your LMS" in page.text


def _sandbox_token(b: Browser, live_server, slug: str) -> tuple[str, str]:
    """(openid_configuration, registration_token) as the sandbox hands them to a tool."""
    src = _open_in_lms(b, live_server, slug, f"{live_server.tool_url}/lti/register/x")
    q = parse_qs(urlsplit(src).query)
    return q["openid_configuration"][0], q["registration_token"][0]


def _request_body(live_server, **tool_changes: Any) -> dict[str, Any]:
    tool = {
        "domain": live_server.tool_url.split("://", 1)[1],
        "target_link_uri": f"{live_server.tool_url}/lti/launch",
        "messages": [{"type": "LtiDeepLinkingRequest", "placements": ["link_selection"]}],
        **tool_changes,
    }
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": f"{live_server.tool_url}/lti/login",
        "redirect_uris": [f"{live_server.tool_url}/lti/launch"],
        "client_name": "Mastery path",
        "jwks_uri": f"{live_server.tool_url}/.well-known/jwks.json",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": "https://purl.imsglobal.org/spec/lti-ags/scope/score",
        TOOL_CONFIG: tool,
    }


def test_sandbox_moodle_checks_requests_as_moodle(live_server) -> None:
    b = Browser()
    config_url, token = _sandbox_token(b, live_server, "moodle")
    config = requests.get(config_url, timeout=10).json()  # Moodle's needs no token
    assert (
        config["https://purl.imsglobal.org/spec/lti-platform-configuration"]["product_family_code"]
        == "moodle"
    )
    endpoint = config["registration_endpoint"]
    assert endpoint.endswith("/sandbox/moodle/mod/lti/openid-registration.php")

    def post(body: dict[str, Any], bearer: str = token) -> requests.Response:
        return requests.post(
            endpoint, json=body, headers={"Authorization": f"Bearer {bearer}"}, timeout=10
        )

    forged = post(_request_body(live_server), "forged")
    assert (forged.status_code, forged.text) == (401, "invalid_token")
    mismatch = post(_request_body(live_server, domain="tool.example"))
    assert (mismatch.status_code, mismatch.text) == (400, "domain_targetlinkuri_mismatch")
    assert mismatch.headers["Content-Type"].startswith("text/plain")
    missing = _request_body(live_server)
    del missing["jwks_uri"]
    assert post(missing).text == "missing required attribute jwks_uri"
    # refused requests leave the token usable; a good one uses it up
    done = post(_request_body(live_server))
    assert done.status_code == 200, done.text
    answer = done.json()
    assert len(answer["client_id"]) == 15 and answer[TOOL_CONFIG]["deployment_id"].isdigit()
    again = post(_request_body(live_server))
    assert (again.status_code, again.text) == (401, "token_already_used")


def test_sandbox_canvas_checks_requests_as_canvas(live_server) -> None:
    b = Browser()
    config_url, token = _sandbox_token(b, live_server, "canvas")
    assert "registration_token=" in config_url
    bare = config_url.split("?", 1)[0]
    refused = requests.get(bare, timeout=10)
    assert refused.status_code == 401 and "errorMessage" in refused.json()
    config = requests.get(bare, headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert config["issuer"] == live_server.platform_url
    endpoint = config["registration_endpoint"]

    def post(body: dict[str, Any]) -> requests.Response:
        return requests.post(
            endpoint, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )

    unknown = _request_body(live_server)
    unknown["scope"] += " https://purl.imsglobal.org/spec/lti-ags/scope/everything"
    answer = post(unknown)
    assert answer.status_code == 422 and "invalid scopes" in answer.json()["errors"]["message"]
    placement = _request_body(
        live_server, messages=[{"type": "LtiResourceLinkRequest", "placements": ["moon"]}]
    )
    assert post(placement).status_code == 422
    privacy = _request_body(
        live_server, **{"https://canvas.instructure.com/lti/privacy_level": "everything"}
    )
    assert post(privacy).status_code == 422
    done = post(_request_body(live_server))
    assert done.status_code == 200 and done.json()["client_id"].isdigit()
    assert ":" in done.json()["deployment_id"]
