"""The teacher's forms for a sandbox course's own content (Moodle: activities and "Restrict access
→ Grade"; Canvas: modules, items, "score at least N", prerequisites). Each needs the sandbox's
CSRF token and a teacher or TA of the course viewing it, then goes back to the course page with
what was saved or refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, abort, redirect, request, url_for
from werkzeug.wrappers import Response

from lti_tool.sandbox import native_setup as setup
from lti_tool.sandbox.csrf import form_refused
from lti_tool.sandbox.models import (
    SandboxActivity,
    SandboxCourse,
    SandboxGradeCondition,
    SandboxModule,
    SandboxModuleItem,
)
from lti_tool.sandbox.native_content import STAFF, viewer_role
from lti_tool.sandbox.native_pages import deny
from lti_tool.sandbox.pages import course_or_404, current_user, platform_or_404
from lti_tool.sandbox.services import current_sandbox

bp = Blueprint("native_forms", __name__)
T = TypeVar("T")
BASE = "/<slug>/courses/<int:course_id>/native"


@bp.before_request
def token_checked() -> None:
    problem = form_refused()
    if problem:
        deny(400, f"Not saved: {problem} Reload the course page and try again.")


def staff_course(slug: str, course_id: int, shape: str) -> SandboxCourse:
    platform = platform_or_404(slug)
    if platform.shape != shape:
        abort(404)
    course = course_or_404(platform, course_id)
    user = current_user(platform)
    if viewer_role(current_sandbox().db(), course.id, user.id if user else None) not in STAFF:
        deny(403, "Only the course's teachers change its content (view the course as one).")
    return course


def owned(kind: type[T], row_id: int, course: SandboxCourse, course_of: Callable[[T], int]) -> T:
    """The row, if it belongs to the course; else 404."""
    row = current_sandbox().db().get(kind, row_id)
    if row is None or course_of(row) != course.id:
        abort(404)
    return row


def activity_of(course: SandboxCourse, activity_id: int) -> SandboxActivity:
    return owned(SandboxActivity, activity_id, course, lambda a: a.course_id)


def module_of(course: SandboxCourse, module_id: int) -> SandboxModule:
    return owned(SandboxModule, module_id, course, lambda m: m.course_id)


def item_of(course: SandboxCourse, item_id: int) -> SandboxModuleItem:
    db = current_sandbox().db()

    def course_of(item: SandboxModuleItem) -> int:
        module = db.get(SandboxModule, item.module_id)
        return module.course_id if module else -1

    return owned(SandboxModuleItem, item_id, course, course_of)


def back(course: SandboxCourse, slug: str, change: Callable[[], object], saved: str) -> Response:
    """Make the change; back to the course page saying what was saved, or why not."""
    try:
        change()
    except setup.Refused as exc:
        current_sandbox().db().rollback()
        return go(slug, course, error=str(exc))
    return go(slug, course, saved=saved)


def go(slug: str, course: SandboxCourse, **message: str) -> Response:
    url = url_for("pages.course_page", slug=slug, course_id=course.id, **message)
    return redirect(url + "#course-content", 303)  # type: ignore[return-value]


def field(name: str) -> str:
    return request.form.get(name, "")


# -- Moodle ------------------------------------------------------------------------------------


@bp.post(f"{BASE}/activities")
def add_activity(slug: str, course_id: int) -> Response:
    course = staff_course(slug, course_id, "moodle")
    db = current_sandbox().db()
    return back(
        course,
        slug,
        lambda: setup.add_activity(db, course.id, field("kind"), field("title"), field("body")),
        "Activity added.",
    )


@bp.post(f"{BASE}/activities/<int:activity_id>/remove")
def remove_activity(slug: str, course_id: int, activity_id: int) -> Response:
    course = staff_course(slug, course_id, "moodle")
    activity = activity_of(course, activity_id)
    return back(course, slug, lambda: current_sandbox().db().delete(activity), "Activity deleted.")


@bp.post(f"{BASE}/activities/<int:activity_id>/conditions")
def add_condition(slug: str, course_id: int, activity_id: int) -> Response:
    course = staff_course(slug, course_id, "moodle")
    activity = activity_of(course, activity_id)
    return back(
        course,
        slug,
        lambda: setup.add_grade_condition(
            current_sandbox().db(),
            activity,
            field("line_item_id"),
            field("resource_id"),
            field("min_percent"),
            field("max_percent"),
            hidden=field("hidden") == "1",
        ),
        "Restriction added.",
    )


@bp.post(f"{BASE}/conditions/<int:condition_id>/remove")
def remove_condition(slug: str, course_id: int, condition_id: int) -> Response:
    course = staff_course(slug, course_id, "moodle")
    db = current_sandbox().db()

    def course_of(c: SandboxGradeCondition) -> int:
        activity = db.get(SandboxActivity, c.activity_id)
        return activity.course_id if activity else -1

    condition = owned(SandboxGradeCondition, condition_id, course, course_of)
    return back(course, slug, lambda: db.delete(condition), "Restriction deleted.")


# -- Canvas ------------------------------------------------------------------------------------


@bp.post(f"{BASE}/modules")
def add_module(slug: str, course_id: int) -> Response:
    course = staff_course(slug, course_id, "canvas")
    db = current_sandbox().db()
    return back(
        course, slug, lambda: setup.add_module(db, course.id, field("name")), "Module added."
    )


@bp.post(f"{BASE}/modules/<int:module_id>/remove")
def remove_module(slug: str, course_id: int, module_id: int) -> Response:
    course = staff_course(slug, course_id, "canvas")
    module = module_of(course, module_id)
    db = current_sandbox().db()
    return back(course, slug, lambda: setup.remove_module(db, module), "Module deleted.")


@bp.post(f"{BASE}/modules/<int:module_id>/items")
def add_item(slug: str, course_id: int, module_id: int) -> Response:
    course = staff_course(slug, course_id, "canvas")
    module = module_of(course, module_id)
    return back(
        course,
        slug,
        lambda: setup.add_item(
            current_sandbox().db(),
            module,
            field("kind"),
            field("title"),
            field("body"),
            field("line_item_id"),
            field("resource_id"),
        ),
        "Item added.",
    )


@bp.post(f"{BASE}/items/<int:item_id>/remove")
def remove_item(slug: str, course_id: int, item_id: int) -> Response:
    course = staff_course(slug, course_id, "canvas")
    item = item_of(course, item_id)
    return back(course, slug, lambda: current_sandbox().db().delete(item), "Item removed.")


@bp.post(f"{BASE}/items/<int:item_id>/requirement")
def set_requirement(slug: str, course_id: int, item_id: int) -> Response:
    course = staff_course(slug, course_id, "canvas")
    item = item_of(course, item_id)
    db = current_sandbox().db()
    return back(
        course,
        slug,
        lambda: setup.set_min_score(db, item, field("min_score")),
        "Requirement saved.",
    )


@bp.post(f"{BASE}/modules/<int:module_id>/prerequisites")
def add_prerequisite(slug: str, course_id: int, module_id: int) -> Response:
    course = staff_course(slug, course_id, "canvas")
    module = module_of(course, module_id)
    db = current_sandbox().db()
    return back(
        course,
        slug,
        lambda: setup.add_prerequisite(db, module, field("prerequisite_id")),
        "Prerequisite added.",
    )


@bp.post(f"{BASE}/modules/<int:module_id>/prerequisites/<int:prerequisite_id>/remove")
def remove_prerequisite(
    slug: str, course_id: int, module_id: int, prerequisite_id: int
) -> Response:
    course = staff_course(slug, course_id, "canvas")
    module = module_of(course, module_id)
    db = current_sandbox().db()
    return back(
        course,
        slug,
        lambda: setup.remove_prerequisite(db, module, prerequisite_id),
        "Prerequisite removed.",
    )
