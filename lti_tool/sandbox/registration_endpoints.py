"""The sandbox platform's Dynamic Registration endpoints, in each shape: the openid
configuration, and the registration endpoint that checks the tool's request as Moodle
(plain-text 400s, `domain_targetlinkuri_mismatch`, 401 `token_already_used`) or Canvas (401
`{errorMessage}`, 422 `{errors}` for unknown scopes, message types, placements or privacy
levels) does, creates the tool and answers in that shape: Moodle nests the deployment id and
leaves the tool pending; Canvas puts it at the top (unless the older flow was chosen) and
places the tool at once."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from lti_tool.sandbox.models import SandboxPlatform, SandboxTool
from lti_tool.sandbox.oidc import platform_of_shape
from lti_tool.sandbox.platform import AGS_SCOPES, NRPS_SCOPE
from lti_tool.sandbox.registration_pages import place_tool
from lti_tool.sandbox.registration_shapes import (
    CANVAS_EXT,
    CANVAS_PATHS,
    CANVAS_PLACEMENTS,
    CANVAS_PRIVACY,
    MESSAGE_TYPES,
    MOODLE_PATHS,
    PLATFORM_CONFIG,
    TOOL_CONFIG,
    bearer,
    paths_of,
    token_problem,
    token_used,
    urls_of,
)
from lti_tool.sandbox.services import current_sandbox

log = logging.getLogger("lti_tool.sandbox")
bp = Blueprint("dynreg_api", __name__)


def _custom_parameters(config: dict[str, Any]) -> dict[str, str]:
    """The tool-level custom parameters as both LMSs keep them: text to text, the rest dropped."""
    given = config.get("custom_parameters")
    if not isinstance(given, dict):
        return {}
    return {str(k): str(v) for k, v in given.items() if isinstance(v, str | int | float)}


def openid_configuration(slug: str, shape: str) -> Any:
    platform = platform_of_shape(slug, shape)
    if shape == "canvas":
        token = request.args.get("registration_token", "") or bearer()
        problem, _claims = token_problem(platform, token)
        if problem:
            return jsonify({"errorMessage": problem}), 401
    urls = urls_of(platform)
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
            "registration_endpoint": urls.base + paths_of(platform)["register"],
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
    token = bearer()
    problem, claims = token_problem(platform, token)
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
    if token_used(token):  # checked last: a refused request leaves the token usable
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
        # Both LMSs keep the tool-level custom parameters and expand them in every launch.
        custom=_custom_parameters(config),
    )
    db.add(tool)
    db.flush()
    if moodle:
        tool.deployment_id = str(tool.id)  # Moodle: the deployment id is the tool type id
    else:
        tool.deployment_id = f"{tool.id}:" + hashlib.sha1(secrets.token_bytes(16)).hexdigest()
        place_tool(tool)
    answer = dict(body)
    answer["client_id"] = tool.client_id
    answer["scope"] = " ".join(scopes)
    if moodle:
        answer[TOOL_CONFIG] = {**config, "deployment_id": tool.deployment_id}
        return jsonify(answer)
    answer["registration_client_uri"] = (
        urls_of(platform).base + f"{CANVAS_PATHS['register']}/{tool.id}"
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
