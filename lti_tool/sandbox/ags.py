"""Assignment and Grade Services 2.0: line items, results and scores, in both shapes.

Canvas (`app/controllers/lti/ims/{line_items,results,scores}_controller.rb`):
`<base>/api/lti/courses/<course id>/line_items[/<id>[/results|/scores]]`; refusals as
`{"errors": {"type", "message"}}`; lists paged 10 by default and 50 at most; a score needs
userId, activityProgress, gradingProgress and timestamp (400), a student of the course
(422), a timestamp not older than the result's last update (400), and scoreMaximum with
scoreGiven (422); the line item a resource link created cannot be deleted (401).

Moodle (`mod/lti/service/gradebookservices`):
`<base>/mod/lti/services.php/<ctx>/lineitems/<id>/lineitem?type_id=<tool type id>`, results
and scores insert their segment before the query; refusals are `[]` with the reason in the
status line; lists are paged only with `limit`/`from` (and Moodle's Link header, with its
typographic quotes); a score for someone who cannot be graded is 400, one whose timestamp
is not after the stored grade's (whole seconds) is 409; scoreMaximum defaults to 1 and a
gradingProgress other than FullyGraded clears scoreGiven; results are scaled to the line
item's maximum.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, request
from sqlalchemy import and_, bindparam, func, insert, select, update
from werkzeug.wrappers import Response

from lti_tool.models.types import utcnow
from lti_tool.sandbox.faults import FAULTY_ENDPOINTS
from lti_tool.sandbox.models import (
    SandboxEnrollment,
    SandboxLineItem,
    SandboxLink,
    SandboxResult,
    SandboxUser,
)
from lti_tool.sandbox.nrps import canvas_links
from lti_tool.sandbox.services import (
    LINEITEM,
    LINEITEM_READ,
    RESULT_READ,
    SCORE,
    Caller,
    CourseRow,
    PlatformRow,
    Sandbox,
    ServiceError,
    ToolRow,
    authenticate,
    canvas_course,
    json_response,
    moodle_course,
    read_json_body,
    service_view,
)

LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
RESULTS_TYPE = "application/vnd.ims.lis.v2.resultcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
ACTIVITY = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING = {"NotReady", "Failed", "Pending", "PendingManual", "FullyGraded"}
CANVAS_DEFAULT_PAGE = 10
CANVAS_MAX_PAGE = 50


def num(x: float | None) -> float | int | None:
    """100.0 as 100, as PHP's json_encode and Rails write whole numbers."""
    if x is None:
        return None
    return int(x) if float(x).is_integer() else x


def parse_timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        ts = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    return False


# Built once per process (statement construction costs more than execution on SQLite).
ITEM_COLUMNS = tuple(SandboxLineItem.__table__.c)
# A line item with its resource link's id (None without a link).
ITEM_WITH_LINK = (
    select(*ITEM_COLUMNS, SandboxLink.lti_id.label("link_lti_id"))
    .outerjoin(SandboxLink, SandboxLink.id == SandboxLineItem.link_id)
    .where(SandboxLineItem.id == bindparam("item"))
)
# What a score post reads, in one round trip: the line item, the user's enrollment in the
# course (role None: not enrolled) and the user's result in the column (id None: none yet).
SCORE_STATE = (
    select(
        SandboxLineItem.course_id,
        SandboxLineItem.tool_id,
        SandboxEnrollment.role,
        SandboxEnrollment.status,
        SandboxResult.id.label("result_id"),
        SandboxResult.timestamp,
        SandboxResult.posts,
    )
    .select_from(SandboxLineItem)
    .outerjoin(
        SandboxEnrollment,
        and_(
            SandboxEnrollment.course_id == bindparam("course"),
            SandboxEnrollment.user_id == bindparam("user"),
        ),
    )
    .outerjoin(
        SandboxResult,
        and_(
            SandboxResult.line_item_id == SandboxLineItem.id,
            SandboxResult.user_id == bindparam("user"),
        ),
    )
    .where(SandboxLineItem.id == bindparam("item"))
)
INSERT_RESULT = insert(SandboxResult).returning(SandboxResult.id)
UPDATE_RESULT = update(SandboxResult).where(SandboxResult.id == bindparam("result_id"))
RESULT_COLUMNS = (
    SandboxResult.id,
    SandboxResult.line_item_id,
    SandboxResult.score_given,
    SandboxResult.score_maximum,
    SandboxResult.comment,
    SandboxResult.timestamp,
)
# One result with its user's sub (the row serves as both result and user in result_json).
RESULT_BY_ID = (
    select(*RESULT_COLUMNS, SandboxUser.lti_sub)
    .join(SandboxUser, SandboxUser.id == SandboxResult.user_id)
    .where(SandboxResult.id == bindparam("result"))
)


