"""What the AGS endpoints share: the platform, course and caller a call addresses, the line
item it names (refused in the shape's way when it is not the caller's), the user a score or
result filter names, and the routes of both shapes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from lti_tool.sandbox.ags import ITEM_WITH_LINK
from lti_tool.sandbox.models import SandboxLineItem, SandboxLink, SandboxUser
from lti_tool.sandbox.services import (
    Caller,
    CourseRow,
    PlatformRow,
    ServiceError,
    ToolRow,
    authenticate,
    canvas_course,
    current_sandbox,
    moodle_course,
    service_view,
)


def user_id_by_sub(platform: PlatformRow, sub: str) -> int | None:
    sb = current_sandbox()
    count, known, _ids = sb.subs.get(platform.id, (-1, {}, {}))
    if sub in known:
        return known[sub]
    now = sb.db().scalar(
        select(func.count(SandboxUser.id)).where(SandboxUser.platform_id == platform.id)
    )
    if now != count:
        rows = sb.db().execute(
            select(SandboxUser.lti_sub, SandboxUser.id).where(
                SandboxUser.platform_id == platform.id
            )
        )
        known = {s: i for s, i in rows}
        sb.subs[platform.id] = (now or 0, known, {i: s for s, i in known.items()})
    return known.get(sub)


def find_user(platform: PlatformRow, user_ref: Any) -> tuple[int, str] | None:
    """(id, lti_sub) of the platform's user `user_ref` names: their sub, or on Canvas
    also their user id."""
    sb = current_sandbox()
    ref = str(user_ref) if user_ref is not None else ""
    if not ref:
        return None
    user_id = user_id_by_sub(platform, ref)
    if user_id is not None:
        return user_id, ref
    if platform.shape == "canvas" and ref.isdigit():
        # Canvas also takes its own user id: known when the maps have it, else asked.
        sub = sb.subs.get(platform.id, (-1, {}, {}))[2].get(int(ref))
        if sub is not None:
            return int(ref), sub
        user = sb.db().get(SandboxUser, int(ref))
        if user is not None and user.platform_id == platform.id:
            return user.id, user.lti_sub
    return None


def check_item(
    item: Any, course: CourseRow, caller: Caller, item_id: int, shape: str, foreign: int
) -> None:
    if item is None or item.course_id != course.id:
        raise ServiceError(404, f"Not Found: Grade item {item_id} doesn't exist")
    if item.tool_id != caller.tool.id:
        if shape == "canvas" and item.tool_id is None:
            raise ServiceError(404, "The specified resource does not exist.")
        raise ServiceError(
            foreign,
            "Tool does not have permission to view line_item"
            if shape == "canvas"
            else "Line item does not exist",
        )


def link_of(item: SandboxLineItem) -> SandboxLink | None:
    sb = current_sandbox()
    return sb.db().get(SandboxLink, item.link_id) if item.link_id else None


def item_for(
    course: CourseRow, caller: Caller, item_id: int, shape: str, foreign: int
) -> SandboxLineItem:
    """The line item to change, as an ORM object."""
    sb = current_sandbox()
    item = sb.db().get(SandboxLineItem, item_id)
    check_item(item, course, caller, item_id, shape, foreign)
    assert item is not None
    return item


def item_row_for(course: CourseRow, caller: Caller, item_id: int, shape: str, foreign: int) -> Any:
    """The line item to read, as a row of its columns and `link_lti_id`."""
    sb = current_sandbox()
    item = sb.conn().execute(ITEM_WITH_LINK, {"item": item_id}).one_or_none()
    check_item(item, course, caller, item_id, shape, foreign)
    return item


def resource_link(course: CourseRow, tool: ToolRow, lti_id: Any) -> SandboxLink | None:
    sb = current_sandbox()
    return sb.db().scalar(
        select(SandboxLink).where(
            SandboxLink.course_id == course.id,
            SandboxLink.tool_id == tool.id,
            SandboxLink.lti_id == str(lti_id),
            SandboxLink.message_type == "LtiResourceLinkRequest",
        )
    )


def context(shape: str, slug: str, course_ref: Any) -> tuple[PlatformRow, CourseRow]:
    sb = current_sandbox()
    platform = sb.platform(slug, shape)
    if shape == "canvas":
        return platform, canvas_course(sb, platform, int(course_ref))
    return platform, moodle_course(sb, platform, str(course_ref))


def caller_for(
    platform: PlatformRow,
    course: CourseRow,
    scopes: list[str],
    moodle_status: int = 401,
) -> Caller:
    sb = current_sandbox()
    if platform.shape == "canvas":
        return authenticate(sb, platform, course, scopes, 401)
    caller = authenticate(sb, platform, course, scopes, moodle_status)
    # Moodle checks the tool by the type_id in the query (check_tool): a wrong one is 401.
    if request.args.get("type_id") != caller.tool.deployment_id:
        raise ServiceError(moodle_status, "Invalid type_id")
    return caller


def bind(shape: str, fn: Any) -> Any:
    """A view of `fn(shape, ctx=…)`: Canvas addresses the course by id, Moodle by context."""

    def view(**kw: Any) -> Response:
        if shape == "canvas":
            kw["ctx"] = kw.pop("course_id")
        return fn(shape, **kw)  # type: ignore[no-any-return]

    view.__name__ = f"{shape}_{fn.__name__}"
    return view


CANVAS_ITEMS = "/<slug>/api/lti/courses/<int:course_id>/line_items"

CANVAS_ITEM = CANVAS_ITEMS + "/<int:item_id>"

MOODLE_ITEMS = "/<slug>/mod/lti/services.php/<ctx>/lineitems"

MOODLE_ITEM = MOODLE_ITEMS + "/<int:item_id>/lineitem"


def add_rules(bp: Blueprint, rules: list[tuple[str, str, str, Any, list[str]]]) -> None:
    """Route each (shape, rule, endpoint, view, methods), its refusals in the shape's way."""
    for shape, rule, endpoint, view, methods in rules:
        bp.add_url_rule(rule, endpoint, service_view(shape, view), methods=methods)
