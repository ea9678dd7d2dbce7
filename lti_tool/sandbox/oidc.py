"""The platform's OIDC authorization endpoint (LTI 1.3 core §5.1.1.3: the tool's login
redirect comes back here and leaves with a signed id_token) and its JWKS, at each shape's
paths."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request
from itsdangerous import BadSignature
from sqlalchemy import select
from werkzeug.wrappers import Response

from lti_tool.sandbox.models import SandboxEnrollment, SandboxLink, SandboxPlatform, SandboxTool
from lti_tool.sandbox.pages import current_user, failure, platform_or_404
from lti_tool.sandbox.platform import SHAPES, id_token_claims, platform_jwks, sign, signing_key
from lti_tool.sandbox.services import current_sandbox

log = logging.getLogger("lti_tool.sandbox")
HINT_SECONDS = 300

bp = Blueprint("oidc", __name__)


def platform_of_shape(slug: str, shape: str) -> SandboxPlatform:
    platform = platform_or_404(slug)
    if platform.shape != shape:
        abort(404)
    return platform


def authorize(slug: str, shape: str) -> Any:
    sb = current_sandbox()
    db = sb.db()
    platform = platform_of_shape(slug, shape)
    p = request.values
    tool = db.scalar(
        select(SandboxTool).where(
            SandboxTool.platform_id == platform.id,
            SandboxTool.client_id == p.get("client_id", ""),
        )
    )
    if tool is None:
        return failure(400, f"unknown client_id {p.get('client_id')!r}")
    if tool.state != "active":
        return failure(400, f"the tool {tool.name!r} is pending: an administrator must activate it")
    redirect_uri = p.get("redirect_uri", "")
    if redirect_uri not in tool.redirect_uris:
        return failure(400, f"redirect_uri {redirect_uri!r} is not registered for this tool")

    def refuse(error: str, description: str) -> str:
        log.warning("sandbox auth error %s: %s", error, description)
        return render_template(
            "sandbox/autopost.html",
            action=redirect_uri,
            params={
                "error": error,
                "error_description": description,
                "state": p.get("state", ""),
            },
        )

    if "openid" not in p.get("scope", "").split():
        return refuse("invalid_scope", "scope must include openid")
    if p.get("response_type") != "id_token":
        return refuse("unsupported_response_type", "response_type must be id_token")
    if p.get("response_mode") != "form_post":
        return refuse("invalid_request", "response_mode must be form_post")
    if p.get("prompt") != "none":
        return refuse("invalid_request", "prompt must be none")
    if not p.get("nonce"):
        return refuse("invalid_request", "nonce is required")
    user = current_user(platform)
    if user is None or p.get("login_hint") != user.lti_sub:
        return refuse("login_required", "the login_hint is not the user logged in")
    try:
        hint = sb.hints.loads(p.get("lti_message_hint", ""), max_age=HINT_SECONDS)
    except BadSignature:
        return refuse("invalid_request", "lti_message_hint is invalid or expired")
    link = db.get(SandboxLink, hint.get("link"))
    if link is None or link.tool_id != tool.id or hint.get("user") != user.id:
        return refuse("invalid_request", "lti_message_hint does not match")
    enrollment = db.scalar(
        select(SandboxEnrollment).where(
            SandboxEnrollment.course_id == link.course_id,
            SandboxEnrollment.user_id == user.id,
            SandboxEnrollment.status == "Active",
        )
    )
    if enrollment is None:
        return refuse("access_denied", "the user is not enrolled in this course")
    claims = id_token_claims(
        db, platform, sb.urls(platform), tool, link, user, enrollment, p["nonce"]
    )
    token = sign(signing_key(db, platform), claims)
    params = {"id_token": token, "state": p.get("state", "")}
    if platform.shape == "canvas":
        params["lti_storage_target"] = "post_message_forwarding"
    return render_template("sandbox/autopost.html", action=redirect_uri, params=params)


def jwks(slug: str, shape: str) -> Response:
    return jsonify(platform_jwks(current_sandbox().db(), platform_of_shape(slug, shape)))


for _shape in SHAPES.values():
    _kind = {"shape": _shape.name}
    bp.add_url_rule(
        f"/<slug>{_shape.auth_path}",
        f"auth_{_shape.name}",
        authorize,
        methods=["GET", "POST"],
        defaults=_kind,
    )
    bp.add_url_rule(f"/<slug>{_shape.jwks_path}", f"jwks_{_shape.name}", jwks, defaults=_kind)
