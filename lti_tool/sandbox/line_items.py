"""AGS line items (the gradebook's columns) in both shapes: list, create, show, update and
delete, with each platform's paging and refusals (see ags.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from lti_tool.sandbox.ags import (
    CANVAS_DEFAULT_PAGE,
    CANVAS_MAX_PAGE,
    CONTAINER_TYPE,
    ITEM_COLUMNS,
    LINEITEM_TYPE,
    Urls,
    counted,
    is_number,
    line_item_json,
    moodle_links,
    own_line_item,
)
from lti_tool.sandbox.ags_access import (
    CANVAS_ITEM,
    CANVAS_ITEMS,
    MOODLE_ITEM,
    MOODLE_ITEMS,
    add_rules,
    bind,
    caller_for,
    context,
    item_for,
    item_row_for,
    link_of,
    resource_link,
)
from lti_tool.sandbox.fault_endpoints import inject_fault
from lti_tool.sandbox.models import SandboxLineItem, SandboxLink
from lti_tool.sandbox.nrps import canvas_links
from lti_tool.sandbox.services import (
    LINEITEM,
    LINEITEM_READ,
    ServiceError,
    current_sandbox,
    json_response,
    read_json_body,
)

bp = Blueprint("line_items", __name__)

bp.before_request(inject_fault)


def list_items(shape: str, slug: str, ctx: Any) -> Response:
    sb = current_sandbox()
    platform, course = context(shape, slug, ctx)
    caller = caller_for(platform, course, [LINEITEM, LINEITEM_READ])
    urls = Urls(sb, platform, course, caller.tool)
    where = [SandboxLineItem.course_id == course.id, SandboxLineItem.tool_id == caller.tool.id]
    args = request.args
    params: list[tuple[str, Any]] = []
    if args.get("resource_id") is not None:
        where.append(SandboxLineItem.resource_id == args["resource_id"])
        params.append(("resource_id", args["resource_id"]))
    rlid = args.get("resource_link_id") or (args.get("lti_link_id") if shape == "moodle" else None)
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
    sb = current_sandbox()
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
    sb = current_sandbox()
    platform, course = context(shape, slug, ctx)
    caller = caller_for(platform, course, [LINEITEM, LINEITEM_READ])
    item = item_row_for(course, caller, item_id, shape, 412 if shape == "canvas" else 404)
    urls = Urls(sb, platform, course, caller.tool)
    return json_response(line_item_json(urls, item, item.link_lti_id), LINEITEM_TYPE)


def update_item(shape: str, slug: str, ctx: Any, item_id: int) -> Response:
    sb = current_sandbox()
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
    sb = current_sandbox()
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


add_rules(
    bp,
    [
        ("canvas", CANVAS_ITEMS, "canvas_line_items", bind("canvas", list_items), ["GET"]),
        ("canvas", CANVAS_ITEMS, "canvas_line_item_create", bind("canvas", create_item), ["POST"]),
        ("canvas", CANVAS_ITEM, "canvas_line_item", bind("canvas", show_item), ["GET"]),
        ("canvas", CANVAS_ITEM, "canvas_line_item_update", bind("canvas", update_item), ["PUT"]),
        ("canvas", CANVAS_ITEM, "canvas_line_item_delete", bind("canvas", delete_item), ["DELETE"]),
        ("moodle", MOODLE_ITEMS, "moodle_line_items", bind("moodle", list_items), ["GET"]),
        ("moodle", MOODLE_ITEMS, "moodle_line_item_create", bind("moodle", create_item), ["POST"]),
        ("moodle", MOODLE_ITEM, "moodle_line_item", bind("moodle", show_item), ["GET"]),
        ("moodle", MOODLE_ITEM, "moodle_line_item_update", bind("moodle", update_item), ["PUT"]),
        ("moodle", MOODLE_ITEM, "moodle_line_item_delete", bind("moodle", delete_item), ["DELETE"]),
    ],
)
