"""Next term's first launch: the teacher copies an earlier course's setup, or starts empty.

Teachers only (a learner's binding gets 403), forms CSRF-protected like every other POST.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from lti_tool.clients import ags
from lti_tool.clients.errors import PlatformError
from lti_tool.clients.lti_services import caller_for
from lti_tool.lti.roles import TEACHER
from lti_tool.models.types import utcnow
from lti_tool.services import course_copy
from lti_tool.services.evidence import store_line_items
from lti_tool.web.binding import requires
from lti_tool.web.context import after_this_request_commit, request_db, runtime

bp = Blueprint("course_copy", __name__)


@bp.get("/c/<launch_id>/copy")
@requires(TEACHER)
def offer(launch_id: str) -> str:
    db = request_db()
    return render_template(
        "teacher/copy.html",
        context=g.context,
        offer=course_copy.offer(db, g.context, g.user.id),
        has_setup=course_copy.has_setup(db, g.context.id),
        history_named=bool(g.context.history),
    )


def _store_new_columns() -> None:
    """The new course's own columns, read before the copy maps alignments and rules onto
    them; without the grade service nothing is read and those are listed as not found."""
    rt = runtime()
    db = request_db()
    if not g.context.lineitems_url:
        return
    try:
        caller = caller_for(db, g.context, rt.platform_http, rt.tokens)
        items = list(ags.lineitems(caller, g.context.lineitems_url))
    except (PlatformError, LookupError) as exc:
        current_app.logger.warning("course %s: columns not read before copy: %s", g.context.id, exc)
        return
    store_line_items(db, g.context, items, utcnow())


@bp.post("/c/<launch_id>/copy")
@requires(TEACHER)
def copy(launch_id: str) -> Response | tuple[str, int]:
    db = request_db()
    wanted = request.form.get("source", type=int)
    sources = {c.id: c for c in course_copy.offer(db, g.context, g.user.id).sources()}
    source = sources.get(wanted or 0)
    if source is None:
        abort(404)  # not a course this teacher may copy from (or not one with a setup)
    _store_new_columns()
    try:
        result = course_copy.copy_setup(db, source, g.context)
    except course_copy.CopyRefused as exc:
        db.rollback()
        page = render_template("teacher/copy_refused.html", context=g.context, reason=str(exc))
        return page, 409
    rt = runtime()
    context_id = g.context.id
    # Roster, grades, unlocks and the adopted columns' scores, after this commit.
    after_this_request_commit(lambda: rt.jobs.enqueue("sync_course", context_id))
    current_app.logger.info(
        "course %s: setup copied from course %s (%s competencies, %s modules)",
        context_id,
        source.id,
        result.competencies,
        result.modules,
    )
    return redirect(
        url_for(
            "pages.teacher_home",
            launch_id=launch_id,
            copied=source.title or source.id_on_platform,
            missing=", ".join(result.missing_columns)[:500],
            rules=", ".join(result.rules_not_copied)[:500],
        ),
        code=303,
    )


@bp.post("/c/<launch_id>/copy/empty")
@requires(TEACHER)
def start_empty(launch_id: str) -> Response:
    course_copy.start_empty(g.context)
    return redirect(url_for("setup.index", launch_id=launch_id), code=303)