def results_statements(for_user: bool, paged: bool) -> tuple[Any, Any]:
    """(page, count) of a line item's results in user id order: the results are paged
    first and only that page is joined to its users (as NRPS does)."""
    where = [SandboxResult.line_item_id == bindparam("item")]
    if for_user:
        where.append(SandboxResult.user_id == bindparam("user"))
    page = select(*RESULT_COLUMNS, SandboxResult.user_id).where(*where)
    page = page.order_by(SandboxResult.user_id)
    if paged:
        page = page.limit(bindparam("limit")).offset(bindparam("offset"))
    r = page.subquery("r")
    rows = (
        select(
            r.c.id,
            r.c.line_item_id,
            r.c.score_given,
            r.c.score_maximum,
            r.c.comment,
            r.c.timestamp,
            SandboxUser.lti_sub,
        )
        .join_from(r, SandboxUser, SandboxUser.id == r.c.user_id)
        .order_by(r.c.user_id)
    )
    return rows, select(func.count()).select_from(SandboxResult).where(*where)


RESULTS = {(u, p): results_statements(u, p) for u in (False, True) for p in (False, True)}


def counted(rows: list[Any], size: int | None, offset: int, count: Any) -> int:
    """The total a page belongs to: known without counting when the page is the last."""
    if size is None or (len(rows) < size and (rows or offset == 0)):
        return offset + len(rows)
    return int(count())


def own_line_item(session: Any, item: SandboxLineItem) -> bool:
    """Whether `item` is the one its resource link created (Canvas: the assignment's own line
    item; Moodle: the activity's grade item): the link's first line item."""
    if item.link_id is None:
        return False
    first = session.scalar(
        select(func.min(SandboxLineItem.id)).where(SandboxLineItem.link_id == item.link_id)
    )
    return bool(first == item.id)


class Urls:
    """The AGS URLs of one course and tool, in the platform's shape."""

    def __init__(self, sb: Sandbox, platform: PlatformRow, course: CourseRow, tool: Any):
        self.shape = platform.shape
        self.base = sb.urls(platform).base
        self.course = course
        self.tool = tool

    @property
    def container(self) -> str:
        if self.shape == "canvas":
            return f"{self.base}/api/lti/courses/{self.course.id}/line_items"
        return f"{self.base}/mod/lti/services.php/{self.course.lti_context_id}/lineitems"

    def item(self, item_id: int, segment: str = "") -> str:
        if self.shape == "canvas":
            return f"{self.container}/{item_id}{segment}"
        return f"{self.container}/{item_id}/lineitem{segment}?type_id={self.tool.deployment_id}"

    def result(self, item_id: int, result: Any, user: Any) -> str:
        if self.shape == "canvas":
            return f"{self.item(item_id, '/results')}/{result.id}"
        return f"{self.item(item_id, '/results')}&user_id={user.lti_sub}"


def line_item_json(urls: Urls, item: Any, link_lti_id: str | None) -> dict[str, Any]:
    """A line item (a SandboxLineItem or a row of its columns) as the platform writes it;
    `link_lti_id` is its resource link's id, None without one."""
    if urls.shape == "canvas":
        out: dict[str, Any] = {
            "id": urls.item(item.id),
            "scoreMaximum": num(item.score_maximum),
            "label": item.label,
        }
        if item.resource_id:
            out["resourceId"] = item.resource_id
        if item.tag:
            out["tag"] = item.tag
        if link_lti_id is not None:
            out["resourceLinkId"] = link_lti_id
        if item.start_date_time:
            out["startDateTime"] = item.start_date_time
        if item.end_date_time:
            out["endDateTime"] = item.end_date_time
        return out
    out = {
        "id": urls.item(item.id),
        "label": item.label,
        "scoreMaximum": num(item.score_maximum),
        "resourceId": item.resource_id or "",
        "tag": item.tag or "",
    }
    if link_lti_id is not None:
        out["resourceLinkId"] = link_lti_id
        out["ltiLinkId"] = link_lti_id
    return out


