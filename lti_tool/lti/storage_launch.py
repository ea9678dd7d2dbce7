"""The launch without the state cookie, proven by LTI platform storage (lti.put_data/get_data).

The login page stored the state and nonce in the platform's storage; at the launch the id_token
is checked on the server first (the state is consumed then, so a replayed POST finds nothing),
and the launch is parked under a one-time id until the browser reads the state and nonce back
from the storage and posts them; only a match with what the login issued opens the course.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from lti_tool.lti.errors import LaunchError, bad_request, forbidden, not_trusted
from lti_tool.lti.launch import ValidLaunch, check_token, lookup, split_token
from lti_tool.lti.login import LoginRedirect
from lti_tool.lti.login_state import LoginStates
from lti_tool.lti.message import origin, parse_message
from lti_tool.lti.platform_keys import PlatformKeys
from lti_tool.settings import Settings
from lti_tool.store import SharedStore

PENDING_KEY = "lti_storage_launch:"
# A login that offered storage: its sealed record, kept where a cookie-less launch finds it.
OFFERED_KEY = "lti_storage_login:"
# Every cookie of the tool (state cookies, the session): one coming back means cookies work.
TOOL_COOKIE_PREFIX = "lti_tool_"
TARGET_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/target_link_uri"
# Long enough for one postMessage round trip to the LMS page, short enough to be useless later.
PENDING_SECONDS = 120


def state_key(state: str) -> str:
    return f"lti_state_{state}"


def nonce_key(nonce: str) -> str:
    return f"lti_nonce_{nonce}"


@dataclass(frozen=True)
class WithoutCookie:
    """A launch whose state cookie did not come back, and what its login recorded."""

    state: str
    storage_target: str | None
    storage_origin: str
    target_link_uri: str


@dataclass(frozen=True)
class StorageProof:
    """What the launch page needs to read the state back from the platform's storage."""

    pending: str
    target: str
    origin: str
    state_key: str
    nonce_key: str


def remember(store: SharedStore, login: LoginRedirect) -> None:
    """Keep a login that offered storage where its launch finds it without the cookie: the
    sealed record (the cookie's value) and where the LMS's storage lives. Logins that offer
    no storage (Moodle) write nothing."""
    store.put(
        OFFERED_KEY + login.state,
        {
            "sealed": login.cookie_value,
            "storage_target": login.storage_target,
            "storage_origin": login.auth_origin,
        },
        login.max_age,
    )


def _claimed_target(form: Mapping[str, str], settings: Settings) -> str:
    """Where a new window should open: the token's target_link_uri when it is the tool's own
    (the token is not proven here: any other address is replaced by the tool's launch URL)."""
    try:
        target = split_token(form.get("id_token", ""))[1].get(TARGET_CLAIM)
    except LaunchError:
        target = None
    if isinstance(target, str) and origin(target) == origin(settings.base_url):
        return target
    return settings.url("/lti/launch")


def without_cookie(
    form: Mapping[str, str],
    cookies: Mapping[str, str],
    store: SharedStore,
    states: LoginStates,
    settings: Settings,
) -> WithoutCookie | None:
    """The login's facts when the browser returned no cookie of the tool at all; None when
    it returned some (this state's: the cookie path; another's: a state mismatch, refused
    there) or the state is not one the tool issued, expired or spent (refused there)."""
    state = form.get("state", "")
    if not state or not form.get("id_token") or form.get("error"):
        return None
    if any(name.startswith(TOOL_COOKIE_PREFIX) for name in cookies):
        return None
    if states.expires(state) is None:
        return None
    kept = store.get(OFFERED_KEY + state)
    if isinstance(kept, dict) and kept.get("storage_target"):
        record = states.open(state, kept.get("sealed"))
        if record is not None:
            return WithoutCookie(
                state=state,
                storage_target=kept["storage_target"],
                storage_origin=kept.get("storage_origin") or "",
                target_link_uri=record.target_link_uri,
            )
    if states.spent(store, state):
        return None
    return WithoutCookie(
        state=state,
        storage_target=None,
        storage_origin="",
        target_link_uri=_claimed_target(form, settings),
    )


def _used_or_expired() -> LaunchError:
    return bad_request(
        "This launch was already used or has expired",
        "Each launch can be used once, within a few minutes. Open the tool again from your course.",
        "storage launch: state or pending launch unknown, expired or already consumed (replay?)",
    )


def begin(
    form: Mapping[str, str],
    store: SharedStore,
    keys: PlatformKeys,
    settings: Settings,
    states: LoginStates,
) -> StorageProof:
    """Take the login's record, check the id_token, spend the state (the cookie path cannot
    use it either), and park the launch until the storage answers."""
    state = form.get("state", "")
    expires = states.expires(state)
    kept = store.take(OFFERED_KEY + state)
    if expires is None or not isinstance(kept, dict) or not kept.get("storage_target"):
        raise _used_or_expired()
    record = states.open(state, kept.get("sealed"))
    if record is None:
        raise _used_or_expired()
    message = check_token(form.get("id_token", ""), record, keys, settings)
    if not states.spend(store, state, expires):
        raise _used_or_expired()
    pending = secrets.token_urlsafe(24)
    store.put(
        PENDING_KEY + pending,
        {
            "claims": message.claims,
            "registration": record.registration,
            "state": state,
            "nonce": record.nonce,
        },
        PENDING_SECONDS,
    )
    return StorageProof(
        pending=pending,
        target=kept["storage_target"],
        origin=kept.get("storage_origin") or "",
        state_key=state_key(state),
        nonce_key=nonce_key(record.nonce),
    )


def _same(given: str, issued: Any) -> bool:
    return hmac.compare_digest(given.encode(), str(issued).encode())


def finish(
    form: Mapping[str, str],
    request_origin: str | None,
    session: Session,
    store: SharedStore,
    settings: Settings,
) -> ValidLaunch:
    """The state and nonce the storage gave back must be the login's; the parked launch is
    used once, right or wrong (no second guess). Only the tool's own launch page may post
    them: with no cookie to bind the browser, a cross-site form carrying values an attacker
    learnt from their own launch would otherwise log a victim into the attacker's session."""
    if request_origin != origin(settings.base_url):
        raise forbidden(
            "The launch could not be verified",
            "This step of the launch must come from the tool's own page. Open the tool again "
            "from your course.",
            f"storage launch: posted from origin {request_origin!r}, not the tool's",
        )
    parked: dict[str, Any] | None = store.take(PENDING_KEY + form.get("pending", ""))
    if parked is None:
        raise _used_or_expired()
    if not _same(form.get("state", ""), parked["state"]):
        raise not_trusted(
            "The launch could not be verified",
            "The LMS page did not give back the login this launch belongs to. Open the tool "
            "again from your course.",
            "storage launch: state from platform storage differs (state mismatch)",
        )
    if not _same(form.get("nonce", ""), parked["nonce"]):
        raise not_trusted(
            "The launch could not be verified",
            "The LMS page did not give back the login this launch belongs to. Open the tool "
            "again from your course.",
            "storage launch: nonce from platform storage differs from the one issued",
        )
    message = parse_message(parked["claims"])
    return lookup(session, parked["registration"], message, settings)
