"""LTI Dynamic Registration in the sandbox, what both sides of it share: each shape's paths,
and its registration tokens (Moodle: a JWT the platform signs, valid an hour; Canvas: its own
signed token, an hour), each used by one registration
(shared/platforms/dynamic-registration.md)."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

import jwt
from flask import request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from lti_tool.sandbox.models import SandboxPlatform
from lti_tool.sandbox.platform import PlatformUrls, platform_jwks, sign, signing_key
from lti_tool.sandbox.services import current_sandbox

TOKEN_SECONDS = 3600
PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
CANVAS_EXT = "https://canvas.instructure.com/lti/"
MESSAGE_TYPES = ("LtiResourceLinkRequest", "LtiDeepLinkingRequest")
CANVAS_PLACEMENTS = (
    "course_navigation",
    "link_selection",
    "assignment_selection",
    "account_navigation",
    "editor_button",
    "homework_submission",
)
CANVAS_PRIVACY = ("public", "name_only", "email_only", "anonymous")
MOODLE_PATHS = {
    "config": "/mod/lti/openid-configuration.php",
    "register": "/mod/lti/openid-registration.php",
}
CANVAS_PATHS = {
    "config": "/api/lti/security/openid-configuration",
    "register": "/api/lti/registrations",
}


def paths_of(platform: SandboxPlatform) -> dict[str, str]:
    return MOODLE_PATHS if platform.shape == "moodle" else CANVAS_PATHS


def urls_of(platform: SandboxPlatform) -> PlatformUrls:
    return current_sandbox().urls(platform)


def _canvas_tokens() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_sandbox().secret, salt="canvas-registration-token")


def new_token(platform: SandboxPlatform, older_flow: bool) -> str:
    db = current_sandbox().db()
    now = int(time.time())
    if platform.shape == "moodle":
        claims = {"sub": secrets.token_urlsafe(11)[:15], "scope": "reg", "iat": now}
        claims["exp"] = now + TOKEN_SECONDS
        return sign(signing_key(db, platform), claims)
    return _canvas_tokens().dumps(
        {"platform": platform.slug, "n": secrets.token_hex(8), "older_flow": older_flow}
    )


def token_problem(platform: SandboxPlatform, token: str) -> tuple[str | None, dict[str, Any]]:
    """(why the token is refused, its content); the first is None for a good token."""
    if not token:
        return "missing registration token", {}
    if platform.shape == "moodle":
        keys = platform_jwks(current_sandbox().db(), platform)["keys"]
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            jwk = next(k for k in keys if k.get("kid") == kid)
            claims = jwt.decode(
                token, jwt.PyJWK(jwk).key, algorithms=["RS256"], options={"require": ["exp"]}
            )
        except (jwt.InvalidTokenError, StopIteration):
            return "invalid_token", {}
        if claims.get("scope") != "reg":
            return "invalid_token", {}
        return None, claims
    try:
        claims = _canvas_tokens().loads(token, max_age=TOKEN_SECONDS)
    except BadSignature:
        return "Invalid or expired registration token", {}
    if claims.get("platform") != platform.slug:
        return "Invalid or expired registration token", {}
    return None, claims


def token_used(token: str) -> bool:
    """Marks the token used; True when it already was (single-use tokens)."""
    store = current_sandbox().store()
    key = "sandbox_regtoken:" + hashlib.sha256(token.encode()).hexdigest()
    if store.get(key) is not None:
        return True
    store.put(key, 1, TOKEN_SECONDS)
    return False


def bearer() -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


# -- the admin's pages ---------------------------------------------------------------------