def result_json(urls: Urls, item: Any, result: Any, user: Any) -> dict[str, Any]:
    if urls.shape == "canvas":
        out: dict[str, Any] = {
            "id": urls.result(item.id, result, user),
            "scoreOf": urls.item(item.id),
            "userId": user.lti_sub,
        }
        if result.score_given is not None:
            out["resultScore"] = num(result.score_given)
        if result.score_maximum is not None:
            out["resultMaximum"] = num(result.score_maximum)
        if result.comment:
            out["comment"] = result.comment
        out["timestamp"] = result.timestamp.isoformat(timespec="milliseconds")
        return out
    out = {"id": urls.result(item.id, result, user), "userId": user.lti_sub}
    if result.score_given is not None:
        scale = item.score_maximum / (result.score_maximum or item.score_maximum or 1)
        out["resultScore"] = num(round(result.score_given * scale, 5))
        out["resultMaximum"] = num(item.score_maximum)
    out["comment"] = result.comment or ""
    out["scoreOf"] = urls.item(item.id)
    out["timestamp"] = result.timestamp.replace(microsecond=0).isoformat()
    return out


def moodle_links(
    base: str, params: list[tuple[str, Any]], total: int, limit: int, start: int
) -> str:
    """Moodle's Link header for line items and results (`resources/lineitems.php`), typographic
    quotes around the rel values included, as Moodle 4.5 sends them."""

    def url(start_at: int) -> str:
        sep = "&" if "?" in base else "?"
        return f"{base}{sep}{urlencode([*params, ('limit', limit), ('from', start_at)])}"

    out_of_range = start >= total or start < 0
    links = [f"<{url(0)}>; rel=“first”"]
    if start > 0 and not out_of_range:
        links.append(f"<{url(max(start - limit, 0))}>; rel=“prev”")
    links.append(f"<{url(start)}>; rel=“canonical”")
    if start + limit <= total - 1 and not out_of_range:
        links.append(f"<{url(start + limit)}>; rel=“next”")
    links.append(f"<{url(max(total - limit + 1, 0))}>; rel=“last”")
    # PHP writes the header's UTF-8 bytes as they are; WSGI wants them as latin-1 text.
    return ", ".join(links).encode("utf-8").decode("latin-1")


