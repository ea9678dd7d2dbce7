"""Names and Role Provisioning Services 2.0 (membership container) in both shapes.

Canvas (`app/controllers/lti/ims/providers/memberships_provider.rb`): full role URIs,
pages of 50 at most (`limit` lowers it), `page`/`per_page` in the Link URLs, a `Link` header
with rel="current", "next", "first" and "last" joined by commas.
Moodle (`mod/lti/service/memberships`): short role names, everything at once unless `limit`
is given, then `limit`/`from` and `Link: <…?limit=2&from=2>; rel="next"` alone.
Removed enrollments are absent; suspended ones come with status "Inactive".
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, request
from sqlalchemy import bindparam, func, select
from werkzeug.wrappers import Response

from lti_tool.sandbox.fault_endpoints import inject_fault
from lti_tool.sandbox.models import SandboxEnrollment, SandboxLink, SandboxUser
from lti_tool.sandbox.platform import MEMBERSHIP
from lti_tool.sandbox.services import (
    MEMBERSHIP_READ,
    CourseRow,
    PlatformRow,
    ServiceError,
    ToolRow,
    authenticate,
    canvas_course,
    current_sandbox,
    json_response,
    moodle_course,
    service_view,
)

MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
CANVAS_PAGE = 50
TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
CANVAS_ROLES = {
    "teacher": [MEMBERSHIP + "Instructor"],
    "ta": [TA],
    "student": [MEMBERSHIP + "Learner"],
    "mentor": [MEMBERSHIP + "Mentor"],
}
# Moodle's NRPS answers the short context role names (the id_token has full URIs).
MOODLE_ROLES = {
    "teacher": ["Instructor"],
    "ta": ["Instructor"],
    "student": ["Learner"],
    "mentor": ["Mentor"],
}
VISIBLE = ("Active", "Inactive")


def _short(role: str) -> str:
    """ "Learner" for any spelling of the Learner role; TeachingAssistant likewise."""
    return role.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def roles_matching(shape: str, wanted: str) -> list[str]:
    """The sandbox roles a `role` filter selects (full URI or short name, as either LMS
    accepts)."""
    table = CANVAS_ROLES if shape == "canvas" else MOODLE_ROLES
    w = _short(wanted)
    return [r for r, names in table.items() if any(_short(n) == w for n in names)]


def _member(shape: str, m: Any) -> dict[str, Any]:
    """One member from a row of MEMBERS (the enrollment's role and status, the user's
    columns)."""
    role, status, user_id, platform_id, sub, username, given, family, email = m
    if shape == "canvas":
        return {
            "status": status,
            "name": f"{given} {family}",
            "given_name": given,
            "family_name": family,
            "email": email,
            "lis_person_sourcedid": None,
            "user_id": sub,
            "lti11_legacy_user_id": f"{platform_id:x}{user_id:08x}",
            "roles": list(CANVAS_ROLES[role]),
        }
    return {
        "status": status,
        "roles": list(MOODLE_ROLES[role]),
        "user_id": sub,
        "lis_person_sourcedid": "",
        "name": f"{given} {family}",
        "given_name": given,
        "family_name": family,
        "email": email,
        "ext_user_username": username,
    }


def _enrolled(roles: bool) -> Any:
    """The course's visible enrollments (of the roles bound as `roles` when asked).
    Every enrollment has its user (a foreign key; users are never deleted), so the count
    and the paging need not join the users."""
    where = [
        SandboxEnrollment.course_id == bindparam("course"),
        SandboxEnrollment.status.in_(VISIBLE),
    ]
    if roles:
        where.append(SandboxEnrollment.role.in_(bindparam("roles", expanding=True)))
    return where


def _members_statement(roles: bool, paged: bool) -> Any:
    """A page of members in user id order: the enrollments are paged first and only that
    page is joined to its users (joining first made PostgreSQL join and sort the whole
    course for each page)."""
    page = (
        select(SandboxEnrollment.user_id, SandboxEnrollment.role, SandboxEnrollment.status)
        .where(*_enrolled(roles))
        .order_by(SandboxEnrollment.user_id)
    )
    if paged:
        page = page.limit(bindparam("limit")).offset(bindparam("offset"))
    e = page.subquery("e")
    return (
        select(
            e.c.role,
            e.c.status,
            SandboxUser.id,
            SandboxUser.platform_id,
            SandboxUser.lti_sub,
            SandboxUser.username,
            SandboxUser.given_name,
            SandboxUser.family_name,
            SandboxUser.email,
        )
        .join_from(e, SandboxUser, SandboxUser.id == e.c.user_id)
        .order_by(e.c.user_id)
    )


# Built once per process, by (role filter?, paged?).
MEMBERS = {(r, p): _members_statement(r, p) for r in (False, True) for p in (False, True)}
COUNT = {
    r: select(func.count()).select_from(SandboxEnrollment).where(*_enrolled(r))
    for r in (False, True)
}


bp = Blueprint("nrps", __name__)
bp.before_request(inject_fault)


def check_rlid(course: CourseRow, tool: ToolRow, missing_status: int) -> None:
    rlid = request.args.get("rlid")
    if not rlid:
        return
    db = current_sandbox().db()
    link = db.scalar(
        select(SandboxLink.id).where(
            SandboxLink.course_id == course.id,
            SandboxLink.tool_id == tool.id,
            SandboxLink.lti_id == rlid,
        )
    )
    if link is None:
        raise ServiceError(
            missing_status, "Tool does not have access to rlid or rlid does not exist"
        )


def memberships(platform: PlatformRow, course: CourseRow) -> tuple[Any, int, int | None, int]:
    """(rows, total, page size or None for all, offset) for this request."""
    shape = platform.shape
    role = request.args.get("role", "")
    roles = roles_matching(shape, role) if role else None
    params: dict[str, Any] = {"course": course.id}
    if roles is not None:
        params["roles"] = roles
    limit = request.args.get("limit", type=int) or 0
    if shape == "canvas":
        size = min(limit, CANVAS_PAGE) if limit > 0 else CANVAS_PAGE
        if limit <= 0 and request.args.get("per_page", type=int):
            size = min(max(request.args.get("per_page", type=int) or 1, 1), CANVAS_PAGE)
        page = max(request.args.get("page", type=int) or 1, 1)
        offset = (page - 1) * size
    elif limit > 0:
        size = limit
        offset = max(request.args.get("from", type=int) or 0, 0)
    else:
        size, offset = None, 0
    conn = current_sandbox().conn()
    if size is not None:
        params["limit"], params["offset"] = size, offset
    rows = conn.execute(MEMBERS[roles is not None, size is not None], params).all()
    if size is None or (len(rows) < size and (rows or offset == 0)):
        total = offset + len(rows)  # the last page: no need to count
    else:
        total = conn.execute(COUNT[roles is not None], params).scalar_one()
    return rows, total, size, offset


def container(course: CourseRow, shape: str, rows: Any) -> dict[str, Any]:
    return {
        "id": request.base_url if shape == "moodle" else request.url,
        "context": {"id": course.lti_context_id, "label": course.label, "title": course.title},
        "members": [_member(shape, m) for m in rows],
    }


def canvas_nrps(slug: str, course_id: int) -> Response:
    sb = current_sandbox()
    platform = sb.platform(slug, "canvas")
    course = canvas_course(sb, platform, course_id)
    caller = authenticate(sb, platform, course, [MEMBERSHIP_READ], 401)
    check_rlid(course, caller.tool, 400)
    rows, total, size, offset = memberships(platform, course)
    assert size is not None
    resp = json_response(container(course, "canvas", rows), MEDIA_TYPE)
    resp.headers["Link"] = canvas_links(request.base_url, request.args, total, size, offset)
    return resp


def moodle_nrps(slug: str, context_id: str, type_id: str) -> Response:
    sb = current_sandbox()
    platform = sb.platform(slug, "moodle")
    course = moodle_course(sb, platform, context_id)
    caller = authenticate(sb, platform, course, [MEMBERSHIP_READ], 403)
    if type_id != caller.tool.deployment_id:
        raise ServiceError(404, "Not Found")
    check_rlid(course, caller.tool, 404)
    rows, total, size, offset = memberships(platform, course)
    resp = json_response(container(course, "moodle", rows), MEDIA_TYPE)
    if size is not None and offset + size < total:
        params = {"limit": size, "from": offset + size}
        if request.args.get("role"):
            params["role"] = request.args["role"]
        resp.headers["Link"] = f'<{request.base_url}?{urlencode(params)}>; rel="next"'
    return resp


bp.add_url_rule(
    "/<slug>/api/lti/courses/<int:course_id>/names_and_roles",
    "canvas_nrps",
    service_view("canvas", canvas_nrps),
)
bp.add_url_rule(
    "/<slug>/mod/lti/services.php/CourseSection/<context_id>/bindings/<type_id>/memberships",
    "moodle_nrps",
    service_view("moodle", moodle_nrps),
)


def canvas_links(base: str, args: Any, total: int, size: int, offset: int) -> str:
    """Canvas' pagination Link header (lib/api.rb build_links): the request's own parameters
    without `limit`/`page`/`per_page`, then `page` and `per_page`."""
    kept = [(k, v) for k, v in args.items(multi=True) if k not in ("limit", "page", "per_page")]
    page = offset // size + 1
    last = max((total + size - 1) // size, 1)

    def url(p: int) -> str:
        return f"{base}?{urlencode([*kept, ('page', p), ('per_page', size)])}"

    links = [f'<{url(page)}>; rel="current"']
    if page < last:
        links.append(f'<{url(page + 1)}>; rel="next"')
    if page > 1:
        links.append(f'<{url(page - 1)}>; rel="prev"')
    links.append(f'<{url(1)}>; rel="first"')
    links.append(f'<{url(last)}>; rel="last"')
    return ",".join(links)
