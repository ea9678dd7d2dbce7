"""The platform's OAuth2 token endpoint: client credentials with a signed JWT assertion
(1EdTech Security Framework §4.1), issuing the access tokens the service endpoints check."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import jwt
from flask import Blueprint, jsonify, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from lti_tool.sandbox.fault_endpoints import inject_fault
from lti_tool.sandbox.models import SandboxTool
from lti_tool.sandbox.oidc import platform_of_shape
from lti_tool.sandbox.platform import SHAPES
from lti_tool.sandbox.services import current_sandbox, tool_key
from lti_tool.store import DatabaseStore

log = logging.getLogger("lti_tool.sandbox")
TOKEN_SECONDS = 3600

bp = Blueprint("token", __name__)
bp.before_request(inject_fault)


def oauth_error(error: str, description: str, status: int = 400) -> tuple[Response, int]:
    log.warning("sandbox token refused: %s (%s)", error, description)
    return jsonify({"error": error, "error_description": description}), status


def token(slug: str, shape: str) -> Any:
    sb = current_sandbox()
    platform = platform_of_shape(slug, shape)
    f = request.form
    if f.get("grant_type") != "client_credentials":
        return oauth_error("unsupported_grant_type", "grant_type must be client_credentials")
    if f.get("client_assertion_type") != ("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"):
        return oauth_error("invalid_request", "client_assertion_type must be jwt-bearer")
    assertion = f.get("client_assertion", "")
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
        kid = jwt.get_unverified_header(assertion).get("kid")
    except jwt.InvalidTokenError:
        return oauth_error("invalid_client", "client_assertion is not a JWT")
    tool = sb.db().scalar(
        select(SandboxTool).where(
            SandboxTool.platform_id == platform.id,
            SandboxTool.client_id == str(unverified.get("iss", "")),
        )
    )
    if tool is None:
        return oauth_error("invalid_client", "unknown client", 401)
    key = tool_key(tool, kid, sb.http)
    if key is None:
        return oauth_error("invalid_client", f"kid {kid!r} not in the tool's JWKS", 401)
    try:
        claims = jwt.decode(
            assertion,
            key,
            algorithms=["RS256"],
            audience=sb.urls(platform).token,
            issuer=tool.client_id,
            options={"require": ["exp", "iat", "jti", "sub", "aud", "iss"]},
            leeway=5,
        )
    except jwt.InvalidTokenError as exc:
        return oauth_error("invalid_client", f"client_assertion refused: {exc}", 401)
    if claims["sub"] != tool.client_id:
        return oauth_error("invalid_client", "sub must be the client id", 401)
    store = DatabaseStore(sb.db())
    if store.get(f"sandbox_jti:{claims['jti']}") is not None:
        return oauth_error("invalid_client", "client_assertion jti already used", 401)
    store.put(f"sandbox_jti:{claims['jti']}", 1, 3600)
    asked = f.get("scope", "").split()
    granted = [s for s in asked if s in tool.scopes]
    if not granted:
        return oauth_error("invalid_scope", f"none of the scopes {asked} is granted")
    access_token = secrets.token_urlsafe(32)
    store.put(f"sandbox_token:{access_token}", {"tool": tool.id, "scopes": granted}, TOKEN_SECONDS)
    return jsonify(
        {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_SECONDS,
            "scope": " ".join(granted),
        }
    )


for _shape in SHAPES.values():
    bp.add_url_rule(
        f"/<slug>{_shape.token_path}",
        f"token_{_shape.name}",
        token,
        methods=["POST"],
        defaults={"shape": _shape.name},
    )
