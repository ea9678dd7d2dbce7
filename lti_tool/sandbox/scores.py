"""AGS results and scores in both shapes: reading a column's results (paged as each platform
pages them) and posting a score, checked as Canvas and Moodle check it (see ags.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from flask import Blueprint, request
from sqlalchemy import bindparam
from werkzeug.wrappers import Response

from lti_tool.models.types import utcnow
from lti_tool.sandbox.ags import (
    ACTIVITY,
    CANVAS_DEFAULT_PAGE,
    CANVAS_MAX_PAGE,
    GRADING,
    INSERT_RESULT,
    INSERT_RESULT_UNSYNCED,
    RESULT_BY_ID,
    RESULTS,
    RESULTS_TYPE,
    SCORE_STATE,
    SCORE_TYPE,
    UPDATE_RESULT,
    UPDATE_RESULT_UNSYNCED,
    Urls,
    counted,
    is_number,
    moodle_links,
    parse_timestamp,
    result_json,
)
from lti_tool.sandbox.ags_access import (
    CANVAS_ITEM,
    MOODLE_ITEM,
    add_rules,
    bind,
    caller_for,
    check_item,
    context,
    find_user,
    item_row_for,
)
from lti_tool.sandbox.fault_endpoints import inject_fault
from lti_tool.sandbox.nrps import canvas_links
from lti_tool.sandbox.services import (
    RESULT_READ,
    SCORE,
    Caller,
    CourseRow,
    DriverSql,
    PlatformRow,
    ServiceError,
    current_sandbox,
    json_response,
    read_json_body,
)

bp = Blueprint("scores", __name__)

bp.before_request(inject_fault)


def results(shape: str, slug: str, ctx: Any, item_id: int) -> Response:
    sb = current_sandbox()
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
    sb = current_sandbox()
    platform, course = context("canvas", slug, course_id)
    caller = caller_for(platform, course, [RESULT_READ])
    item = item_row_for(course, caller, item_id, "canvas", 404)
    result = sb.conn().execute(RESULT_BY_ID, {"result": result_id}).one_or_none()
    if result is None or result.line_item_id != item.id:
        raise ServiceError(404, "The specified resource does not exist.")
    urls = Urls(sb, platform, course, caller.tool)
    return json_response(result_json(urls, item, result, result), RESULTS_TYPE)


class ScoreState(NamedTuple):
    """SCORE_STATE's row read through psycopg (`read_state`)."""

    course_id: int
    tool_id: int | None
    role: str | None
    status: str | None
    result_id: int | None
    timestamp: datetime | None
    posts: int | None


def read_state(row: tuple[Any, ...] | None) -> ScoreState | None:
    """The row psycopg returned, its timestamp made UTC as UTCDateTime does."""
    if row is None:
        return None
    stamp = row[5]
    return ScoreState(*row[:5], None if stamp is None else stamp.astimezone(UTC), row[6])


# On PostgreSQL in autocommit (Sandbox.autocommit), the three statements run on psycopg's own
# connection, compiled once (DriverSql).
_WRITTEN = (
    "score_given",
    "score_maximum",
    "comment",
    "activity_progress",
    "grading_progress",
    "timestamp",
    "posts",
    "updated_at",
)
_DRIVER_STATE = DriverSql.of(SCORE_STATE)
_DRIVER_INSERT = DriverSql.of(
    INSERT_RESULT_UNSYNCED.values({k: bindparam(k) for k in ("line_item_id", "user_id", *_WRITTEN)})
)
_DRIVER_UPDATE = DriverSql.of(UPDATE_RESULT_UNSYNCED.values({k: bindparam(k) for k in _WRITTEN}))


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
    sb = current_sandbox()
    try:
        body, refused = read_json_body(), None
    except ServiceError as err:
        body, refused = None, err
    user = find_user(platform, body.get("userId")) if isinstance(body, dict) else None
    params = {"item": item_id, "course": course.id, "user": user[0] if user else -1}
    driver = sb.driver()
    if driver is None:
        state = sb.conn().execute(SCORE_STATE, params).one_or_none()
    else:
        state = read_state(_DRIVER_STATE.run(driver, params))
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
    sb = current_sandbox()
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
    driver = sb.driver()
    if driver is not None:
        if state.result_id is None:
            row = _DRIVER_INSERT.run(
                driver, {"line_item_id": item_id, "user_id": user_id, **values}
            )
            return int(row[0])
        _DRIVER_UPDATE.run(driver, {"result_id": state.result_id, **values})
        return int(state.result_id)
    conn = sb.conn()  # SQLite: the request's transaction
    if state.result_id is None:
        return int(
            conn.execute(
                INSERT_RESULT, {"line_item_id": item_id, "user_id": user_id, **values}
            ).scalar_one()
        )
    conn.execute(UPDATE_RESULT, {"result_id": state.result_id, **values})
    return int(state.result_id)


def canvas_score(slug: str, course_id: int, item_id: int) -> Response:
    sb = current_sandbox()
    sb.autocommit()
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
        raise ServiceError(400, f"Provided timestamp of {body['timestamp']} not a valid timestamp")
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
    return json_response({"resultUrl": f"{urls.item(item_id, '/results')}/{result_id}"}, SCORE_TYPE)


def moodle_score(slug: str, ctx: str, item_id: int) -> Response:
    current_sandbox().autocommit()
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


add_rules(
    bp,
    [
        ("canvas", CANVAS_ITEM + "/results", "canvas_results", bind("canvas", results), ["GET"]),
        (
            "canvas",
            CANVAS_ITEM + "/results/<int:result_id>",
            "canvas_result",
            canvas_result,
            ["GET"],
        ),
        ("canvas", CANVAS_ITEM + "/scores", "canvas_scores", canvas_score, ["POST"]),
        ("moodle", MOODLE_ITEM + "/results", "moodle_results", bind("moodle", results), ["GET"]),
        ("moodle", MOODLE_ITEM + "/scores", "moodle_scores", moodle_score, ["POST"]),
    ],
)
