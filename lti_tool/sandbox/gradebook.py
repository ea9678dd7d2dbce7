"""The sandbox course's gradebook: every column (line item) of the course against every
active student, with the current grades. The demo teacher types grades into it; a typed
grade becomes the student's result with the current time as its timestamp, as a grade
edited by hand in Canvas or Moodle does (so older tool scores are then refused), and the
tool reads it back through AGS results. In the Canvas shape a column may be posted manually:
its grades count for the course's own modules only once the teacher posts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import Blueprint, abort, make_response, redirect, render_template, request, url_for
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from lti_tool.models.types import utcnow
from lti_tool.sandbox.csrf import form_refused
from lti_tool.sandbox.models import (
    SandboxCourse,
    SandboxEnrollment,
    SandboxLineItem,
    SandboxResult,
    SandboxUser,
)
from lti_tool.sandbox.services import current_sandbox

PAGE = 100


@dataclass(frozen=True)
class Column:
    id: int
    label: str
    score_maximum: float
    tool_id: int | None
    post_manually: bool = False
    # Grades not posted yet (a manually posted column only).
    hidden: int = 0


@dataclass
class Row:
    user_id: int
    name: str
    lti_sub: str
    # line item id -> the grade shown, in points of that column (None: no grade)
    grades: dict[int, float | None] = field(default_factory=dict)


@dataclass
class Gradebook:
    columns: list[Column]
    rows: list[Row]
    students: int


def shown_grade(result: SandboxResult, column_max: float) -> float | None:
    """The grade in points of the column, as the LMS's gradebook shows it."""
    if result.score_given is None:
        return None
    if not result.score_maximum:
        return result.score_given
    return round(result.score_given * column_max / result.score_maximum, 5)


def gradebook(
    session: Session, course_id: int, offset: int = 0, limit: int | None = None
) -> Gradebook:
    """The course's gradebook (active students by name, columns by creation)."""
    hidden = hidden_grades(session, course_id)
    columns = [
        Column(i.id, i.label, i.score_maximum, i.tool_id, i.post_manually, hidden.get(i.id, 0))
        for i in session.scalars(
            select(SandboxLineItem)
            .where(SandboxLineItem.course_id == course_id)
            .order_by(SandboxLineItem.id)
        )
    ]
    students = (
        select(SandboxUser)
        .join(SandboxEnrollment, SandboxEnrollment.user_id == SandboxUser.id)
        .where(
            SandboxEnrollment.course_id == course_id,
            SandboxEnrollment.role == "student",
            SandboxEnrollment.status == "Active",
        )
    )
    count = session.scalar(select(func.count()).select_from(students.subquery())) or 0
    students = students.order_by(SandboxUser.family_name, SandboxUser.given_name, SandboxUser.id)
    if limit is not None:
        students = students.offset(offset).limit(limit)
    rows = [Row(u.id, u.name, u.lti_sub) for u in session.scalars(students)]
    by_user = {r.user_id: r for r in rows}
    maxima = {c.id: c.score_maximum for c in columns}
    if rows and columns:
        results = session.scalars(
            select(SandboxResult).where(
                SandboxResult.line_item_id.in_(maxima), SandboxResult.user_id.in_(by_user)
            )
        )
        for r in results:
            by_user[r.user_id].grades[r.line_item_id] = shown_grade(r, maxima[r.line_item_id])
    return Gradebook(columns, rows, count)


def set_grade(
    session: Session,
    line_item_id: int,
    user_id: int,
    points: float | None,
    now: datetime | None = None,
) -> SandboxResult:
    """What the teacher typing a grade does: the result becomes `points` out of the column's
    maximum, stamped now. The caller commits."""
    item = session.get(SandboxLineItem, line_item_id)
    if item is None:
        raise ValueError(f"no line item {line_item_id}")
    now = now or utcnow()
    result = session.scalar(
        select(SandboxResult).where(
            SandboxResult.line_item_id == line_item_id, SandboxResult.user_id == user_id
        )
    )
    if result is None:
        result = SandboxResult(line_item_id=line_item_id, user_id=user_id, posts=0, comment="")
        session.add(result)
    result.score_given = points
    result.score_maximum = item.score_maximum
    result.activity_progress = "Completed"
    result.grading_progress = "FullyGraded"
    result.timestamp = now
    result.updated_at = now
    session.flush()
    return result


def hidden_grades(session: Session, course_id: int) -> dict[int, int]:
    """Per manually posted column, how many grades its students cannot see yet."""
    rows = session.execute(
        select(SandboxResult.line_item_id, func.count())
        .join(SandboxLineItem, SandboxLineItem.id == SandboxResult.line_item_id)
        .where(
            SandboxLineItem.course_id == course_id,
            SandboxLineItem.post_manually.is_(True),
            SandboxResult.score_given.is_not(None),
            SandboxResult.posted_at.is_(None),
        )
        .group_by(SandboxResult.line_item_id)
    )
    return {item_id: count for item_id, count in rows}


def set_post_policy(session: Session, item: SandboxLineItem, manually: bool) -> None:
    """Canvas' Grade Posting Policy of the column: automatically, or manually."""
    item.post_manually = manually
    session.flush()


