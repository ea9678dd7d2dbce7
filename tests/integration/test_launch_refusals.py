"""Refused launches, one per check of the Security Framework and LTI core: each answers 4xx
with a page that says what was wrong, and writes no user, course, membership or link.

Tokens are really signed: the valid baseline comes from the sandbox platform's own claim
builder and key, then one thing is changed per test."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from lti_tool.models.course import Context, Membership, ResourceLink, User
from lti_tool.models.platform import Deployment
from lti_tool.sandbox.models import (
    SandboxEnrollment,
    SandboxLink,
    SandboxPlatform,
    SandboxTool,
    SandboxUser,
)
from lti_tool.sandbox.platform import PlatformUrls, id_token_claims, signing_key
from tests.lms import Browser, query

pytestmark = pytest.mark.postgres
LTI = "https://purl.imsglobal.org/spec/lti/claim/"


class Forger:
    """Logs in to the tool as the sandbox platform would, then posts a chosen id_token."""

    def __init__(self, live_server, slug: str = "moodle", role: str = "student") -> None:
        self.server = live_server
        self.rt = live_server.rt
        self.browser = Browser()
        with self.rt.session_factory() as s:
            self.platform = s.scalar(select(SandboxPlatform).where(SandboxPlatform.slug == slug))
            self.tool = s.scalar(
                select(SandboxTool).where(SandboxTool.platform_id == self.platform.id)
            )
            self.link = s.scalar(
                select(SandboxLink).where(
                    SandboxLink.tool_id == self.tool.id,
                    SandboxLink.message_type == "LtiResourceLinkRequest",
                )
            )
            self.enrollment, self.user = s.execute(
                select(SandboxEnrollment, SandboxUser)
                .join(SandboxUser, SandboxUser.id == SandboxEnrollment.user_id)
                .where(SandboxEnrollment.course_id == self.link.course_id)
                .where(SandboxEnrollment.role == role)
            ).first()
            self.key = signing_key(s, self.platform)
            s.expunge_all()

    def login(self) -> tuple[str, str]:
        """(state, nonce) of a fresh login through the tool; the browser keeps the cookie."""
        resp = self.browser.http.post(
            f"{self.server.tool_url}/lti/login",
            data={
                "iss": self.platform.issuer,
                "login_hint": self.user.lti_sub,
                "target_link_uri": self.tool.target_link_uri,
                "lti_message_hint": "x",
                "client_id": self.tool.client_id,
                "lti_deployment_id": self.tool.deployment_id,
            },
            allow_redirects=False,
            timeout=10,
        )
        assert resp.status_code == 302, resp.text
        q = query(resp.headers["Location"])
        assert q["redirect_uri"] == f"{self.server.tool_url}/lti/launch"
        return q["state"], q["nonce"]

    def claims(self, nonce: str) -> dict[str, Any]:
        with self.rt.session_factory() as s:
            platform = s.get(SandboxPlatform, self.platform.id)
            return id_token_claims(
                s,
                platform,
                PlatformUrls(self.rt.settings.sandbox_base_url, platform),
                s.get(SandboxTool, self.tool.id),
                s.get(SandboxLink, self.link.id),
                s.get(SandboxUser, self.user.id),
                s.get(SandboxEnrollment, self.enrollment.id),
                nonce,
            )

    def sign(self, claims: dict[str, Any], **headers: Any) -> str:
        from lti_tool.sandbox.platform import _loaded

        return jwt.encode(
            claims,
            _loaded(self.key.private_pem),
            algorithm="RS256",
            headers={"kid": self.key.kid, **headers},
        )

    def post(self, id_token: str, state: str) -> Any:
        return self.browser.post(
            f"{self.server.tool_url}/lti/launch", {"id_token": id_token, "state": state}
        )

    def post_alone(self, id_token: str, state: str) -> Any:
        """The launch POST without following its redirect (the landing page's statements
        stay out of a count)."""
        self.browser._unsecure_loopback()  # as the browser does before each hop
        return self.browser.http.post(
            f"{self.server.tool_url}/lti/launch",
            data={"id_token": id_token, "state": state},
            allow_redirects=False,
            timeout=10,
        )

    def launch(self, change: Callable[[dict[str, Any]], None] | None = None) -> Any:
        state, nonce = self.login()
        claims = self.claims(nonce)
        if change:
            change(claims)
        return self.post(self.sign(claims), state)


def nothing_written(rt) -> bool:
    with rt.session_factory() as s:
        return all(
            s.scalar(select(func.count()).select_from(model)) == 0
            for model in (User, Context, Membership, ResourceLink)
        )


def assert_refused(resp, rt, status: int, words: str) -> None:
    assert resp.status_code == status, (resp.status_code, resp.text[:600])
    assert words in resp.text, resp.text[:800]
    assert nothing_written(rt)


def b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_valid_baseline_is_accepted(live_server) -> None:
    """The forger's unmodified token is accepted: every refusal below is about its one change."""
    f = Forger(live_server)
    resp = f.launch()
    assert resp.status_code == 200 and "Your path" in resp.text
    assert not nothing_written(live_server.rt)


