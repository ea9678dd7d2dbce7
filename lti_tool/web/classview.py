"""The class view for teachers: who has mastered what, who is stuck, overrides, passback."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from lti_tool.grading.outbox import post_now as queue_now
from lti_tool.grading.outbox import retry_failed
from lti_tool.grading.status import waiting as passback_waiting
from lti_tool.ids import row_id
from lti_tool.lti.roles import STUDENT, TEACHER
from lti_tool.models.course import Membership, User
from lti_tool.models.mastery import AuditEntry, Override
from lti_tool.services import sync_outcome
from lti_tool.services.class_view import (
    NO_SCORE,
    SORTS,
    Query,
    Scope,
    class_summary,
    course_levels,
    grid_rows,
    student_page,
)
from lti_tool.services.goals import GoalError, add_goal_from_form, goal_levels
from lti_tool.services.grade_problems import course_problems
from lti_tool.services.lms_gating import counting_columns
from lti_tool.services.overrides import KINDS, OverrideError, clear_override, set_override
from lti_tool.services.ratings import RatingRefused, rate
from lti_tool.services.recompute import recompute_course
from lti_tool.services.student_view import student_view
from lti_tool.web.binding import requires
from lti_tool.web.context import after_this_request_commit, request_db, request_store, runtime

bp = Blueprint("classview", __name__)


def _drain_after_commit() -> None:
    """Changed scores go to the gradebook once this request's transaction is committed."""
    rt = runtime()
    context_id = g.context.id
    after_this_request_commit(lambda: rt.jobs.enqueue("drain", context_id))


FILTER_KEYS = ("q", "stuck", "days", "inactive", "sort", "c", "level", "page")


def _number(raw: str | None, default: int, low: int, high: int) -> int:
    raw = raw or ""
    return max(low, min(high, int(raw))) if raw.isascii() and raw.isdigit() else default


def _filters(args) -> tuple[Scope, Query]:
    """The page's filters from the query string (or the quick-ratings form), bounded."""
    scope = Scope(
        g.context.id,
        show_inactive=args.get("inactive") == "1",
        stuck_days=_number(args.get("days"), 7, 1, 365),
    )
    sort = args.get("sort", "name")
    query = Query(
        search=(args.get("q") or "").strip()[:100],
        only_stuck=args.get("stuck") == "1",
        sort=sort if sort in SORTS else "name",
        competency_id=row_id(args.get("c") or ""),
        level=(args.get("level") or "")[:100],
        page=_number(args.get("page"), 1, 1, 1_000_000),
    )
    return scope, query


class _Links:
    """Links to this page with the current filters and some changed, built without url_for
    (a few hundred links on one page: the summary's counts, sort headers, pages)."""

    def __init__(self, base: str, kept: dict[str, str]) -> None:
        self.base = base
        self.kept = kept

    def __call__(self, **changes: object) -> str:
        args = {**self.kept, **{k: str(v) for k, v in changes.items()}}
        return self.base + ("?" + urlencode(args) if args else "")


def _kept(args) -> dict[str, str]:
    """The filters a link or a form keeps (page aside), without empty ones, each cut to the
    length the page reads (a redirect echoing a 100 KB field would break the Location header)."""
    return {k: args[k][:100] for k in FILTER_KEYS if k != "page" and args.get(k)}


@bp.get("/c/<launch_id>/class")
@requires(TEACHER)
def index(launch_id: str) -> str:
    db = request_db()
    scope, query = _filters(request.args)
    left = scope.left_out(db)
    stuck = scope.stuck_students(db, left)
    summary = class_summary(db, scope, stuck, left)
    students = student_page(db, scope, query, stuck)
    kept = _kept(request.args)
    return render_template(
        "teacher/class.html",
        context=g.context,
        summary=summary,
        students=students,
        scope=scope,
        query=query,
        kept=kept,
        here=_Links(url_for("classview.index", launch_id=launch_id), kept),
        student_url=url_for("classview.student", launch_id=launch_id, user_id=0)[:-1],
        no_score=NO_SCORE,
        launch_id=launch_id,
        notice=request.args.get("notice", ""),
        problem=request.args.get("problem", ""),
        last_sync=sync_outcome.last(request_store(), g.context.id),
        levels=_level_names(),
        grade_problems=course_problems(db, g.context.id),
        waiting=passback_waiting(db, g.context.id),
        counting=counting_columns(db, g.context),
    )


