"""OIDC third-party initiated login (LTI 1.3 core §5.1.1; Security Framework §5.1.1.1).

Writes nothing: the state is signed and the registration, nonce and target_link_uri are
sealed to it in a cookie named after the state (`login_state.py`), so any web process can
finish the launch and a state stolen from the form alone is worthless.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from sqlalchemy.orm import Session

from lti_tool.lti.errors import bad_request
from lti_tool.lti.login_state import STATE_COOKIE_PREFIX, LoginStates
from lti_tool.lti.registrations import RegistrationCache, RegistrationError
from lti_tool.settings import Settings

__all__ = ["STATE_COOKIE_PREFIX", "LoginRedirect", "start_login"]


@dataclass(frozen=True)
class LoginRedirect:
    url: str
    state: str
    cookie_name: str
    # The sealed login record: the state cookie's value (or the platform storage's).
    cookie_value: str
    max_age: int
    storage_target: str | None
    auth_origin: str
    # LTI platform storage (lti/storage_launch.py): the page stores the nonce too.
    nonce: str = ""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def start_login(
    params: Mapping[str, str],
    session: Session,
    states: LoginStates,
    settings: Settings,
    registrations: RegistrationCache,
    registration_uuid: str | None = None,
) -> LoginRedirect:
    """Validate a login initiation and build the authentication request to the platform."""
    issuer = params.get("iss", "").strip()
    login_hint = params.get("login_hint", "")
    target = params.get("target_link_uri", "")
    if not issuer:
        raise bad_request(
            "The LMS did not say who it is",
            "The login request from your LMS has no issuer (iss). The tool cannot tell which "
            "LMS sent you.",
            "login: missing iss",
        )
    if not login_hint:
        raise bad_request(
            "The LMS did not say who you are",
            "The login request from your LMS has no login_hint.",
            f"login: missing login_hint (iss={issuer})",
        )
    if not target:
        raise bad_request(
            "The LMS did not say what to open",
            "The login request from your LMS has no target_link_uri.",
            f"login: missing target_link_uri (iss={issuer})",
        )
    if _origin(target) != _origin(settings.base_url):
        raise bad_request(
            "This link is for another tool",
            f"The LMS asked to open {target}, which is not this tool ({settings.base_url}). "
            "The tool's URL in the LMS settings may be wrong.",
            f"login: target_link_uri {target} is not on {settings.base_url}",
        )
    client_id = params.get("client_id") or None
    try:
        reg = registrations.find_for_login(session, issuer, client_id, registration_uuid)
    except RegistrationError as exc:
        raise bad_request(
            "This LMS is not registered with the tool",
            "The tool has no registration that matches this LMS. Your LMS administrator "
            "needs to register it (see the tool's /lti/config page).",
            f"login: {exc}",
        ) from None

    begun = states.begin(
        reg.id,
        reg.issuer,
        reg.client_id,
        reg.key_set_url,
        target,
        params.get("lti_deployment_id") or params.get("deployment_id"),
    )
    auth = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": reg.client_id,
        "redirect_uri": settings.url("/lti/launch"),
        "login_hint": login_hint,
        "state": begun.state,
        "nonce": begun.nonce,
    }
    if "lti_message_hint" in params:
        auth["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in reg.auth_login_url else "?"
    return LoginRedirect(
        url=reg.auth_login_url + separator + urlencode(auth),
        state=begun.state,
        cookie_name=STATE_COOKIE_PREFIX + begun.state,
        cookie_value=begun.sealed,
        max_age=begun.max_age,
        storage_target=params.get("lti_storage_target") or None,
        auth_origin=_origin(reg.auth_login_url),
        nonce=begun.nonce,
    )