def test_alg_none_refused(live_server) -> None:
    f = Forger(live_server)
    state, nonce = f.login()
    token = b64({"alg": "none", "kid": f.key.kid}) + "." + b64(f.claims(nonce)) + "."
    assert_refused(f.post(token, state), f.rt, 401, "could not be verified")


def test_hs256_signed_with_public_key_refused(live_server) -> None:
    f = Forger(live_server)
    state, nonce = f.login()
    header = b64({"alg": "HS256", "typ": "JWT", "kid": f.key.kid})
    body = b64(f.claims(nonce))
    import hashlib
    import hmac

    secret = json.dumps(f.key.public_jwk).encode()
    sig = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    token = f"{header}.{body}." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()
    assert_refused(f.post(token, state), f.rt, 401, "could not be verified")


def test_unknown_kid_refused_after_one_refetch(live_server) -> None:
    f = Forger(live_server)
    f.launch()  # warms the tool's cache of the platform keys
    with f.rt.session_factory() as s:
        for model in (Membership, ResourceLink, Context, User):
            s.query(model).delete()
        s.commit()
    fetches: list[str] = []
    real = f.rt.http.get_json
    f.rt.http.get_json = lambda url: fetches.append(url) or real(url)
    try:
        state, nonce = f.login()
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = jwt.encode(
            f.claims(nonce), other, algorithm="RS256", headers={"kid": "rotated-away"}
        )
        resp = f.post(token, state)
    finally:
        f.rt.http.get_json = real
    assert_refused(resp, f.rt, 401, "could not be verified")
    assert fetches == [f.rt.settings.sandbox_base_url + "/sandbox/moodle/mod/lti/certs.php"]


def test_expired_refused(live_server) -> None:
    f = Forger(live_server)
    past = int(time.time()) - 3600

    def expire(c: dict[str, Any]) -> None:
        c["iat"], c["exp"] = past - 60, past

    assert_refused(f.launch(expire), f.rt, 401, "expired")


def test_iat_in_future_beyond_leeway_refused(live_server) -> None:
    f = Forger(live_server)

    def future(c: dict[str, Any]) -> None:
        c["iat"] = int(time.time()) + 60
        c["exp"] = c["iat"] + 60

    assert_refused(f.launch(future), f.rt, 401, "dated in the future")


def test_iat_within_leeway_accepted(live_server) -> None:
    f = Forger(live_server)

    def slightly_ahead(c: dict[str, Any]) -> None:
        c["iat"] = int(time.time()) + 3

    resp = f.launch(slightly_ahead)
    assert resp.status_code == 200 and "Your path" in resp.text


def test_wrong_iss_refused(live_server, caplog: pytest.LogCaptureFixture) -> None:
    f = Forger(live_server)
    with caplog.at_level("WARNING", logger="lti_tool.launch"):
        resp = f.launch(lambda c: c.update(iss="https://evil.example"))
    assert_refused(resp, f.rt, 401, "could not be verified")
    # the page speaks to people; the log names the precise reason for the admin
    assert "https://evil.example" not in resp.text
    assert any(
        "iss 'https://evil.example' is not the registration" in r.message for r in caplog.records
    )


