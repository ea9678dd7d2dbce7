"""LTI Dynamic Registration, the platform's side, in each shape
(shared/platforms/dynamic-registration.md): the admin page where a tool's registration URL is
pasted and opened in a frame with `openid_configuration` and `registration_token`, the
openid configuration, and the registration endpoint that checks the request as Moodle or
Canvas does and creates the tool.

Moodle: the token is a JWT signed by the platform, valid an hour and used once (a second use
answers 401 `token_already_used`); errors are plain text; the new tool is pending until the
admin activates it. Canvas: its own token (signed, an hour); 401 `{errorMessage}`, 422
`{errors}` for unknown scopes, message types, placements or privacy level; the tool is on at
once, and the answer carries `deployment_id` at the top unless the older flow is chosen.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import jwt
from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.wrappers import Response

from lti_tool.sandbox.csrf import form_refused
from lti_tool.sandbox.models import SandboxCourse, SandboxLink, SandboxPlatform, SandboxTool
from lti_tool.sandbox.oidc import platform_of_shape
from lti_tool.sandbox.pages import failure, platform_or_404
from lti_tool.sandbox.platform import (
    AGS_SCOPES,
    NRPS_SCOPE,
    PlatformUrls,
    platform_jwks,
    sign,
    signing_key,
)
from lti_tool.sandbox.services import current_sandbox

log = logging.getLogger("lti_tool.sandbox")
bp = Blueprint("dynreg", __name__)

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


def _paths(platform: SandboxPlatform) -> dict[str, str]:
    return MOODLE_PATHS if platform.shape == "moodle" else CANVAS_PATHS


def _urls(platform: SandboxPlatform) -> PlatformUrls:
    return current_sandbox().urls(platform)


def _canvas_tokens() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_sandbox().secret, salt="canvas-registration-token")


def _new_token(platform: SandboxPlatform, older_flow: bool) -> str:
    db = current_sandbox().db()
    now = int(time.time())
    if platform.shape == "moodle":
        claims = {"sub": secrets.token_urlsafe(11)[:15], "scope": "reg", "iat": now}
        claims["exp"] = now + TOKEN_SECONDS
        return sign(signing_key(db, platform), claims)
    return _canvas_tokens().dumps(
        {"platform": platform.slug, "n": secrets.token_hex(8), "older_flow": older_flow}
    )


def _token_problem(platform: SandboxPlatform, token: str) -> tuple[str | None, dict[str, Any]]:
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


def _token_used(token: str) -> bool:
    """Marks the token used; True when it already was (single-use tokens)."""
    store = current_sandbox().store()
    key = "sandbox_regtoken:" + hashlib.sha256(token.encode()).hexdigest()
    if store.get(key) is not None:
        return True
    store.put(key, 1, TOKEN_SECONDS)
    return False


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


# -- the admin's pages ---------------------------------------------------------------------


def _tools(platform: SandboxPlatform) -> list[SandboxTool]:
    return list(
        current_sandbox()
        .db()
        .scalars(
            select(SandboxTool)
            .where(SandboxTool.platform_id == platform.id)
            .order_by(SandboxTool.id)
        )
    )


@bp.get("/<slug>/admin/tools")
def admin(slug: str) -> str:
    platform = platform_or_404(slug)
    return render_template(
        "sandbox/dynreg_admin.html",
        platform=platform,
        tools=_tools(platform),
        done=request.args.get("done", ""),
    )


@bp.post("/<slug>/admin/tools/register")
def start(slug: str) -> Any:
    """Open the tool's registration URL in a frame, as Moodle's "Add LTI Advantage" and
    Canvas' "LTI Registration" do."""
    platform = platform_or_404(slug)
    problem = form_refused()
    if problem:
        return failure(400, problem)
    tool_url = request.form.get("url", "").strip()
    parts = urlsplit(tool_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return failure(400, f"Not a tool registration URL: {tool_url!r}")
    token = _new_token(platform, older_flow=bool(request.form.get("older_flow")))
    config_url = _urls(platform).base + _paths(platform)["config"]
    if platform.shape == "canvas":
        config_url += "?" + urlencode({"registration_token": token})
    query = parts.query + ("&" if parts.query else "")
    query += urlencode({"openid_configuration": config_url, "registration_token": token})
    frame_src = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return render_template(
        "sandbox/dynreg_frame.html",
        platform=platform,
        frame_src=frame_src,
        tool_origin=f"{parts.scheme}://{parts.netloc}",
    )


@bp.post("/<slug>/admin/tools/<int:tool_id>/activate")
def activate(slug: str, tool_id: int) -> Any:
    platform = platform_or_404(slug)
    problem = form_refused()
    if problem:
        return failure(400, problem)
    tool = current_sandbox().db().get(SandboxTool, tool_id)
    if tool is None or tool.platform_id != platform.id:
        abort(404)
    if tool.state != "active":
        tool.state = "active"
        _place(tool)
    return redirect(url_for(".admin", slug=slug, done=f"{tool.name} is active."), 303)


def _place(tool: SandboxTool) -> None:
    """A teacher adds the new tool to each course (one link each), so it can be launched."""
    db = current_sandbox().db()
    canvas = db.get(SandboxPlatform, tool.platform_id).shape == "canvas"  # type: ignore[union-attr]
    for course in db.scalars(
        select(SandboxCourse).where(SandboxCourse.platform_id == tool.platform_id)
    ):
        db.add(
            SandboxLink(
                course_id=course.id,
                tool_id=tool.id,
                lti_id=str(uuid.uuid4()) if canvas else f"dynreg-{tool.id}",
                title=f"{tool.name} (registered by URL)",
            )
        )
    db.flush()


# -- what the tool calls ---------------------------------------------------------------------


def openid_configuration(slug: str, shape: str) -> Any:
    platform = platform_of_shape(slug, shape)
    if shape == "canvas":
        token = request.args.get("registration_token", "") or _bearer()
        problem, _claims = _token_problem(platform, token)
        if problem:
            return jsonify({"errorMessage": problem}), 401
    urls = _urls(platform)
    scopes = [*AGS_SCOPES, NRPS_SCOPE]
    if shape == "moodle":
        messages: list[dict[str, Any]] = [
            {"type": "LtiResourceLinkRequest"},
            {"type": "LtiDeepLinkingRequest", "placements": ["ContentArea"]},
        ]
        platform_config: dict[str, Any] = {
            "product_family_code": "moodle",
            "version": "4.5.6 (Build: 20250811)",
            "messages_supported": messages,
            "variables": ["Context.id.history", "ResourceLink.id.history"],
        }
        scopes.append("openid")
    else:
        platform_config = {
            "product_family_code": "canvas",
            "version": "OpenSource",
            "messages_supported": [
                {"type": "LtiResourceLinkRequest", "placements": list(CANVAS_PLACEMENTS)},
                {
                    "type": "LtiDeepLinkingRequest",
                    "placements": ["link_selection", "assignment_selection", "editor_button"],
                },
            ],
            "variables": ["Context.id.history", "Canvas.course.id"],
            CANVAS_EXT + "account_name": platform.name,
        }
    return jsonify(
        {
            "issuer": platform.issuer,
            "authorization_endpoint": urls.auth,
            "token_endpoint": urls.token,
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": urls.jwks,
            "registration_endpoint": urls.base + _paths(platform)["register"],
            "scopes_supported": scopes,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            PLATFORM_CONFIG: platform_config,
        }
    )


def registration_endpoint(slug: str, shape: str) -> Any:
    platform = platform_of_shape(slug, shape)
    token = _bearer()
    problem, claims = _token_problem(platform, token)
    if problem:
        return _refuse(shape, 401, problem)
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        return _refuse(shape, 400, "the request is not JSON")
    if not isinstance(body, dict):
        return _refuse(shape, 400, "the request is not a JSON object")
    problem = _moodle_problem(body) if shape == "moodle" else _canvas_problem(body)
    if problem:
        return _refuse(shape, problem[0], problem[1])
    if _token_used(token):  # checked last: a refused request leaves the token usable
        return _refuse(shape, 401, "token_already_used")
    return _create(platform, body, older_flow=bool(claims.get("older_flow")))


def _refuse(shape: str, status: int, message: str) -> Any:
    log.warning("sandbox %s registration refused (%s): %s", shape, status, message)
    if shape == "moodle":
        return Response(message, status, content_type="text/plain; charset=utf-8")
    if status == 401:
        return jsonify({"errorMessage": message}), 401
    return jsonify({"errors": {"message": message}}), status


def _tool_config(body: dict[str, Any]) -> dict[str, Any]:
    value = body.get(TOOL_CONFIG)
    return value if isinstance(value, dict) else {}


def _moodle_problem(body: dict[str, Any]) -> tuple[int, str] | None:
    """As Moodle's registration_helper checks a request."""
    for name in ("initiate_login_uri", "redirect_uris", "client_name", "jwks_uri"):
        if not body.get(name):
            return 400, f"missing required attribute {name}"
    if "id_token" not in (body.get("response_types") or []):
        return 400, "invalid_response_types"
    if body.get("token_endpoint_auth_method") != "private_key_jwt":
        return 400, "invalid_token_endpoint_auth_method"
    config = body.get(TOOL_CONFIG)
    if not isinstance(config, dict):
        return 400, f"missing required attribute {TOOL_CONFIG}"
    for name in ("domain", "target_link_uri"):
        if not config.get(name):
            return 400, f"missing required attribute {name}"
    if urlsplit(str(config["target_link_uri"])).netloc != config["domain"]:
        return 400, "domain_targetlinkuri_mismatch"
    return None


def _canvas_problem(body: dict[str, Any]) -> tuple[int, str] | None:
    """As Canvas' registration schema refuses a request."""
    config = _tool_config(body)
    for name in ("initiate_login_uri", "redirect_uris", "jwks_uri", "client_name"):
        if not body.get(name):
            return 422, f"{name} is required"
    if not config.get("domain") or not config.get("target_link_uri"):
        return 422, f"{TOOL_CONFIG} needs domain and target_link_uri"
    known = {*AGS_SCOPES, NRPS_SCOPE}
    unknown = [s for s in str(body.get("scope", "")).split() if s not in known]
    if unknown:
        return 422, f"invalid scopes: {', '.join(unknown)}"
    privacy = config.get(CANVAS_EXT + "privacy_level")
    if privacy is not None and privacy not in CANVAS_PRIVACY:
        return 422, f"invalid privacy_level {privacy!r}"
    for message in config.get("messages") or []:
        if not isinstance(message, dict) or message.get("type") not in MESSAGE_TYPES:
            return 422, f"invalid message type {message!r}"
        for placement in message.get("placements") or []:
            name = str(placement).removeprefix(CANVAS_EXT)
            if name not in CANVAS_PLACEMENTS:
                return 422, f"invalid placement {placement!r}"
    return None


def _create(platform: SandboxPlatform, body: dict[str, Any], older_flow: bool) -> Any:
    db = current_sandbox().db()
    config = _tool_config(body)
    moodle = platform.shape == "moodle"
    scopes = [s for s in str(body.get("scope", "")).split() if s in {*AGS_SCOPES, NRPS_SCOPE}]
    tool = SandboxTool(
        platform_id=platform.id,
        name=str(body.get("client_name"))[:200],
        client_id=(
            secrets.token_urlsafe(11)[:15]
            if moodle
            else str(10000000000000 + secrets.randbelow(10**6))
        ),
        deployment_id="pending",
        login_url=str(body["initiate_login_uri"]),
        redirect_uris=[str(u) for u in body["redirect_uris"]],
        target_link_uri=str(config.get("target_link_uri")),
        jwks_url=str(body["jwks_uri"]),
        scopes=scopes,
        state="pending" if moodle else "active",
        registered_by="dynamic",
        registration=body,
    )
    db.add(tool)
    db.flush()
    if moodle:
        tool.deployment_id = str(tool.id)  # Moodle: the deployment id is the tool type id
    else:
        tool.deployment_id = f"{tool.id}:" + hashlib.sha1(secrets.token_bytes(16)).hexdigest()
        _place(tool)
    answer = dict(body)
    answer["client_id"] = tool.client_id
    answer["scope"] = " ".join(scopes)
    if moodle:
        answer[TOOL_CONFIG] = {**config, "deployment_id": tool.deployment_id}
        return jsonify(answer)
    answer["registration_client_uri"] = (
        _urls(platform).base + f"{CANVAS_PATHS['register']}/{tool.id}"
    )
    if not older_flow:
        answer["deployment_id"] = tool.deployment_id
    return jsonify(answer)


for _shape, _paths_of in (("moodle", MOODLE_PATHS), ("canvas", CANVAS_PATHS)):
    _kind = {"shape": _shape}
    bp.add_url_rule(
        f"/<slug>{_paths_of['config']}", f"config_{_shape}", openid_configuration, defaults=_kind
    )
    bp.add_url_rule(
        f"/<slug>{_paths_of['register']}",
        f"register_{_shape}",
        registration_endpoint,
        methods=["POST"],
        defaults=_kind,
    )