@bp.get("/c/<launch_id>/class.csv")
@requires(TEACHER)
def export(launch_id: str) -> Response:
    """The class as a spreadsheet: one row a student, score and level per competency."""
    scope, query = _filters(request.args)
    out = io.StringIO()
    writer = csv.writer(out)
    for line in grid_rows(request_db(), scope, query):
        writer.writerow([_safe_cell(v) for v in line])
    name = "".join(ch if ch.isalnum() else "-" for ch in g.context.title or "class")[:60]
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-mastery.csv"'},
    )


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP's CSV injection list


def _safe_cell(value: object) -> object:
    """No formula injection: any text cell starting a formula opens as text in a spreadsheet."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _student(user_id: int) -> User:
    db = request_db()
    user = db.get(User, user_id)
    role = db.scalar(
        select(Membership.role).where(
            Membership.context_id == g.context.id, Membership.user_id == user_id
        )
    )
    if user is None or role != STUDENT:
        abort(404)
    return user


def _level_names() -> list[str]:
    """Every level of the course's scale, highest first: what a rating picks from."""
    levels = course_levels(request_db(), g.context.id)
    return [lv["name"] for lv in sorted(levels, key=lambda lv: -lv["points"])]


def _student_page(launch_id: str, user: User, problem: str = "", status: int = 200):
    db = request_db()
    view = student_view(db, g.context.id, user.id, name=user.name or "")
    audit = list(
        db.scalars(
            select(AuditEntry)
            .where(AuditEntry.context_id == g.context.id, AuditEntry.user_id == user.id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(200)
        )
    )
    overrides = {
        o.module_id: o
        for o in db.scalars(
            select(Override).where(
                Override.context_id == g.context.id,
                Override.user_id == user.id,
                Override.cleared_at.is_(None),
            )
        )
    }
    names = (
        dict(
            db.execute(
                select(User.id, User.name).where(User.registration_id == user.registration_id)
            ).all()
        )
        if audit
        else {}
    )
    page = render_template(
        "teacher/student.html",
        context=g.context,
        student=user,
        view=view,
        audit=audit,
        names=names,
        overrides=overrides,
        kinds=KINDS,
        launch_id=launch_id,
        levels=_level_names(),
        goal_levels=goal_levels(db, g.context.id),
        notice=request.args.get("notice", ""),
        problem=problem,
        form=request.form if problem else {},
    )
    return page, status


@bp.get("/c/<launch_id>/class/students/<int:user_id>")
@requires(TEACHER)
def student(launch_id: str, user_id: int):
    return _student_page(launch_id, _student(user_id))


def _back(launch_id: str, user_id: int, notice: str) -> Response:
    return redirect(
        url_for("classview.student", launch_id=launch_id, user_id=user_id, notice=notice)
    )


@bp.post("/c/<launch_id>/class/students/<int:user_id>/override")
@requires(TEACHER)
def override(launch_id: str, user_id: int):
    user = _student(user_id)
    db = request_db()
    module_id = request.form.get("module_id", "")
    try:
        result = set_override(
            db,
            g.context.id,
            user.id,
            row_id(module_id) or -1,
            request.form.get("kind", ""),
            request.form.get("reason", ""),
            g.user.id,
        )
    except OverrideError as exc:
        return _student_page(launch_id, user, str(exc), 400)
    if result.scores_queued:
        _drain_after_commit()
    kind = KINDS[request.form["kind"]]
    return _back(launch_id, user.id, f"{kind} saved, with its reason, in the audit trail.")


@bp.post("/c/<launch_id>/class/students/<int:user_id>/override/<int:module_id>/clear")
@requires(TEACHER)
def clear(launch_id: str, user_id: int, module_id: int):
    user = _student(user_id)
    db = request_db()
    try:
        result = clear_override(db, g.context.id, user.id, module_id, g.user.id)
    except OverrideError as exc:
        return _student_page(launch_id, user, str(exc), 400)
    if result.scores_queued:
        _drain_after_commit()
    return _back(launch_id, user.id, "Override cleared: the module follows its rule again.")


@bp.post("/c/<launch_id>/class/students/<int:user_id>/rating")
@requires(TEACHER)
def rating(launch_id: str, user_id: int):
    user = _student(user_id)
    form = request.form
    try:
        _, result = rate(
            request_db(),
            g.context.id,
            row_id(form.get("competency_id", "")),
            {user.id: form.get("level", "")},
            form.get("note", ""),
            g.user.id,
        )
    except RatingRefused as exc:
        return _student_page(launch_id, user, str(exc), 400)
    if result.scores_queued:
        _drain_after_commit()
    return _back(launch_id, user.id, "Rating saved.")


@bp.post("/c/<launch_id>/class/ratings")
@requires(TEACHER)
def quick_ratings(launch_id: str) -> Response:
    """The quick grid: one competency, a level for any number of students, one save."""
    levels = {
        user_id: level
        for key, level in request.form.items()
        if level and key.startswith("level_") and (user_id := row_id(key.removeprefix("level_")))
    }
    try:
        saved, result = rate(
            request_db(),
            g.context.id,
            row_id(request.form.get("competency_id", "")),
            levels,
            request.form.get("note", ""),
            g.user.id,
            grid=True,
        )
    except RatingRefused as exc:
        return redirect(
            url_for(
                "classview.index", launch_id=launch_id, problem=str(exc)[:500], **_back_to_page()
            )
        )
    if result.scores_queued:
        _drain_after_commit()
    return redirect(
        url_for(
            "classview.index",
            launch_id=launch_id,
            notice=f"{saved} {'rating' if saved == 1 else 'ratings'} saved.",
            **_back_to_page(),
        )
    )


def _back_to_page() -> dict[str, str]:
    """The page and filters the quick grid was saved from: the teacher lands back there."""
    kept = _kept(request.form)
    if request.form.get("page"):
        kept["page"] = str(_number(request.form.get("page"), 1, 1, 1_000_000))
    return kept


@bp.post("/c/<launch_id>/class/students/<int:user_id>/goal")
@requires(TEACHER)
def suggest_goal(launch_id: str, user_id: int):
    """A goal the teacher suggests: the student sees it on their profile, marked as such."""
    user = _student(user_id)
    try:
        add_goal_from_form(request_db(), g.context.id, user.id, g.user.id, request.form)
    except GoalError as exc:
        return _student_page(launch_id, user, str(exc), 400)
    return _back(launch_id, user.id, "Goal suggested: the student sees it on their profile.")


@bp.post("/c/<launch_id>/class/recompute")
@requires(TEACHER)
def recompute(launch_id: str) -> Response:
    result = recompute_course(
        request_db(), g.context.id, {"recompute": {"by": g.user.id, "from": "class view"}}
    )
    if result.scores_queued:
        _drain_after_commit()
    notice = (
        f"Recomputed: {result.mastery_changed} mastery and {result.unlocks_changed} unlock "
        f"changes, {result.scores_queued} scores queued for the gradebook."
    )
    return redirect(url_for("classview.index", launch_id=launch_id, notice=notice))


@bp.post("/c/<launch_id>/class/sync")
@requires(TEACHER)
def sync_now(launch_id: str) -> Response:
    """Roster and grades from the LMS now, read by a job; the page shows what it came to."""
    rt = runtime()
    context_id = g.context.id
    sync_outcome.started(request_store(), context_id)
    after_this_request_commit(lambda: rt.jobs.enqueue("sync_now", context_id))
    return redirect(url_for("classview.index", launch_id=launch_id))


@bp.post("/c/<launch_id>/class/passback/retry")
@requires(TEACHER)
def retry(launch_id: str) -> Response:
    raw = request.form.get("row_id", "")
    rows = [rid] if (rid := row_id(raw)) else None
    count = retry_failed(request_db(), g.context.id, rows)
    if count:
        _drain_after_commit()
    notice = f"{count} {'score' if count == 1 else 'scores'} sent again to the gradebook."
    return redirect(url_for("classview.index", launch_id=launch_id, notice=notice))


@bp.post("/c/<launch_id>/class/passback/post-now")
@requires(TEACHER)
def post_now(launch_id: str) -> Response:
    """Waiting scores go to the gradebook now, whatever their back-off said."""
    count = queue_now(request_db(), g.context.id)
    if count:
        _drain_after_commit()
    notice = (
        f"{count} waiting {'score is' if count == 1 else 'scores are'} being posted now."
        if count
        else "No score is waiting."
    )
    return redirect(url_for("classview.index", launch_id=launch_id, notice=notice))