def test_aud_without_our_client_id_refused(live_server) -> None:
    f = Forger(live_server)
    assert_refused(
        f.launch(lambda c: c.update(aud="someone-else")), f.rt, 401, "could not be verified"
    )


def test_several_aud_without_azp_refused(live_server) -> None:
    f = Forger(live_server)

    def two(c: dict[str, Any]) -> None:
        c["aud"] = [f.tool.client_id, "another-tool"]
        c.pop("azp", None)

    assert_refused(f.launch(two), f.rt, 401, "could not be verified")


def test_untrusted_extra_audience_refused_even_with_azp(live_server) -> None:
    f = Forger(live_server)

    def extra(c: dict[str, Any]) -> None:
        c["aud"] = [f.tool.client_id, "another-tool"]
        c["azp"] = f.tool.client_id

    assert_refused(f.launch(extra), f.rt, 401, "could not be verified")


def test_wrong_azp_refused(live_server) -> None:
    f = Forger(live_server)
    assert_refused(
        f.launch(lambda c: c.update(azp="another-tool")), f.rt, 401, "could not be verified"
    )


def test_missing_nonce_refused(live_server) -> None:
    f = Forger(live_server)
    assert_refused(f.launch(lambda c: c.pop("nonce")), f.rt, 401, "could not be verified")


def test_nonce_of_another_login_refused(live_server) -> None:
    f = Forger(live_server)
    _other_state, other_nonce = f.login()
    assert_refused(
        f.launch(lambda c: c.update(nonce=other_nonce)), f.rt, 401, "could not be verified"
    )


def test_replayed_id_token_refused(live_server) -> None:
    f = Forger(live_server)
    state, nonce = f.login()
    token = f.sign(f.claims(nonce))
    first = f.post(token, state)
    assert first.status_code == 200
    with f.rt.session_factory() as s:
        users_before = s.scalar(select(func.count()).select_from(User))
    again = f.post(token, state)
    assert again.status_code == 400 and "already used" in again.text
    # and with a fresh login (new state, new cookie), the old token's nonce does not match
    state2, _ = f.login()
    third = f.post(token, state2)
    assert third.status_code == 401
    with f.rt.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(User)) == users_before


def test_state_mismatch_refused(live_server) -> None:
    f = Forger(live_server)
    state, nonce = f.login()
    attacker = Forger(live_server)
    other_state, _ = attacker.login()
    # the victim's browser posts a token with a state it never received
    resp = f.post(f.sign(f.claims(nonce)), other_state)
    assert_refused(resp, f.rt, 400, "did not keep the login")


def test_made_up_or_altered_states_refused_in_words(live_server) -> None:
    """The state and its cookie are signed: one the tool did not issue, or a cookie changed by
    a character (a non-ASCII one included), is refused with a page, never a 500."""
    f = Forger(live_server)
    state, nonce = f.login()
    token = f.sign(f.claims(nonce))
    for made_up in ("1234", state + "x", "ffffffff.é.é"):
        assert_refused(f.post(token, made_up), f.rt, 400, "already used or has expired")
    name = f"lti_tool_state_{state}"
    sealed = f.browser.http.cookies.get(name)
    for altered in (sealed[:-1] + ("A" if sealed[-1] != "A" else "B"), sealed + "é"):
        f.browser.http.cookies.set(name, altered, domain="127.0.0.1", path="/lti/")
        assert_refused(f.post(token, state), f.rt, 400, "did not keep the login")
    f.browser.http.cookies.set(name, sealed, domain="127.0.0.1", path="/lti/")
    assert f.post(token, state).status_code == 200  # the state was not spent by the refusals


def test_unknown_deployment_recorded_and_refused(live_server) -> None:
    f = Forger(live_server)
    resp = f.launch(lambda c: c.update({LTI + "deployment_id": "99"}))
    assert_refused(resp, f.rt, 403, "not allowed yet")
    assert "lti-tool deployment allow" in resp.text
    with f.rt.session_factory() as s:
        dep = s.scalar(select(Deployment).where(Deployment.deployment_id == "99"))
        assert dep is not None and dep.allowed is False


