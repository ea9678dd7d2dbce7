"""Assignment and Grade Services 2.0 as each shape writes it: JSON, URLs, paging, statements
(the views are line_items.py and scores.py; what they share, ags_access.py).

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

from sqlalchemy import and_, bindparam, func, insert, select, update

from lti_tool.sandbox.models import (
    SandboxEnrollment,
    SandboxLineItem,
    SandboxLink,
    SandboxResult,
    SandboxUser,
)
from lti_tool.sandbox.services import (
    CourseRow,
    PlatformRow,
    Sandbox,
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
# On PostgreSQL a score post runs in autocommit (Sandbox.autocommit): its read, then its write
# committed by itself. The write also tells its transaction not to wait for the WAL to reach
# the disk (SET LOCAL synchronous_commit, as a function in RETURNING: no round trip of its
# own). A test platform's gradebook need not survive a power cut; the score is visible to
# every reader at once all the same, and the tool's own commits keep waiting for the disk.
_UNSYNCED = func.set_config("synchronous_commit", "off", True).label("unsynced")
INSERT_RESULT_UNSYNCED = insert(SandboxResult).returning(SandboxResult.id, _UNSYNCED)
UPDATE_RESULT_UNSYNCED = UPDATE_RESULT.returning(_UNSYNCED)
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