def post_grades(session: Session, item: SandboxLineItem, now: datetime | None = None) -> int:
    """Canvas' "Post grades": every graded, unposted grade of the column becomes visible (and
    then counts for module requirements); how many."""
    done = session.execute(
        update(SandboxResult)
        .where(
            SandboxResult.line_item_id == item.id,
            SandboxResult.score_given.is_not(None),
            SandboxResult.posted_at.is_(None),
        )
        .values(posted_at=now or utcnow())
    )
    return int(getattr(done, "rowcount", 0) or 0)


bp = Blueprint("gradebook", __name__)


def course_of(slug: str, course_id: int) -> tuple[object, SandboxCourse]:
    sb = current_sandbox()
    platform = sb.platform(slug)
    course = sb.db().get(SandboxCourse, course_id)
    if course is None or course.platform_id != platform.id:
        abort(404)
    return platform, course


def teacher(course: SandboxCourse) -> SandboxUser | None:
    db = current_sandbox().db()
    return db.scalar(
        select(SandboxUser)
        .join(SandboxEnrollment, SandboxEnrollment.user_id == SandboxUser.id)
        .where(SandboxEnrollment.course_id == course.id, SandboxEnrollment.role == "teacher")
        .order_by(SandboxUser.id)
        .limit(1)
    )


@bp.get("/<slug>/courses/<int:course_id>/gradebook")
def gradebook_page(slug: str, course_id: int) -> str:
    platform, course = course_of(slug, course_id)
    sb = current_sandbox()
    page = max(request.args.get("page", 1, type=int), 1)
    book = gradebook(sb.db(), course.id, (page - 1) * PAGE, PAGE)
    pages = max((book.students + PAGE - 1) // PAGE, 1)
    return render_template(
        "sandbox/gradebook.html",
        platform=platform,
        course=course,
        book=book,
        page=page,
        pages=pages,
        teacher=teacher(course),
        saved=request.args.get("saved", type=int),
        errors=request.args.getlist("error"),
        posted=request.args.get("posted", type=int),
        policy=request.args.get("policy"),
    )


@bp.post("/<slug>/courses/<int:course_id>/gradebook")
def gradebook_save(slug: str, course_id: int) -> Response:
    _platform, course = course_of(slug, course_id)
    sb = current_sandbox()
    page = max(request.form.get("page", 1, type=int), 1)
    items = {
        i.id: i
        for i in sb.db().scalars(
            select(SandboxLineItem).where(SandboxLineItem.course_id == course.id)
        )
    }
    students = set(
        sb.db().scalars(
            select(SandboxEnrollment.user_id).where(
                SandboxEnrollment.course_id == course.id, SandboxEnrollment.role == "student"
            )
        )
    )
    saved, errors = 0, []
    for name, value in request.form.items():
        if not name.startswith("grade-"):
            continue
        try:
            item_id, user_id = (int(p) for p in name.removeprefix("grade-").split("-"))
        except ValueError:
            continue
        if item_id not in items or user_id not in students:
            continue
        before = request.form.get(f"was-{item_id}-{user_id}", "")
        value = value.strip()
        if value == before.strip():
            continue  # unchanged cell
        if value == "":
            points = None
        else:
            try:
                points = float(value)
            except ValueError:
                errors.append(f"{value!r} is not a number")
                continue
        set_grade(sb.db(), item_id, user_id, points)
        saved += 1
    return redirect(  # type: ignore[return-value]
        url_for(
            ".gradebook_page",
            slug=slug,
            course_id=course.id,
            page=page,
            saved=saved,
            error=errors,
        ),
        303,
    )


def canvas_column(slug: str, course_id: int, item_id: int) -> SandboxLineItem:
    """A column of a Canvas-shape course, for the posting forms (CSRF token checked)."""
    platform, course = course_of(slug, course_id)
    if getattr(platform, "shape", "") != "canvas":
        abort(404)
    problem = form_refused()
    if problem:
        abort(make_response((f"Not saved: {problem} Reload the gradebook and try again.", 400)))
    item = current_sandbox().db().get(SandboxLineItem, item_id)
    if item is None or item.course_id != course.id:
        abort(404)
    return item


@bp.post("/<slug>/courses/<int:course_id>/gradebook/columns/<int:item_id>/policy")
def gradebook_policy(slug: str, course_id: int, item_id: int) -> Response:
    item = canvas_column(slug, course_id, item_id)
    manually = request.form.get("post_manually") == "1"
    set_post_policy(current_sandbox().db(), item, manually)
    return redirect(  # type: ignore[return-value]
        url_for(
            ".gradebook_page",
            slug=slug,
            course_id=course_id,
            policy="manual" if manually else "automatic",
        ),
        303,
    )


@bp.post("/<slug>/courses/<int:course_id>/gradebook/columns/<int:item_id>/post")
def gradebook_post(slug: str, course_id: int, item_id: int) -> Response:
    item = canvas_column(slug, course_id, item_id)
    posted = post_grades(current_sandbox().db(), item)
    return redirect(  # type: ignore[return-value]
        url_for(".gradebook_page", slug=slug, course_id=course_id, posted=posted), 303
    )