def register(app: Flask, sb: Sandbox) -> None:
    # platform id -> (user count when loaded, {lti_sub: user id}, {user id: lti_sub}): users
    # are never renamed or deleted, so the maps are reloaded only when the platform has new
    # users.
    subs: dict[int, tuple[int, dict[str, int], dict[int, str]]] = {}

    # -- lookups ------------------------------------------------------------------------

    def user_id_by_sub(platform: PlatformRow, sub: str) -> int | None:
        count, known, _ids = subs.get(platform.id, (-1, {}, {}))
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
            subs[platform.id] = (now or 0, known, {i: s for s, i in known.items()})
        return known.get(sub)

    def find_user(platform: PlatformRow, user_ref: Any) -> tuple[int, str] | None:
        """(id, lti_sub) of the platform's user `user_ref` names: their sub, or on Canvas
        also their user id."""
        ref = str(user_ref) if user_ref is not None else ""
        if not ref:
            return None
        user_id = user_id_by_sub(platform, ref)
        if user_id is not None:
            return user_id, ref
        if platform.shape == "canvas" and ref.isdigit():
            # Canvas also takes its own user id: known when the maps have it, else asked.
            sub = subs.get(platform.id, (-1, {}, {}))[2].get(int(ref))
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
        return sb.db().get(SandboxLink, item.link_id) if item.link_id else None

    def item_for(
        course: CourseRow, caller: Caller, item_id: int, shape: str, foreign: int
    ) -> SandboxLineItem:
        """The line item to change, as an ORM object."""
        item = sb.db().get(SandboxLineItem, item_id)
        check_item(item, course, caller, item_id, shape, foreign)
        assert item is not None
        return item

    def item_row_for(
        course: CourseRow, caller: Caller, item_id: int, shape: str, foreign: int
    ) -> Any:
        """The line item to read, as a row of its columns and `link_lti_id`."""
        item = sb.conn().execute(ITEM_WITH_LINK, {"item": item_id}).one_or_none()
        check_item(item, course, caller, item_id, shape, foreign)
        return item

    def resource_link(course: CourseRow, tool: ToolRow, lti_id: Any) -> SandboxLink | None:
        return sb.db().scalar(
            select(SandboxLink).where(
                SandboxLink.course_id == course.id,
                SandboxLink.tool_id == tool.id,
                SandboxLink.lti_id == str(lti_id),
                SandboxLink.message_type == "LtiResourceLinkRequest",
            )
        )

    def context(shape: str, slug: str, course_ref: Any) -> tuple[PlatformRow, CourseRow]:
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
        if platform.shape == "canvas":
            return authenticate(sb, platform, course, scopes, 401)
        caller = authenticate(sb, platform, course, scopes, moodle_status)
        # Moodle checks the tool by the type_id in the query (check_tool): a wrong one is 401.
        if request.args.get("type_id") != caller.tool.deployment_id:
            raise ServiceError(moodle_status, "Invalid type_id")
        return caller

    # -- line items -----------------------------------------------------------------------

    def list_items(shape: str, slug: str, ctx: Any) -> Response:
        platform, course = context(shape, slug, ctx)
        caller = caller_for(platform, course, [LINEITEM, LINEITEM_READ])
        urls = Urls(sb, platform, course, caller.tool)
        where = [SandboxLineItem.course_id == course.id, SandboxLineItem.tool_id == caller.tool.id]
        args = request.args
        params: list[tuple[str, Any]] = []
        if args.get("resource_id") is not None:
            where.append(SandboxLineItem.resource_id == args["resource_id"])
            params.append(("resource_id", args["resource_id"]))
        rlid = args.get("resource_link_id") or (
            args.get("lti_link_id") if shape == "moodle" else None
        )
        if rlid is not None:
            where.append(SandboxLink.lti_id == rlid)
            params.append(("resource_link_id", rlid))
        if args.get("tag") is not None:
            where.append(SandboxLineItem.tag == args["tag"])
            params.append(("tag", args["tag"]))
        q = (
            select(*ITEM_COLUMNS, SandboxLink.lti_id.label("link_lti_id"))
            .outerjoin(SandboxLink, SandboxLink.id == SandboxLineItem.link_id)
            .where(*where)
            .order_by(SandboxLineItem.id)
        )
        count = select(func.count()).select_from(SandboxLineItem)
        if rlid is not None:
            count = count.join(SandboxLink, SandboxLink.id == SandboxLineItem.link_id)
        count = count.where(*where)
        conn = sb.conn()
        limit = args.get("limit", type=int) or 0
        if shape == "canvas":
            size = min(limit if limit > 0 else CANVAS_DEFAULT_PAGE, CANVAS_MAX_PAGE)
            if limit <= 0 and args.get("per_page", type=int):
                size = min(max(args.get("per_page", type=int) or 1, 1), CANVAS_MAX_PAGE)
            offset = (max(args.get("page", type=int) or 1, 1) - 1) * size
            items = conn.execute(q.offset(offset).limit(size)).all()
            total = counted(items, size, offset, lambda: conn.execute(count).scalar_one())
            link_header = canvas_links(request.base_url, args, total, size, offset)
        elif limit > 0:
            start = args.get("from", type=int) or 0
            items = conn.execute(q.offset(max(start, 0)).limit(limit)).all()
            total = counted(items, limit, max(start, 0), lambda: conn.execute(count).scalar_one())
            link_header = moodle_links(
                urls.container,
                [*params, ("type_id", caller.tool.deployment_id)],
                total,
                limit,
                start,
            )
        else:
            items = conn.execute(q).all()
            link_header = None
        body = [line_item_json(urls, i, i.link_lti_id) for i in items]
        resp = json_response(body, CONTAINER_TYPE)
        if link_header:
            resp.headers["Link"] = link_header
        return resp

    def create_item(shape: str, slug: str, ctx: Any) -> Response:
        platform, course = context(shape, slug, ctx)
        caller = caller_for(platform, course, [LINEITEM])
        urls = Urls(sb, platform, course, caller.tool)
        body = read_json_body()
        if not isinstance(body, dict):
            raise ServiceError(400, "No label or Score Maximum")
        for field in ("scoreMaximum", "label"):
            if body.get(field) in (None, ""):
                raise ServiceError(
                    400,
                    f"param is missing or the value is empty: {field}"
                    if shape == "canvas"
                    else "No label or Score Maximum",
                )
        if not is_number(body["scoreMaximum"]) or float(body["scoreMaximum"]) < 0:
            raise ServiceError(400 if shape == "moodle" else 422, "scoreMaximum must be a number")
        link = None
        rlid = body.get("resourceLinkId")
        if rlid is None and shape == "moodle":
            rlid = body.get("ltiLinkId")
        if rlid not in (None, ""):
            link = resource_link(course, caller.tool, rlid)
            if link is None:
                raise ServiceError(404 if shape == "canvas" else 403, "Resource link not found")
            if shape == "canvas" and not sb.db().scalar(
                select(SandboxLineItem.id).where(SandboxLineItem.link_id == link.id).limit(1)
            ):
                # Canvas adds line items only to an assignment the link already has.
                raise ServiceError(412, "The resource link has no assignment")
        item = SandboxLineItem(
            course_id=course.id,
            tool_id=caller.tool.id,
            label=str(body["label"]),
            score_maximum=float(body["scoreMaximum"]),
            resource_id=str(body.get("resourceId") or ""),
            tag=str(body.get("tag") or ""),
            link_id=link.id if link else None,
            start_date_time=body.get("startDateTime") if shape == "canvas" else None,
            end_date_time=body.get("endDateTime") if shape == "canvas" else None,
        )
        sb.db().add(item)
        sb.db().flush()
        if shape == "canvas":
            out = line_item_json(urls, item, link.lti_id if link else None)
        else:
            out = {**body, "id": urls.item(item.id)}  # Moodle echoes what it was sent
        return json_response(out, LINEITEM_TYPE, 201)

    def show_item(shape: str, slug: str, ctx: Any, item_id: int) -> Response:
        platform, course = context(shape, slug, ctx)
        caller = caller_for(platform, course, [LINEITEM, LINEITEM_READ])
        item = item_row_for(course, caller, item_id, shape, 412 if shape == "canvas" else 404)
        urls = Urls(sb, platform, course, caller.tool)
        return json_response(line_item_json(urls, item, item.link_lti_id), LINEITEM_TYPE)

    def update_item(shape: str, slug: str, ctx: Any, item_id: int) -> Response:
        platform, course = context(shape, slug, ctx)
        caller = caller_for(platform, course, [LINEITEM])
        item = item_for(course, caller, item_id, shape, 412 if shape == "canvas" else 404)
        urls = Urls(sb, platform, course, caller.tool)
        body = read_json_body()
        if not isinstance(body, dict):
            raise ServiceError(400, "The body is not a line item")
        link = link_of(item)
        if shape == "canvas":
            rlid = body.get("resourceLinkId")
            if rlid not in (None, "") and (link is None or link.lti_id != str(rlid)):
                raise ServiceError(
                    412, "The specified LTI link ID is not associated with the line item."
                )
            if "scoreMaximum" in body:
                if not is_number(body["scoreMaximum"]) or float(body["scoreMaximum"]) < 0:
                    raise ServiceError(422, "scoreMaximum must be a number")
                item.score_maximum = float(body["scoreMaximum"])
            if body.get("label"):
                item.label = str(body["label"])
            if "resourceId" in body:
                item.resource_id = str(body["resourceId"] or "")
            if "tag" in body:
                item.tag = str(body["tag"] or "")
            for key, attr in (
                ("startDateTime", "start_date_time"),
                ("endDateTime", "end_date_time"),
            ):
                if key in body:
                    setattr(item, attr, body[key] or None)
            sb.db().flush()
            return json_response(
                line_item_json(urls, item, link.lti_id if link else None), LINEITEM_TYPE
            )
        if body.get("scoreMaximum") is None or body.get("label") is None:
            raise ServiceError(400, "No label or Score Maximum")
        if not is_number(body["scoreMaximum"]):
            raise ServiceError(400, "scoreMaximum is not a number")
        rlid = body.get("resourceLinkId", body.get("ltiLinkId"))
        if rlid is not None:
            new_link = resource_link(course, caller.tool, rlid)
            if new_link is None:
                raise ServiceError(403 if str(rlid).isdigit() else 400, "Invalid resource link")
            item.link_id = new_link.id
        item.label = str(body["label"])
        item.score_maximum = float(body["scoreMaximum"])
        item.resource_id = str(body.get("resourceId") or "")
        item.tag = str(body.get("tag") or "")
        sb.db().flush()
        return json_response({**body, "id": urls.item(item.id)}, LINEITEM_TYPE)

    def delete_item(shape: str, slug: str, ctx: Any, item_id: int) -> Response:
        platform, course = context(shape, slug, ctx)
        caller = caller_for(platform, course, [LINEITEM])
        item = item_for(course, caller, item_id, shape, 412 if shape == "canvas" else 404)
        if own_line_item(sb.db(), item):
            if shape == "canvas":
                return Response(status=401)  # `head :unauthorized` (line_items_controller)
            raise ServiceError(403, "The activity's own grade item cannot be deleted")
        sb.db().delete(item)
        sb.db().flush()
        return Response(status=204)

    # -- results --------------------------------------------------------------------------

    def results(shape: str, slug: str, ctx: Any, item_id: int) -> Response:
        platform, course = context(shape, slug, ctx)
        caller = caller_for(platform, course, [RESULT_READ], moodle_status=403)
        item = item_row_for(course, caller, item_id, shape, 404 if shape == "canvas" else 403)
        urls = Urls(sb, platform, course, caller.tool)
        params: dict[str, Any] = {"item": item.id}
        wanted = request.args.get("user_id")
        if wanted:
            user = find_user(platform, wanted)
            params["user"] = user[0] if user else -1
        limit = request.args.get("limit", type=int) or 0
        link_header = None
        size: int | None = None
        offset = 0
        if shape == "canvas":
            size = min(limit if limit > 0 else CANVAS_DEFAULT_PAGE, CANVAS_MAX_PAGE)
            offset = (max(request.args.get("page", type=int) or 1, 1) - 1) * size
        elif limit > 0:
            start = request.args.get("from", type=int) or 0
            size, offset = limit, max(start, 0)
        if size is not None:
            params["limit"], params["offset"] = size, offset
        page, count = RESULTS[bool(wanted), size is not None]
        conn = sb.conn()
        rows = conn.execute(page, params).all()
        if shape == "canvas":
            total = counted(rows, size, offset, lambda: conn.execute(count, params).scalar_one())
            assert size is not None
            link_header = canvas_links(request.base_url, request.args, total, size, offset)
        elif limit > 0:
            total = counted(rows, size, offset, lambda: conn.execute(count, params).scalar_one())
            link_header = moodle_links(
                urls.item(item.id, "/results").split("?", 1)[0],
                [("type_id", caller.tool.deployment_id)],
                total,
                limit,
                start,
            )
        resp = json_response([result_json(urls, item, r, r) for r in rows], RESULTS_TYPE)
        if link_header:
            resp.headers["Link"] = link_header
        return resp

    def canvas_result(slug: str, course_id: int, item_id: int, result_id: int) -> Response:
        platform, course = context("canvas", slug, course_id)
        caller = caller_for(platform, course, [RESULT_READ])
        item = item_row_for(course, caller, item_id, "canvas", 404)
        result = sb.conn().execute(RESULT_BY_ID, {"result": result_id}).one_or_none()
        if result is None or result.line_item_id != item.id:
            raise ServiceError(404, "The specified resource does not exist.")
        urls = Urls(sb, platform, course, caller.tool)
        return json_response(result_json(urls, item, result, result), RESULTS_TYPE)

    # -- scores ---------------------------------------------------------------------------

    def score_state(
        platform: PlatformRow,
        course: CourseRow,
        caller: Caller,
        item_id: int,
        shape: str,
        foreign: int,
    ) -> tuple[Any, ServiceError | None, tuple[int, str] | None, Any]:
        """(body, refusal of the body or None, user, state) of a score post: the line item
        checked as `item_for` does, then what SCORE_STATE reads (one query for the item,
        the enrollment and the existing result). The body is read before the item is
        checked, so its refusal is handed back to be raised where the view checks it."""
        try:
            body, refused = read_json_body(), None
        except ServiceError as err:
            body, refused = None, err
        user = find_user(platform, body.get("userId")) if isinstance(body, dict) else None
        state = (
            sb.conn()
            .execute(
                SCORE_STATE,
                {"item": item_id, "course": course.id, "user": user[0] if user else -1},
            )
            .one_or_none()
        )
        check_item(state, course, caller, item_id, shape, foreign)
        return body, refused, user, state

    def store_score(
        item_id: int,
        user_id: int,
        state: Any,
        score_given: float | None,
        score_maximum: float | None,
        body: dict[str, Any],
        timestamp: datetime,
    ) -> int:
        """Write the user's result in the column (a new one, or the one in `state`); its id."""
        values = {
            "score_given": score_given,
            "score_maximum": score_maximum,
            "comment": str(body.get("comment") or ""),
            "activity_progress": str(body["activityProgress"]),
            "grading_progress": str(body["gradingProgress"]),
            "timestamp": timestamp,
            "posts": (state.posts or 0) + 1 if state.result_id is not None else 1,
            "updated_at": utcnow(),
        }
        conn = sb.conn()
        if state.result_id is None:
            return int(
                conn.execute(
                    INSERT_RESULT, {"line_item_id": item_id, "user_id": user_id, **values}
                ).scalar_one()
            )
        conn.execute(UPDATE_RESULT, {"result_id": state.result_id, **values})
        return int(state.result_id)

    def canvas_score(slug: str, course_id: int, item_id: int) -> Response:
        platform, course = context("canvas", slug, course_id)
        caller = caller_for(platform, course, [SCORE])
        body, refused, user, state = score_state(platform, course, caller, item_id, "canvas", 404)
        urls = Urls(sb, platform, course, caller.tool)
        if refused is not None:
            raise refused
        if not isinstance(body, dict):
            raise ServiceError(400, "The body is not a score")
        if user is None or state.role != "student" or state.status != "Active":
            raise ServiceError(422, "User not found in course or is not a student")
        for field in ("userId", "activityProgress", "gradingProgress", "timestamp"):
            if body.get(field) in (None, ""):
                raise ServiceError(400, f"param is missing or the value is empty: {field}")
        timestamp = parse_timestamp(body["timestamp"])
        if timestamp is None:
            raise ServiceError(
                400, f"Provided timestamp of {body['timestamp']} not a valid timestamp"
            )
        if state.result_id is not None and state.timestamp > timestamp:
            raise ServiceError(
                400,
                f"Provided timestamp of {body['timestamp']} before last updated timestamp "
                f"of {state.timestamp.isoformat(timespec='milliseconds')}",
            )
        ignore = body.get("scoreGiven") is None or body["gradingProgress"] not in (
            "FullyGraded",
            "PendingManual",
        )
        if not ignore:
            if "scoreMaximum" not in body or body["scoreMaximum"] is None:
                raise ServiceError(422, "ScoreMaximum not supplied when ScoreGiven present.")
            if not is_number(body["scoreMaximum"]) or float(body["scoreMaximum"]) < 0:
                raise ServiceError(422, "ScoreMaximum must be greater than or equal to 0")
            if not is_number(body["scoreGiven"]):
                raise ServiceError(422, "ScoreGiven must be a number")
        if body["activityProgress"] not in ACTIVITY:
            raise ServiceError(422, f"Activity progress is not included in the list: {ACTIVITY}")
        if body["gradingProgress"] not in GRADING:
            raise ServiceError(422, f"Grading progress is not included in the list: {GRADING}")
        result_id = store_score(
            item_id,
            user[0],
            state,
            None if ignore else float(body["scoreGiven"]),
            float(body["scoreMaximum"]) if is_number(body.get("scoreMaximum")) else None,
            body,
            timestamp,
        )
        return json_response(
            {"resultUrl": f"{urls.item(item_id, '/results')}/{result_id}"}, SCORE_TYPE
        )

    def moodle_score(slug: str, ctx: str, item_id: int) -> Response:
        platform, course = context("moodle", slug, ctx)
        caller = caller_for(platform, course, [SCORE])
        body, refused, user, state = score_state(platform, course, caller, item_id, "moodle", 403)
        if refused is not None:
            raise refused
        if not isinstance(body, dict) or not body:
            raise ServiceError(400, "Incorrect score received")
        timestamp = parse_timestamp(body.get("timestamp"))
        if (
            any(body.get(f) is None for f in ("userId", "timestamp", "gradingProgress"))
            or body.get("activityProgress") is None
            or timestamp is None
            or (body.get("scoreGiven") is not None and not is_number(body["scoreGiven"]))
            or (body.get("scoreMaximum") is not None and not is_number(body["scoreMaximum"]))
            or user is None
            or state.role != "student"
            or state.status not in ("Active", "Inactive")
        ):
            raise ServiceError(400, "Incorrect score received")
        assert user is not None and timestamp is not None
        posted = timestamp.replace(microsecond=0)  # strtotime: whole seconds
        if state.result_id is not None and state.timestamp.replace(microsecond=0) >= posted:
            raise ServiceError(
                409,
                f"Refusing score with an earlier timestamp for item {item_id} and user {user[1]}",
            )
        score_max = float(body["scoreMaximum"]) if body.get("scoreMaximum") is not None else 1.0
        given = float(body["scoreGiven"]) if body.get("scoreGiven") is not None else None
        if given is not None and body["gradingProgress"] != "FullyGraded":
            given = None
        store_score(item_id, user[0], state, given, score_max, body, posted)
        return Response(b"", status=200, content_type=SCORE_TYPE)

    # -- routes ---------------------------------------------------------------------------

    def bind(shape: str, fn: Any) -> Any:
        def view(**kw: Any) -> Response:
            if shape == "canvas":
                kw["ctx"] = kw.pop("course_id")
            return fn(shape, **kw)  # type: ignore[no-any-return]

        view.__name__ = f"{shape}_{fn.__name__}"
        return view

    canvas_items = "/<slug>/api/lti/courses/<int:course_id>/line_items"
    canvas_item = canvas_items + "/<int:item_id>"
    moodle_items = "/<slug>/mod/lti/services.php/<ctx>/lineitems"
    moodle_item = moodle_items + "/<int:item_id>/lineitem"
    rules: list[tuple[str, str, str, Any, list[str]]] = [
        ("canvas", canvas_items, "canvas_line_items", bind("canvas", list_items), ["GET"]),
        ("canvas", canvas_items, "canvas_line_item_create", bind("canvas", create_item), ["POST"]),
        ("canvas", canvas_item, "canvas_line_item", bind("canvas", show_item), ["GET"]),
        ("canvas", canvas_item, "canvas_line_item_update", bind("canvas", update_item), ["PUT"]),
        ("canvas", canvas_item, "canvas_line_item_delete", bind("canvas", delete_item), ["DELETE"]),
        ("canvas", canvas_item + "/results", "canvas_results", bind("canvas", results), ["GET"]),
        (
            "canvas",
            canvas_item + "/results/<int:result_id>",
            "canvas_result",
            canvas_result,
            ["GET"],
        ),
        ("canvas", canvas_item + "/scores", "canvas_scores", canvas_score, ["POST"]),
        ("moodle", moodle_items, "moodle_line_items", bind("moodle", list_items), ["GET"]),
        ("moodle", moodle_items, "moodle_line_item_create", bind("moodle", create_item), ["POST"]),
        ("moodle", moodle_item, "moodle_line_item", bind("moodle", show_item), ["GET"]),
        ("moodle", moodle_item, "moodle_line_item_update", bind("moodle", update_item), ["PUT"]),
        ("moodle", moodle_item, "moodle_line_item_delete", bind("moodle", delete_item), ["DELETE"]),
        ("moodle", moodle_item + "/results", "moodle_results", bind("moodle", results), ["GET"]),
        ("moodle", moodle_item + "/scores", "moodle_scores", moodle_score, ["POST"]),
    ]
    for shape, rule, endpoint, view, methods in rules:
        app.add_url_rule(rule, endpoint, service_view(shape, view), methods=methods)
        FAULTY_ENDPOINTS.add(endpoint)
