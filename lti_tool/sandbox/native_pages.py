"""The pages of a sandbox course's own content: a Moodle activity and a Canvas module item. A
student who may not open one gets 403 with the LMS's own words, as a direct URL gets in the LMS;
staff always open it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from flask import Blueprint, abort, make_response, render_template

from lti_tool.sandbox import native
from lti_tool.sandbox.models import SandboxCourse, SandboxPlatform, SandboxUser
from lti_tool.sandbox.native_content import (
    STAFF,
    canvas_content,
    moodle_content,
    viewer_role,
)
from lti_tool.sandbox.pages import course_or_404, current_user, failure, platform_or_404
from lti_tool.sandbox.services import current_sandbox

bp = Blueprint("native", __name__)


def deny(status: int, message: str) -> NoReturn:
    abort(make_response(failure(status, message)))


def viewer(
    slug: str, course_id: int, shape: str
) -> tuple[SandboxPlatform, SandboxCourse, SandboxUser, str]:
    """(platform, course, user, role) of a content page; anyone else is refused."""
    platform = platform_or_404(slug)
    if platform.shape != shape:
        abort(404)
    course = course_or_404(platform, course_id)
    user = current_user(platform)
    if user is None:
        deny(401, "Log in to the sandbox platform first (view the course as someone).")
    role = viewer_role(current_sandbox().db(), course.id, user.id)
    if role not in (*STAFF, "student"):
        deny(403, "Only the course's teachers and students open its content.")
    assert role is not None
    return platform, course, user, role


def refused(
    platform: SandboxPlatform,
    course: SandboxCourse,
    user: SandboxUser,
    title: str,
    unless: Sequence[str] = (),
    lines: Sequence[str] = (),
) -> tuple[str, int]:
    """403 with the LMS's words: Moodle's unmet conditions, or Canvas' lock explanation."""
    page = render_template(
        "sandbox/native_refused.html",
        platform=platform,
        course=course,
        user=user,
        title=title,
        unless=list(unless),
        lines=list(lines),
        modules_link=platform.shape == "canvas",
    )
    return page, 403


@bp.get("/<slug>/courses/<int:course_id>/activities/<int:activity_id>")
def activity_page(slug: str, course_id: int, activity_id: int) -> Any:
    """Moodle's mod/page/view.php or mod/quiz/view.php: refused while restricted, with the
    activity's name and "Not available unless: …", or only "currently hidden" when hidden."""
    platform, course, user, role = viewer(slug, course_id, "moodle")
    student = user.id if role == "student" else None
    views = moodle_content(current_sandbox().db(), course.id, student)
    activity = next((a for a in views if a.id == activity_id), None)
    if activity is None:
        abort(404)
    availability = activity.availability
    if not availability.visible:
        return refused(platform, course, user, "", lines=[native.CURRENTLY_HIDDEN])
    if not availability.available:
        return refused(platform, course, user, activity.title, unless=availability.reasons)
    return render_template(
        "sandbox/native_page.html",
        platform=platform,
        course=course,
        user=user,
        kind=activity.kind_name,
        title=activity.title,
        body=activity.body,
        column=None,
    )


@bp.get("/<slug>/courses/<int:course_id>/modules/items/<int:item_id>")
def module_item_page(slug: str, course_id: int, item_id: int) -> Any:
    """Canvas' page, quiz or assignment: refused while its module is locked for the student,
    with Canvas' lock explanation."""
    platform, course, user, role = viewer(slug, course_id, "canvas")
    student = user.id if role == "student" else None
    modules = canvas_content(current_sandbox().db(), course.id, student)
    found = next(((m, i) for m in modules for i in m.items if i.id == item_id), None)
    if found is None or found[1].gone:
        abort(404)
    module, item = found
    if module.progression is not None and module.progression.locked:
        kind = "assignment" if item.kind == "column" else item.kind
        explanation = native.lock_explanation(kind, module.name)
        return refused(platform, course, user, item.title, lines=[explanation])
    return render_template(
        "sandbox/native_page.html",
        platform=platform,
        course=course,
        user=user,
        kind=item.kind_name,
        title=item.title,
        body=item.body,
        column=item if item.kind == "column" else None,
    )
