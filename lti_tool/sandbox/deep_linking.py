"""The deep-linking return (LTI Deep Linking 2.0 §4.2): the tool's browser form-posts a
signed `LtiDeepLinkingResponse` as the field `JWT` to the `deep_link_return_url` the
platform sent; the platform checks it and adds each `ltiResourceLink` to the course (with
its line item when it has one), as Canvas (`/courses/<id>/deep_linking_response`) and
Moodle (`mod/lti/contentitem_return.php`) do.

The `data` the platform put in the request's deep_linking_settings is remembered in the
shared store when the id_token is built (`platform.remember_deep_link_request`), so the
response must echo it exactly, for this course and tool, once.
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt
from flask import Blueprint, render_template, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from lti_tool.sandbox.models import (
    SandboxCourse,
    SandboxLineItem,
    SandboxLink,
    SandboxPlatform,
    SandboxTool,
)
from lti_tool.sandbox.services import Sandbox, current_sandbox, tool_key
from lti_tool.store import DatabaseStore

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


class Refused(Exception):
    pass


def _lti_id(platform: SandboxPlatform, link: SandboxLink) -> str:
    return str(uuid.uuid4()) if platform.shape == "canvas" else str(link.id)


def verify_response(
    sb: Sandbox, platform: SandboxPlatform, course: SandboxCourse, tool_id: int, token: str
) -> tuple[SandboxTool, dict[str, Any]]:
    """The tool and the verified claims, or Refused with the reason."""
    if not token:
        raise Refused("the form has no JWT field")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise Refused("JWT is not a JSON Web Token") from None
    if header.get("alg") != "RS256":
        raise Refused(f"alg must be RS256, not {header.get('alg')!r}")
    tool = sb.db().scalar(
        select(SandboxTool).where(
            SandboxTool.platform_id == platform.id,
            SandboxTool.client_id == str(unverified.get("iss", "")),
        )
    )
    if tool is None:
        raise Refused(f"iss {unverified.get('iss')!r} is not a tool registered here")
    if tool.id != tool_id:
        raise Refused("iss is not the client id of the tool this return URL was made for")
    key = tool_key(tool, header.get("kid"), sb.http)
    if key is None:
        raise Refused(f"kid {header.get('kid')!r} is not in the tool's JWKS ({tool.jwks_url})")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=platform.issuer,
            issuer=tool.client_id,
            options={"require": ["iss", "aud", "exp", "iat", "nonce"]},
            leeway=5,
        )
    except jwt.InvalidAudienceError:
        raise Refused(f"aud must be the platform issuer {platform.issuer}") from None
    except jwt.InvalidTokenError as exc:
        raise Refused(f"JWT refused: {exc}") from None
    if not claims.get("nonce"):
        raise Refused("nonce is empty")
    if claims.get(LTI + "message_type") != "LtiDeepLinkingResponse":
        raise Refused("message_type must be LtiDeepLinkingResponse")
    if claims.get(LTI + "version") != "1.3.0":
        raise Refused("version must be 1.3.0")
    if claims.get(LTI + "deployment_id") != tool.deployment_id:
        raise Refused(f"deployment_id must be {tool.deployment_id}")
    data = claims.get(DL + "data")
    if not isinstance(data, str) or not data:
        raise Refused("data must echo the deep linking request's data")
    store = DatabaseStore(sb.db())
    sent = store.get(f"sandbox_dl:{data}")
    if not isinstance(sent, dict) or sent.get("course") != course.id or sent.get("tool") != tool.id:
        raise Refused("data is not what this platform sent in the deep linking request")
    items = claims.get(DL + "content_items", [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Refused("content_items must be a list of objects")
    for n, item in enumerate(items, start=1):
        check_item(n, item)
    store.delete(f"sandbox_dl:{data}")  # one response per request
    return tool, claims


def check_item(n: int, item: dict[str, Any]) -> None:
    kind = item.get("type")
    if kind != "ltiResourceLink":
        raise Refused(f"content item {n}: type {kind!r} is not in accept_types [ltiResourceLink]")
    for field in ("title", "url", "text"):
        if field in item and not isinstance(item[field], str):
            raise Refused(f"content item {n}: {field} must be a string")
    custom = item.get("custom", {})
    if not isinstance(custom, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in custom.items()
    ):
        raise Refused(f"content item {n}: custom must map strings to strings")
    line_item = item.get("lineItem")
    if line_item is not None:
        if not isinstance(line_item, dict):
            raise Refused(f"content item {n}: lineItem must be an object")
        score_max = line_item.get("scoreMaximum")
        if isinstance(score_max, bool) or not isinstance(score_max, int | float) or score_max <= 0:
            raise Refused(f"content item {n}: lineItem.scoreMaximum must be a number above 0")
        for field in ("label", "resourceId", "tag"):
            if field in line_item and not isinstance(line_item[field], str):
                raise Refused(f"content item {n}: lineItem.{field} must be a string")


def add_items(
    sb: Sandbox,
    platform: SandboxPlatform,
    course: SandboxCourse,
    tool: SandboxTool,
    items: list[dict[str, Any]],
) -> list[tuple[SandboxLink, SandboxLineItem | None]]:
    added = []
    for item in items:
        title = item.get("title") or tool.name
        link = SandboxLink(
            course_id=course.id,
            tool_id=tool.id,
            lti_id="pending",
            title=title,
            url=item.get("url") or None,
            custom=dict(item.get("custom") or {}),
        )
        sb.db().add(link)
        sb.db().flush()
        link.lti_id = _lti_id(platform, link)
        line_item = None
        li = item.get("lineItem")
        if isinstance(li, dict):
            line_item = SandboxLineItem(
                course_id=course.id,
                tool_id=tool.id,
                label=li.get("label") or title,
                score_maximum=float(li["scoreMaximum"]),
                resource_id=li.get("resourceId") or "",
                tag=li.get("tag") or "",
                link_id=link.id,
            )
            sb.db().add(line_item)
        added.append((link, line_item))
    sb.db().flush()
    return added


bp = Blueprint("deep_linking", __name__)


def answer(platform: SandboxPlatform, course_id: int | None, tool_id: int | None) -> Any:
    sb = current_sandbox()
    course = sb.db().get(SandboxCourse, course_id or 0)
    if course is None or course.platform_id != platform.id or tool_id is None:
        return page(platform, None, 404, "No such course or tool in this platform.")
    try:
        tool, claims = verify_response(sb, platform, course, tool_id, request.form.get("JWT", ""))
    except Refused as exc:
        sb.db().rollback()
        return page(platform, course, 400, str(exc))
    added = add_items(sb, platform, course, tool, claims.get(DL + "content_items", []))
    return page(platform, course, 200, None, claims, added)


def page(
    platform: SandboxPlatform,
    course: SandboxCourse | None,
    status: int,
    error: str | None,
    claims: dict[str, Any] | None = None,
    added: list[tuple[SandboxLink, SandboxLineItem | None]] | None = None,
) -> Response:
    claims = claims or {}
    html = render_template(
        "sandbox/deep_link_result.html",
        platform=platform,
        course=course,
        error=error,
        added=added or [],
        msg=claims.get(DL + "msg"),
        errormsg=claims.get(DL + "errormsg"),
        log=claims.get(DL + "log"),
        errorlog=claims.get(DL + "errorlog"),
    )
    return Response(html, status=status, content_type="text/html; charset=utf-8")


@bp.post("/<slug>/courses/<int:course_id>/deep_linking_response")
def canvas_deep_linking_response(slug: str, course_id: int) -> Any:
    platform = current_sandbox().platform(slug, "canvas")
    return answer(platform, course_id, request.args.get("tool", type=int))


@bp.post("/<slug>/mod/lti/contentitem_return.php")
def moodle_contentitem_return(slug: str) -> Any:
    platform = current_sandbox().platform(slug, "moodle")
    return answer(platform, request.args.get("course", type=int), request.args.get("id", type=int))
