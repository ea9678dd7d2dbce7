"""The pages a launch lands on: students' path, teachers' course home, mentors' mentees."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from lti_tool.clients.errors import PlatformError
from lti_tool.clients.lti_services import caller_for
from lti_tool.lti.message import DEEP_LINKING_REQUEST
from lti_tool.lti.roles import MENTOR, STUDENT, TEACHER
from lti_tool.models.course import Membership, User
from lti_tool.models.modules import Module
from lti_tool.services import course_copy, module_content
from lti_tool.services.module_content import host_list
from lti_tool.services.roster import RosterUnavailable, sync_roster
from lti_tool.services.student_view import module_line
from lti_tool.web import sync_problems
from lti_tool.web.binding import ALL_ROLES, membership, requires
from lti_tool.web.context import request_db, runtime

bp = Blueprint("pages", __name__)


@bp.get("/c/<launch_id>/")
@requires(*ALL_ROLES)
def landing(launch_id: str) -> Response:
    binding = g.binding
    if binding.message_type == DEEP_LINKING_REQUEST and binding.role == TEACHER:
        return redirect(url_for("placement.picker", launch_id=launch_id))
    if binding.role == TEACHER and course_copy.should_offer(request_db(), g.context, g.user.id):
        return redirect(url_for("course_copy.offer", launch_id=launch_id))
    if binding.module_id is not None:
        return redirect(url_for("pages.module", launch_id=launch_id, module_id=binding.module_id))
    target = {TEACHER: "pages.teacher_home", STUDENT: "learner.path", MENTOR: "pages.mentees"}
    return redirect(url_for(target[binding.role], launch_id=launch_id))


def course_modules(context_id: int) -> list[Module]:
    return list(
        request_db().scalars(
            select(Module)
            .where(Module.context_id == context_id)
            .order_by(Module.position, Module.id)
        )
    )


@bp.get("/c/<launch_id>/modules/<int:module_id>")
@requires(*ALL_ROLES)
def module(launch_id: str, module_id: int) -> tuple[str, int]:
    """A module opened from the LMS: a student whose module is locked reads why, not the
    content (the link in the LMS is not the gate; this page is)."""
    db = request_db()
    found = db.get(Module, module_id)
    if found is None or found.context_id != g.context.id:
        abort(404)
    line = None
    if g.binding.role == STUDENT:
        line = module_line(db, g.context.id, g.user.id, found.id)
        if line is not None and (not line.is_open or line.options):
            # A locked module's reasons, or a choice's options with theirs: never just a title.
            page = render_template(
                "learner/locked.html", context=g.context, m=line, launch_id=launch_id
            )
            return page, 200  # a normal state of the page, not an error
    options = [
        o
        for o in (db.get(Module, int(i)) for i in found.choice_of or [])
        if o is not None and o.context_id == g.context.id
    ]
    # Content only to a student whose module is open, and to teachers: a mentor reads the
    # mentee's explanations on their path, never a module's content.
    content = _content(found) if g.binding.role in (STUDENT, TEACHER) else None
    page = render_template(
        "module.html",
        context=g.context,
        module=found,
        options=options,
        role=g.binding.role,
        launch_id=launch_id,
        content=content,
        preview=False,
        line=line,
    )
    return page, 200


def _content(m: Module) -> Markup:
    hosts = host_list(runtime().settings.video_hosts)
    top = {h for o in g.binding.frame_origins if (h := urlsplit(o).hostname)}
    return module_content.render(m.content or "", hosts, top)


@bp.get("/c/<launch_id>/modules/<int:module_id>/preview")
@requires(TEACHER)
def preview_module(launch_id: str, module_id: int) -> tuple[str, int]:
    """The module as a student reads it once it is open (teachers only)."""
    found = request_db().get(Module, module_id)
    if found is None or found.context_id != g.context.id:
        abort(404)
    page = render_template(
        "module.html",
        context=g.context,
        module=found,
        options=[],
        role=STUDENT,
        launch_id=launch_id,
        content=_content(found),
        preview=True,
    )
    return page, 200


@bp.get("/c/<launch_id>/home")
@requires(TEACHER)
def teacher_home(launch_id: str) -> str:
    db = request_db()
    counts = dict(
        db.execute(
            select(Membership.role, func.count())
            .where(Membership.context_id == g.context.id)
            .group_by(Membership.role)
        ).all()
    )
    return render_template(
        "teacher/home.html",
        context=g.context,
        user=g.user,
        counts=counts,
        modules=course_modules(g.context.id),
        synced=request.args.get("synced"),
        copied=request.args.get("copied", "")[:300],
        missing=request.args.get("missing", "")[:500],
        rules=request.args.get("rules", "")[:500],
        sync_error=sync_problems.message(request.args.get("sync_error")),
    )


@bp.post("/c/<launch_id>/roster/sync")
@requires(TEACHER)
def sync_roster_now(launch_id: str) -> Response:
    """The teacher's "Sync roster": runs now, so the page can say what changed."""
    rt = runtime()
    db = request_db()
    try:
        caller = caller_for(db, g.context, rt.platform_http, rt.tokens)
        result = sync_roster(db, caller, g.context, rt.settings.nrps_page_size)
    except (RosterUnavailable, PlatformError) as exc:
        db.rollback()
        current_app.logger.warning("roster sync of course %s failed: %s", g.context.id, exc)
        code = sync_problems.problem_code(exc)
        return redirect(url_for("pages.teacher_home", launch_id=launch_id, sync_error=code))
    return redirect(url_for("pages.teacher_home", launch_id=launch_id, synced=result.summary()))


@bp.get("/c/<launch_id>/mentees")
@requires(MENTOR)
def mentees(launch_id: str) -> str:
    db = request_db()
    own = membership(g.binding)
    subs = own.mentees if own else []
    known = []
    if subs:
        known = list(
            db.scalars(
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .where(
                    Membership.context_id == g.context.id,
                    User.registration_id == g.binding.registration_id,
                    User.sub.in_(subs),
                )
                .order_by(User.family_name, User.given_name)
            )
        )
    return render_template(
        "mentor/mentees.html", context=g.context, mentees=known, expected=len(subs)
    )
