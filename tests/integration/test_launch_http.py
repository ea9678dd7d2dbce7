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


PRODUCTION = {
    "environment": "production",
    "secret_key": "s" * 40,
    "base_url": "https://tool.school.example",
    "sandbox_enabled": False,
}


def _ancestors(resp) -> set[str]:
    csp = resp.headers["Content-Security-Policy"]
    return set(csp.split("frame-ancestors ", 1)[1].split(";", 1)[0].split())


@pytest.fixture
def production_app(database_url: str):
    """The tool as production runs it, with a Moodle and a Canvas registered."""
    from lti_tool.models.platform import Registration
    from tests.conftest import _wipe, free_port, make_app

    app = make_app(database_url, free_port(), **PRODUCTION)
    rt = app.extensions["lti_tool"]
    _wipe(rt.engine)
    with rt.session_factory() as s:
        s.add_all(
            [
                Registration(
                    issuer="https://moodle.school.example",
                    client_id="m1",
                    auth_login_url="https://moodle.school.example/mod/lti/auth.php",
                    auth_token_url="https://moodle.school.example/mod/lti/token.php",
                    key_set_url="https://moodle.school.example/mod/lti/certs.php",
                ),
                Registration(
                    issuer="https://canvas.instructure.com",
                    client_id="c1",
                    auth_login_url="https://sso.canvaslms.com/api/lti/authorize_redirect",
                    auth_token_url="https://school.instructure.com/login/oauth2/token",
                    key_set_url="https://sso.canvaslms.com/api/lti/security/jwks",
                ),
            ]
        )
        s.commit()
    yield app
    rt.engine.dispose()


def test_production_pages_without_a_launch_are_framable_only_by_registered_platforms(
    production_app,
) -> None:
    """No `https:` and no loopback in production: only the registered platforms' hosts."""
    client = production_app.test_client()
    for path in ("/lti/config", "/nowhere", "/c/unknown-launch/path"):
        assert _ancestors(client.get(path)) == {
            "'self'",
            "https://moodle.school.example",
            "https://canvas.instructure.com",
            "https://sso.canvaslms.com",
        }, path


def test_production_launch_without_return_url_is_framable_by_registered_platforms(
    production_app,
) -> None:
    from lti_tool.web.framing import FramePolicy

    rt = production_app.extensions["lti_tool"]
    policy = FramePolicy(rt.settings, rt.session_factory)
    assert "https:" not in policy.ancestors(()).split()
    assert "https://moodle.school.example" in policy.ancestors(()).split()
    assert policy.ancestors(["https://moodle.school.example"]) == "https://moodle.school.example"


def test_outside_production_any_https_lms_and_loopback_may_frame(live_server) -> None:
    import requests

    ancestors = _ancestors(requests.get(live_server.tool_url + "/lti/config", timeout=5))
    assert {"https:", "http://localhost:*", "http://127.0.0.1:*"} <= ancestors


def test_pages_with_student_data_and_the_csv_are_not_stored(live_server) -> None:
    """A shared school computer's cache keeps no page about a student, nor the export."""
    with live_server.rt.session_factory() as s:
        everyone = people(s, "moodle")
        course_id, link_id = course_and_link(s, "moodle")
    student = launch_as(
        Browser(),
        live_server.platform_url,
        "moodle",
        course_id,
        link_id,
        everyone["student"][0].user_id,
    )
    assert student.url.endswith("/path")
    assert student.headers.get("Cache-Control") == "no-store"
    browser = Browser()
    home = launch_as(
        browser,
        live_server.platform_url,
        "moodle",
        course_id,
        link_id,
        everyone["teacher"][0].user_id,
    )
    base = home.url.rsplit("/", 1)[0]
    for url in (home.url, base + "/class", base + "/class.csv"):
        resp = browser.get(url)
        assert resp.status_code == 200, url
        assert resp.headers.get("Cache-Control") == "no-store", url


def test_https_deployments_send_hsts(production_app, live_server) -> None:
    import requests

    resp = production_app.test_client().get("/lti/config")
    assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"
    plain = requests.get(live_server.tool_url + "/lti/config", timeout=5)
    assert "Strict-Transport-Security" not in plain.headers  # http: browsers ignore it


@pytest.mark.parametrize(("hops", "seen"), [(0, "127.0.0.1"), (1, "203.0.113.7")])
def test_trusted_proxy_count_decides_which_client_the_log_names(
    database_url: str, caplog: pytest.LogCaptureFixture, hops: int, seen: str
) -> None:
    """Behind one proxy the log names the client, not the proxy; without the setting a
    client cannot put another address in the log with the header."""
    from tests.conftest import free_port, make_app

    app = make_app(database_url, free_port(), trusted_proxy_count=hops)
    caplog.set_level("WARNING", logger="lti_tool.launch")
    resp = app.test_client().post(
        "/lti/launch", data={"state": "x"}, headers={"X-Forwarded-For": "203.0.113.7"}
    )
    assert resp.status_code == 400
    (line,) = [r.getMessage() for r in caplog.records if r.name == "lti_tool.launch"]
    assert f"from {seen}:" in line
    app.extensions["lti_tool"].engine.dispose()