def test_disallowed_deployment_refused(live_server) -> None:
    f = Forger(live_server)
    with f.rt.session_factory() as s:
        dep = s.scalar(select(Deployment).where(Deployment.deployment_id == f.tool.deployment_id))
        dep.allowed = False
        s.commit()
    assert_refused(f.launch(), f.rt, 403, "not allowed yet")


@pytest.mark.parametrize("settings_overrides", [{"auto_allow_deployments": True}])
def test_unknown_deployment_auto_allowed_when_configured(live_server) -> None:
    f = Forger(live_server)
    resp = f.launch(lambda c: c.update({LTI + "deployment_id": "77"}))
    assert resp.status_code == 200
    with f.rt.session_factory() as s:
        dep = s.scalar(select(Deployment).where(Deployment.deployment_id == "77"))
        assert dep is not None and dep.allowed is True


def test_wrong_version_refused(live_server) -> None:
    f = Forger(live_server)
    assert_refused(f.launch(lambda c: c.update({LTI + "version": "1.1"})), f.rt, 400, "version")


def test_unknown_message_type_refused(live_server) -> None:
    f = Forger(live_server)
    resp = f.launch(lambda c: c.update({LTI + "message_type": "LtiStartProctoring"}))
    assert_refused(resp, f.rt, 400, "LtiStartProctoring")


def test_missing_sub_refused(live_server) -> None:
    f = Forger(live_server)
    assert_refused(f.launch(lambda c: c.pop("sub")), f.rt, 400, "did not say who you are")


def test_missing_roles_refused(live_server) -> None:
    f = Forger(live_server)
    assert_refused(f.launch(lambda c: c.pop(LTI + "roles")), f.rt, 400, "did not send your role")


def test_missing_resource_link_id_refused(live_server) -> None:
    f = Forger(live_server)
    assert_refused(
        f.launch(lambda c: c.update({LTI + "resource_link": {"title": "x"}})),
        f.rt,
        400,
        "which link",
    )


def test_target_link_uri_for_another_tool_refused(live_server) -> None:
    f = Forger(live_server)
    resp = f.launch(lambda c: c.update({LTI + "target_link_uri": "https://other.example/launch"}))
    assert_refused(resp, f.rt, 400, "something else than the login asked for")


def test_login_for_another_tools_target_refused(live_server) -> None:
    f = Forger(live_server)
    resp = f.browser.post(
        f"{live_server.tool_url}/lti/login",
        {
            "iss": f.platform.issuer,
            "login_hint": f.user.lti_sub,
            "target_link_uri": "https://other.example/launch",
            "client_id": f.tool.client_id,
        },
    )
    assert resp.status_code == 400 and "another tool" in resp.text


def test_tampered_payload_refused(live_server) -> None:
    f = Forger(live_server)
    state, nonce = f.login()
    token = f.sign(f.claims(nonce))
    header, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims[LTI + "roles"] = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]
    assert_refused(
        f.post(f"{header}.{b64(claims)}.{sig}", state), f.rt, 401, "could not be verified"
    )


def test_not_a_jwt_refused(live_server) -> None:
    f = Forger(live_server)
    state, _ = f.login()
    assert_refused(f.post("not-a-token", state), f.rt, 400, "damaged")


def test_missing_id_token_refused(live_server) -> None:
    f = Forger(live_server)
    state, _ = f.login()
    resp = f.browser.post(f"{live_server.tool_url}/lti/launch", {"state": state})
    assert_refused(resp, f.rt, 400, "without its id_token")


def test_unregistered_platform_login_refused(live_server) -> None:
    browser = Browser()
    resp = browser.post(
        f"{live_server.tool_url}/lti/login",
        {
            "iss": "https://unknown-lms.example",
            "login_hint": "1",
            "target_link_uri": f"{live_server.tool_url}/lti/launch",
        },
    )
    assert resp.status_code == 400 and "not registered" in resp.text
